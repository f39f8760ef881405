"""The dispatcher: claims due nudge rows under a lease and hands each to a sender.

Rows, not jobs: any number of dispatchers can share one PostgreSQL database, because a row
is claimed with `FOR UPDATE SKIP LOCKED` (SQLite: inside one `BEGIN IMMEDIATE`), and a row
whose dispatcher died is claimed again once its lease expires. Within one process a backlog
is sent by a few threads at once, each with its own session: Slack's latency, not our CPU,
is what a sequential loop would wait on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.nudges import UNCERTAIN, is_uncertain, reminder_key
from scheduler.planning import Rules, in_window, next_window_start, reminder_slot, zone
from storage.db import Database, is_sqlite
from storage.models import (
    MANAGER_PROMPTS,
    Enrollment,
    EnrollmentStatus,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Person,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    channel: str
    ts: str


@dataclass(frozen=True)
class Deferred:
    """Not now: the recipient is away. Tried again at `due_at`."""

    due_at: datetime | None
    reason: str


@dataclass(frozen=True)
class Skipped:
    reason: str


@dataclass(frozen=True)
class Failed:
    """Slack refused for good (unknown user, deactivated account...): never retried."""

    reason: str


@dataclass(frozen=True)
class RetryLater:
    """A passing fault (rate limit, 5xx, time-out): tried again after a back-off.

    `uncertain` when the message may have reached Slack all the same (the answer was lost):
    the next attempt then looks for it before posting.
    """

    reason: str
    after_seconds: float = 0.0
    uncertain: bool = False


SendResult = Sent | Deferred | Skipped | Failed | RetryLater


class Sender:
    """What the dispatcher is handed: renders one nudge and sends it as one Slack DM.

    `maybe_sent` is true when an earlier attempt may have reached Slack before its process
    died; the sender then looks for the message before posting again.
    """

    def __call__(
        self, session: Session, nudge: Nudge, *, now: datetime, maybe_sent: bool
    ) -> SendResult:
        raise NotImplementedError


SenderFn = Callable[..., SendResult]


@dataclass
class TickReport:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    reclaimed: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)

    def count(self, nudge_id: int, outcome: str) -> None:
        with _COUNT_LOCK:  # the senders of one batch count from several threads
            self.outcomes[nudge_id] = outcome
            setattr(self, outcome, getattr(self, outcome) + 1)


_COUNT_LOCK = threading.Lock()


class Dispatcher:
    def __init__(
        self,
        db: Database,
        sender: SenderFn,
        *,
        rules: Rules,
        default_tz: str,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = 100,
        lease_seconds: int = 300,
        max_attempts: int = 6,
        owner: str = "",
        workers: int = 8,
    ) -> None:
        self.db = db
        self.sender = sender
        self.rules = rules
        self.default_tz = default_tz
        self.clock = clock
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.owner = owner
        # Threads sending one batch at once; a batch no bigger than this runs inline.
        self.workers = max(1, workers)
        self._lock = threading.Lock()

    # -- claiming ----------------------------------------------------------------------

    def claim(self, now: datetime, limit: int) -> list[tuple[int, bool]]:
        """Atomically lease up to `limit` due rows; returns (id, maybe_sent) pairs.

        `maybe_sent` is true for a row whose earlier lease expired: its dispatcher died
        somewhere between claiming and recording the outcome, perhaps after Slack posted.
        """
        table = Nudge.__table__  # type: ignore[attr-defined]
        expired = (
            sa.select(table.c.id)
            .where(table.c.status == NudgeStatus.SENDING.value, table.c.lease_until < now)
            .order_by(table.c.lease_until, table.c.id)
            .limit(limit)
        )
        with self.db.engine.connect() as conn:
            sqlite = is_sqlite(self.db.engine)
            if sqlite:
                # Takes the write lock at BEGIN, so two claims never read the same rows.
                conn.execution_options(sqlite_begin="IMMEDIATE")
            else:
                expired = expired.with_for_update(skip_locked=True)
            with conn.begin():
                reclaimed = list(conn.execute(expired).scalars())
                due = (
                    sa.select(table.c.id)
                    .where(table.c.status == NudgeStatus.PENDING.value, table.c.due_at <= now)
                    .order_by(table.c.due_at, table.c.id)
                    .limit(limit - len(reclaimed))
                )
                if not sqlite:
                    due = due.with_for_update(skip_locked=True)
                fresh = list(conn.execute(due).scalars()) if len(reclaimed) < limit else []
                ids = reclaimed + fresh
                if ids:
                    conn.execute(
                        table.update()
                        .where(table.c.id.in_(ids))
                        .values(
                            status=NudgeStatus.SENDING.value,
                            lease_until=now + self.lease,
                            attempts=table.c.attempts + 1,
                            updated_at=now,
                        )
                    )
        if reclaimed:
            log.warning("nudge.reclaimed count=%s owner=%s", len(reclaimed), self.owner)
        return [(i, True) for i in reclaimed] + [(i, False) for i in fresh]

    # -- one tick ----------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Send everything due now, batch after batch, then return what happened."""
        report = TickReport()
        if not self._lock.acquire(blocking=False):
            return report  # the previous tick of this process is still running
        try:
            seen: set[int] = set()
            while True:
                now = self.clock()
                claimed = self.claim(now, self.batch_size)
                if not claimed:
                    break
                report.claimed += len(claimed)
                report.reclaimed += sum(maybe_sent for _, maybe_sent in claimed)
                self._process_batch(claimed, report)
                # A row retried within this tick (a zero back-off on a frozen clock) would
                # otherwise be claimed again and again; it waits for the next tick instead.
                fresh = {i for i, _ in claimed} - seen
                seen.update(fresh)
                if len(claimed) < self.batch_size or not fresh:
                    break
        finally:
            self._lock.release()
        return report

    def _process_batch(self, claimed: list[tuple[int, bool]], report: TickReport) -> None:
        if self.workers == 1 or len(claimed) <= self.workers:
            for nudge_id, maybe_sent in claimed:
                self._process(nudge_id, maybe_sent, report)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="dispatch") as pool:
            futures = [pool.submit(self._process, i, m, report) for i, m in claimed]
            for future in futures:
                future.result()  # _process logs its own errors; this re-raises only a crash

    def _process(self, nudge_id: int, maybe_sent: bool, report: TickReport) -> None:
        if is_sqlite(self.db.engine):
            self._process_sqlite(nudge_id, maybe_sent, report)
            return
        now = self.clock()
        try:
            with self.db.session() as session:
                nudge = session.get(Nudge, nudge_id)
                if nudge is None or nudge.status != NudgeStatus.SENDING:
                    return
                if nudge.lease_until is not None and nudge.lease_until <= now:
                    # Too slow: another dispatcher may hold this row by now; leave it to them.
                    return
                maybe_sent = maybe_sent or is_uncertain(nudge.reason)
                outcome = self._precheck(session, nudge, now)
                asked_slack = outcome is None
                if outcome is None:
                    try:
                        outcome = self.sender(session, nudge, now=now, maybe_sent=maybe_sent)
                    except Exception as exc:  # a bug or an outage must not stop the batch
                        log.exception("nudge.send_error nudge=%s", nudge_id)
                        # Whether the post went out before the error is unknown.
                        outcome = RetryLater(type(exc).__name__, uncertain=True)
                # Held back before the sender could look: the doubt carries over.
                still_uncertain = maybe_sent and not asked_slack
                self._apply(session, nudge, outcome, now, report, still_uncertain)
        except Exception:
            # The row keeps its lease and is claimed again once it expires.
            log.exception("nudge.process_error nudge=%s", nudge_id)

    def _process_sqlite(self, nudge_id: int, maybe_sent: bool, report: TickReport) -> None:
        """The same steps, but Slack is asked outside any write transaction.

        SQLite has one writer at a time; a session that wrote while a DM was in flight would
        hold every other sender (and the webhook) for a whole Slack round trip. So the row is
        read and sent from a read-only snapshot, then the outcome is written in a short
        `BEGIN IMMEDIATE` transaction, after checking that the lease is still ours.
        """
        now = self.clock()
        try:
            with Session(self.db.engine, expire_on_commit=False) as read:
                read.connection(execution_options={"sqlite_begin": "DEFERRED"})
                with read.no_autoflush:
                    nudge = read.get(Nudge, nudge_id)
                    if nudge is None or not self._ours(nudge, now):
                        return
                    maybe_sent = maybe_sent or is_uncertain(nudge.reason)
                    outcome = self._precheck(read, nudge, now)
                    asked_slack = outcome is None
                    if outcome is None:
                        try:
                            outcome = self.sender(read, nudge, now=now, maybe_sent=maybe_sent)
                        except Exception as exc:  # a bug or an outage must not stop the batch
                            log.exception("nudge.send_error nudge=%s", nudge_id)
                            outcome = RetryLater(type(exc).__name__, uncertain=True)
                    # What the sender learned on the way (a fresh status) is kept too.
                    changes = _changes(read)
                read.rollback()
            with self.db.session() as session:
                nudge = session.get(Nudge, nudge_id)
                if nudge is None or not self._ours(nudge, now):
                    return
                for (cls, ident), values in changes.items():
                    row = session.get(cls, ident)
                    for name, value in values.items():
                        if row is not None:
                            setattr(row, name, value)
                still_uncertain = maybe_sent and not asked_slack
                self._apply(session, nudge, outcome, now, report, still_uncertain)
        except Exception:
            log.exception("nudge.process_error nudge=%s", nudge_id)

    @staticmethod
    def _ours(nudge: Nudge, now: datetime) -> bool:
        if nudge.status != NudgeStatus.SENDING:
            return False
        # Too slow: another dispatcher may hold this row by now; leave it to them.
        return nudge.lease_until is None or nudge.lease_until > now

    def _precheck(self, session: Session, nudge: Nudge, now: datetime) -> SendResult | None:
        enrollment = session.get(Enrollment, nudge.enrollment_id)
        recipient = session.get(Person, nudge.recipient_id)
        if enrollment is None or enrollment.status == EnrollmentStatus.CANCELLED:
            return Skipped("enrollment cancelled")
        if recipient is None or not recipient.active:
            return Skipped("recipient is deactivated in Slack")
        if not recipient.slack_id:
            return Skipped("recipient has no Slack account")
        if nudge.kind == NudgeKind.REMINDER:
            parent = session.get(Nudge, nudge.parent_id) if nudge.parent_id else None
            if parent is None or parent.status != NudgeStatus.SENT:
                return Skipped("the prompt was answered, snoozed or closed")
        tz = zone(recipient.tz, self.default_tz)
        if not in_window(now, tz, self.rules):
            # A retry or a slow batch must never reach someone outside their working hours.
            return Deferred(next_window_start(now, tz, self.rules), OUTSIDE_WINDOW)
        return None

    def _apply(
        self,
        session: Session,
        nudge: Nudge,
        outcome: SendResult,
        now: datetime,
        report: TickReport,
        uncertain: bool = False,
    ) -> None:
        nudge.updated_at = now
        nudge.lease_until = None
        assert nudge.id is not None
        if isinstance(outcome, Sent):
            nudge.status = NudgeStatus.SENT
            nudge.channel, nudge.ts = outcome.channel, outcome.ts
            nudge.sent_at = now
            nudge.deliveries += 1
            nudge.reason = None
            session.add(nudge)
            self._plan_reminder(session, nudge, now)
            report.count(nudge.id, "sent")
            log.info("nudge.sent nudge=%s kind=%s", nudge.id, nudge.kind)
        elif isinstance(outcome, Deferred):
            nudge.status = NudgeStatus.PENDING
            nudge.attempts = 0  # a new day, a new budget of attempts
            if outcome.reason != OUTSIDE_WINDOW:
                nudge.ooo_deferrals += 1
            nudge.reason = _reason(outcome.reason, uncertain)
            if outcome.due_at is None:
                nudge.status = NudgeStatus.SKIPPED
                report.count(nudge.id, "skipped")
            else:
                nudge.due_at = outcome.due_at
                report.count(nudge.id, "deferred")
            session.add(nudge)
            log.info("nudge.deferred nudge=%s reason=%s", nudge.id, outcome.reason)
        elif isinstance(outcome, Skipped):
            nudge.status, nudge.reason = NudgeStatus.SKIPPED, outcome.reason
            session.add(nudge)
            report.count(nudge.id, "skipped")
            log.info("nudge.skipped nudge=%s reason=%s", nudge.id, outcome.reason)
        elif isinstance(outcome, Failed):
            nudge.status, nudge.reason = NudgeStatus.FAILED, outcome.reason
            session.add(nudge)
            report.count(nudge.id, "failed")
            log.warning("nudge.failed nudge=%s reason=%s", nudge.id, outcome.reason)
        else:
            if nudge.attempts >= self.max_attempts:
                nudge.status = NudgeStatus.FAILED
                nudge.reason = f"gave up after {nudge.attempts} attempts: {outcome.reason}"
                report.count(nudge.id, "failed")
                log.warning("nudge.failed nudge=%s reason=%s", nudge.id, nudge.reason)
            else:
                backoff = min(30 * 2 ** (nudge.attempts - 1), 3600)
                nudge.status = NudgeStatus.PENDING
                nudge.due_at = now + timedelta(seconds=max(backoff, outcome.after_seconds))
                nudge.reason = _reason(outcome.reason, uncertain or outcome.uncertain)
                report.count(nudge.id, "retried")
                log.info("nudge.retry nudge=%s reason=%s", nudge.id, outcome.reason)
            session.add(nudge)

    def _plan_reminder(self, session: Session, nudge: Nudge, now: datetime) -> None:
        parent = nudge
        if nudge.kind == NudgeKind.REMINDER:
            parent = session.get(Nudge, nudge.parent_id)  # type: ignore[assignment]
        elif nudge.kind not in MANAGER_PROMPTS:
            return
        if parent is None:
            return
        reminders = session.exec(
            select(Nudge).where(Nudge.parent_id == parent.id, Nudge.kind == NudgeKind.REMINDER)
        ).all()
        # A snooze cancels the pending reminder; the prompt that comes back earns its own.
        counted = [r for r in reminders if r.status != NudgeStatus.CANCELLED]
        if len(counted) >= self.rules.max_reminders:
            return
        recipient = session.get(Person, nudge.recipient_id)
        enrollment = session.get(Enrollment, nudge.enrollment_id)
        if recipient is None or enrollment is None:
            return
        slot = reminder_slot(
            sent_at=now,
            tz=zone(recipient.tz, self.default_tz),
            rules=self.rules,
            starts_on=enrollment.starts_on if parent.kind == NudgeKind.PRE_TRAINING else None,
        )
        if slot.due_at is None:
            log.info("nudge.no_reminder nudge=%s reason=%s", parent.id, slot.skip_reason)
            return
        session.add(
            Nudge(
                enrollment_id=nudge.enrollment_id,
                kind=NudgeKind.REMINDER,
                recipient_id=nudge.recipient_id,
                parent_id=parent.id,
                due_at=slot.due_at,
                idempotency_key=reminder_key(parent, len(reminders) + 1),
            )
        )


OUTSIDE_WINDOW = "outside the delivery window"


def _changes(session: Session) -> dict[tuple[type, Any], dict[str, Any]]:
    """The attribute changes of a session's dirty objects, to be written by another session."""
    found: dict[tuple[type, Any], dict[str, Any]] = {}
    for obj in session.dirty:
        state = sa.inspect(obj)
        if state.identity is None:
            continue
        values = {attr.key: attr.value for attr in state.attrs if attr.history.has_changes()}
        if values:
            found[(type(obj), state.identity)] = values
    return found


def _reason(reason: str, uncertain: bool) -> str:
    text = reason.removeprefix(UNCERTAIN)
    return (UNCERTAIN + text if uncertain else text)[:300]
