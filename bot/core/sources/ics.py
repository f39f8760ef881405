"""iCalendar into enrollments: `coachbot import calendar FILE.ics` and the feeds of
`ICS_FEED_URLS`, read every `ICS_POLL_MINUTES`.

Every attendee of a session is one enrollment (key: UID + attendee). A session's newer
revision (higher SEQUENCE) updates it and cancels the attendees it no longer lists; an older
one changes nothing. A session that ended too long ago for any nudge is skipped, so a feed
with years of history does not fill the summaries with enrollments nobody can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bot.core.enrollment import Intake
from bot.core.lookup import LookupUnavailable
from bot.core.sources.apply import Applied, OnOutcome, apply_one
from bot.core.sources.calendar import SOURCE, Session, parse_calendar
from bot.core.sources.event import SourceEvent
from bot.core.sources.rest import LmsRefused, LmsUnavailable, request
from storage import crud
from storage.models import EnrollmentStatus

log = logging.getLogger(__name__)

SLACK_AWAY = "Slack did not answer while looking this person up; import the file again later"


@dataclass
class CalendarReport:
    """What an import did; `skipped` lists what it left out, with the line of its VEVENT.
    `problems` counts the skips that need someone to act (a learner nobody knows, an event
    that cannot be read), as against the expected ones (an older revision, a past session)."""

    created: int = 0
    updated: int = 0
    cancelled: int = 0
    unchanged: int = 0
    skipped: list[tuple[int | None, str]] = field(default_factory=list)
    problems: int = 0

    @property
    def ok(self) -> bool:
        return self.problems == 0

    def skip(self, line: int | None, reason: str, *, problem: bool) -> None:
        self.skipped.append((line, reason))
        self.problems += problem

    def count(self, applied: Applied, line: int | None, who: str) -> None:
        result = applied.result
        if applied.outcome == "refused":
            message = applied.message or "refused"
            self.skip(line, message if who in message else f"{who}: {message}", problem=True)
        elif applied.outcome == "stale":
            self.skip(
                line, f"{who}: an older revision (SEQUENCE) than the one imported", problem=False
            )
        elif result is None or applied.outcome == "ignored":
            self.unchanged += 1  # declined an invite they were never enrolled from
        elif applied.cancelled:
            self.cancelled += 1
        elif result.created:
            self.created += 1
        elif result.changed:
            self.updated += 1
        else:
            self.unchanged += 1

    def lines(self) -> list[str]:
        head = (
            f"{self.created} enrollments created, {self.updated} updated, "
            f"{self.cancelled} cancelled, {self.unchanged} unchanged, {len(self.skipped)} skipped"
        )
        return [head] + [
            f"  {'line ' + str(line) if line else 'calendar'}: {reason}"
            for line, reason in sorted(self.skipped, key=lambda s: (s[0] or 0, s[1]))
        ]


class CalendarImporter:
    def __init__(self, intake: Intake, *, on_outcome: OnOutcome, horizon_days: int) -> None:
        """`horizon_days`: how long after its end a session can still get a nudge (the
        last follow-up, and how late it may go out)."""
        self.intake = intake
        self.on_outcome = on_outcome
        self.horizon_days = horizon_days

    def import_text(self, text: str | bytes) -> CalendarReport:
        """Every session of a calendar. Raises SourceError when it is not iCalendar."""
        parsed = parse_calendar(text)
        report = CalendarReport()
        for line, reason in parsed.skipped:
            report.skip(line, reason, problem=True)
        oldest = self.intake.today() - timedelta(days=self.horizon_days)
        for session in parsed.sessions:
            if session.ends_on < oldest:
                report.skip(
                    session.line,
                    f"event {session.training!r} ended on {session.ends_on}, too long ago "
                    "for any nudge",
                    problem=False,
                )
                continue
            try:
                self._session(session, report)
            except LookupUnavailable:
                report.skip(session.line, SLACK_AWAY, problem=True)
        return report

    def _session(self, session: Session, report: CalendarReport) -> None:
        for event in session.events:
            report.count(
                apply_one(self.intake, event, self.on_outcome),
                session.line,
                event.learner_email or "",
            )
        listed = {event.key for event in session.events}
        with self.intake.db.session() as db_session:
            stored = [
                (e.external_id, e.sequence)
                for e in crud.enrollments_with_key_prefix(db_session, prefix=session.key_prefix)
                if e.status != EnrollmentStatus.CANCELLED and e.external_id not in listed
            ]
        for key, sequence in stored:
            # Cancelled outright, or no longer among the attendees of a newer revision (an
            # attendee's reply repeats the organizer's SEQUENCE and lists only them).
            if not session.cancelled and session.sequence <= (sequence or 0):
                continue
            assert key is not None
            gone = replace(
                SourceEvent.cancellation(key, SOURCE, f"{key}#removed@{session.sequence}"),
                training=session.training,
                sequence=session.sequence,
            )
            report.count(apply_one(self.intake, gone, self.on_outcome), session.line, key)


class CalendarFeeds:
    """The feeds of ICS_FEED_URLS, each read with its last ETag / Last-Modified so that an
    unchanged feed costs one 304."""

    def __init__(self, urls: Sequence[str], importer: CalendarImporter, http: Any) -> None:
        self.urls = list(urls)
        self.importer = importer
        self.http = http
        self._validators: dict[str, dict[str, str]] = {}

    def poll(self) -> dict[str, CalendarReport | str]:
        """Read every feed once; a feed that fails is logged and read again next time."""
        results: dict[str, CalendarReport | str] = {}
        for url in self.urls:
            results[_redact(url)] = self._one(url)
        return results

    def _one(self, url: str) -> CalendarReport | str:
        shown = _redact(url)
        fetch_url = "https://" + url[len("webcal://") :] if url.startswith("webcal://") else url
        headers = {"Accept": "text/calendar", **self._validators.get(url, {})}
        try:
            answer = request(self.http, "GET", fetch_url, what=f"feed {shown}", headers=headers)
        except (LmsUnavailable, LmsRefused) as exc:
            log.warning("ics.feed_failed feed=%s error=%s", shown, exc)
            return str(exc)
        if answer.status == 304:
            return "unchanged"
        try:
            report = self.importer.import_text(answer.data)
        except ValueError as exc:  # SourceError: not iCalendar
            log.warning("ics.feed_unreadable feed=%s error=%s", shown, exc)
            return str(exc)
        validators = {}
        if answer.headers.get("etag"):
            validators["If-None-Match"] = answer.headers["etag"]
        if answer.headers.get("last-modified"):
            validators["If-Modified-Since"] = answer.headers["last-modified"]
        # A feed read with problems is read in full again next time (a learner added to
        # Slack meanwhile is then enrolled).
        if report.ok:
            self._validators[url] = validators
        log.info(
            "ics.feed_read feed=%s created=%s updated=%s cancelled=%s skipped=%s",
            shown,
            report.created,
            report.updated,
            report.cancelled,
            len(report.skipped),
        )
        return report


def _redact(url: str) -> str:
    """A feed URL fit for a log line: private feeds carry their secret in the path or query."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…"
