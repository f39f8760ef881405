"""Events that need details from the learning system (Canvas, Moodle), kept in the database
until the details arrive, so nothing is lost while the LMS is down or the bot restarts.

`accept` stores an event (a duplicate by event id is a no-op) and the caller answers
202 at once; `work` asks the LMS for the details of every event due, applies each as an
enrollment, and puts an event whose LMS did not answer back with a growing back-off. It
runs right after an event is accepted (`kick`, in the background) and as a scheduler job
(`source_retry`), in any number of processes: events are leased before they are worked on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from bot.core.enrollment import Intake
from bot.core.lookup import LookupUnavailable
from bot.core.sources.apply import OnOutcome, apply_event
from bot.core.sources.event import SourceError, SourceEvent
from bot.core.sources.rest import LmsRefused, LmsUnavailable
from scheduler.planning import zone
from storage import crud
from storage.models import InboxEvent, InboxStatus

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 5
MAX_RETRY_SECONDS = 3600  # an LMS down for a day is asked once an hour
LEASE_SECONDS = 120  # longer than the slowest event: three calls of 20 s each
BATCH = 20
KEEP_DONE_DAYS = 30  # finished events are kept this long to recognise a late duplicate
MAX_ERROR = 500


class Details(Protocol):
    """A learning system's side: what a stored payload means, with the details it asked for."""

    source: str

    def key(self, payload: Mapping[str, Any]) -> tuple[str, str] | None:
        """(event id, enrollment key) of a payload, None when Coachbot ignores it; raises
        SourceError when it is malformed. Needs no details: the route answers with it."""
        ...

    def event(self, payload: Mapping[str, Any], *, today: date) -> SourceEvent | None:
        """The event, or None when Coachbot ignores it. Raises LmsUnavailable to be tried
        again, LmsRefused or SourceError when the answer will never do."""
        ...


@dataclass
class WorkReport:
    applied: int = 0
    refused: int = 0
    retried: int = 0


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempts + 1`: 5, 10, 20, … up to an hour; at least what the
    LMS asked for with Retry-After (within that hour)."""
    delay = float(min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)))
    if retry_after is not None:
        delay = max(delay, min(float(MAX_RETRY_SECONDS), retry_after))
    return delay


class Inbox:
    def __init__(
        self,
        intake: Intake,
        details: Mapping[str, Details],
        *,
        clock: Callable[[], datetime],
        on_outcome: OnOutcome,
        default_tz: str,
    ) -> None:
        self.intake = intake
        self.db = intake.db
        self.details = dict(details)
        self.clock = clock
        self.on_outcome = on_outcome
        self.zone = zone(None, default_tz)
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    # -- receiving -----------------------------------------------------------------------

    def accept(self, source: str, event_id: str, key: str, payload: Mapping[str, Any]) -> bool:
        """Keep an event until it is applied; False when it was received already.

        An event refused before (a learner nobody knew) that comes again is tried again:
        the directory may know them by now."""
        now = self.clock()
        with self.db.session() as session:
            found = crud.inbox_event(session, source=source, event_id=event_id)
            if found is not None and found.status == InboxStatus.REFUSED:
                found.status, found.attempts, found.next_attempt_at = InboxStatus.PENDING, 0, now
                found.lease_until, found.outcome, found.updated_at = None, None, now
                session.add(found)
                log.info("inbox.accepted_again source=%s event=%s", source, event_id)
                return True
            if found is not None:
                return False
        try:
            with self.db.session() as session:
                session.add(
                    InboxEvent(
                        source=source,
                        event_id=event_id,
                        key=key,
                        payload=json.dumps(payload, separators=(",", ":")),
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False  # the same event, delivered twice at once: the other one won
        log.info("inbox.accepted source=%s event=%s key=%s", source, event_id, key)
        return True

    def kick(self) -> None:
        """Work through what is due now in a background thread (one at a time: a kick
        while it runs makes it go round once more)."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._run_kicked, name="inbox", daemon=True).start()

    def _run_kicked(self) -> None:
        while True:
            try:
                self.work()
            except Exception:
                # The database went away: the scheduler job tries again; nothing is lost.
                log.warning("inbox.work_failed", exc_info=True)
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def idle(self) -> bool:
        with self._lock:
            return not self._running

    # -- working -------------------------------------------------------------------------

    def work(self) -> WorkReport:
        """Apply every event due now, batch after batch, and forget old finished ones."""
        report = WorkReport()
        while True:
            now = self.clock()
            with self.db.session() as session:
                rows = crud.claim_inbox_events(
                    session,
                    now=now,
                    lease_until=now + timedelta(seconds=LEASE_SECONDS),
                    limit=BATCH,
                )
            if not rows:
                break
            for row in rows:
                self._one(row, report)
        with self.db.session() as session:
            crud.prune_inbox(session, before=self.clock() - timedelta(days=KEEP_DONE_DAYS))
        if report.applied or report.refused or report.retried:
            log.info(
                "inbox.worked applied=%s refused=%s retried=%s",
                report.applied,
                report.refused,
                report.retried,
            )
        return report

    def _one(self, row: InboxEvent, report: WorkReport) -> None:
        details = self.details.get(row.source)
        if details is None:
            # Its source was switched off (CANVAS_URL unset) after it came: it waits.
            self._retry(row, f"{row.source} is not configured", None, report)
            return
        # "Today" is the day it came: a completion Canvas sent yesterday was yesterday's.
        received = row.created_at.astimezone(self.zone).date()
        try:
            event = details.event(json.loads(row.payload), today=received)
        except LmsUnavailable as exc:
            self._retry(row, str(exc), exc.retry_after, report)
            return
        except (LmsRefused, SourceError) as exc:
            self._finish(row, InboxStatus.REFUSED, str(exc))
            self.on_outcome(row.source, "refused")
            report.refused += 1
            return
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # An answer of a shape nobody foresaw: kept and retried, never dropped.
            log.exception("inbox.unreadable source=%s event=%s", row.source, row.event_id)
            self._retry(row, f"unreadable answer: {type(exc).__name__}", None, report)
            return
        if event is None:
            self._finish(row, InboxStatus.DONE, "ignored")
            return
        try:
            with self.db.session() as session:
                applied = apply_event(self.intake, session, event, self.on_outcome)
                status = InboxStatus.REFUSED if applied.outcome == "refused" else InboxStatus.DONE
                self._mark(session, row, status, applied.message or applied.outcome)
        except LookupUnavailable as exc:
            self._retry(row, f"Slack: {exc}", None, report)
            return
        except IntegrityError:
            self._retry(row, "a concurrent write of the same enrollment", 0.0, report)
            return
        if status == InboxStatus.REFUSED:
            report.refused += 1
        else:
            report.applied += 1

    def _retry(
        self, row: InboxEvent, error: str, retry_after: float | None, report: WorkReport
    ) -> None:
        now = self.clock()
        with self.db.session() as session:
            stored = session.get(InboxEvent, row.id)
            if stored is None or stored.status != InboxStatus.PENDING:
                return
            stored.attempts += 1
            delay = backoff(stored.attempts, retry_after)
            stored.next_attempt_at = now + timedelta(seconds=delay)
            stored.lease_until = None
            stored.last_error = error[:MAX_ERROR]
            stored.updated_at = now
            session.add(stored)
            attempts = stored.attempts
        report.retried += 1
        log.warning(
            "inbox.retry source=%s event=%s attempts=%s in_seconds=%s error=%s",
            row.source,
            row.event_id,
            attempts,
            int(delay),
            error,
        )

    def _finish(self, row: InboxEvent, status: InboxStatus, outcome: str) -> None:
        with self.db.session() as session:
            self._mark(session, row, status, outcome)
        if status == InboxStatus.REFUSED:
            log.warning(
                "inbox.refused source=%s event=%s reason=%s", row.source, row.event_id, outcome
            )

    def _mark(self, session: Any, row: InboxEvent, status: InboxStatus, outcome: str) -> None:
        stored = session.get(InboxEvent, row.id)
        if stored is None:
            return
        now = self.clock()
        stored.status = status
        stored.outcome = outcome[:MAX_ERROR]
        stored.lease_until = None
        stored.updated_at = stored.done_at = now
        session.add(stored)
