"""iCalendar invites and feeds (RFC 5545 / 5546) to training sessions and their `SourceEvent`s.

Parsing is `icalendar`'s, recurrence `recurring-ical-events`'. Exchange's Windows zone names
("W. Europe Standard Time") resolve through the file's VTIMEZONE, else icalendar's
Windows-to-IANA table; either way a date is read on the event's own wall clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import recurring_ical_events
from icalendar import Calendar, Component

from bot.core.sources.event import (
    MAX_KEY,
    Action,
    SourceError,
    SourceEvent,
    digest,
    email_address,
)

SOURCE = "calendar"
KEY_PREFIX = "ics"
# A series with no UNTIL or COUNT is read this far from its first occurrence. Counting from
# the series, not from today, keeps a feed read every hour from moving the end every day.
HORIZON_DAYS = 365
# However long a bounded series says it runs, occurrences past this are not generated.
MAX_SPAN_DAYS = 3660

_NOT_LEARNERS_CUTYPE = {"ROOM", "RESOURCE"}
_NOT_ATTENDING = {"DECLINED", "DELEGATED"}
# Outlook's cancellation notices rename the event; the training is the rest of the summary.
_CANCEL_PREFIX = re.compile(r"^\s*(cancell?ed|abgesagt|annulé|cancelado)\s*:\s*", re.I)
_UID_PART_MAX = 120
# Both libraries raise more than ValueError on some malformed files (a repeated DTEND, an
# unbalanced END:VTIMEZONE); a bad file must come back as a message, never as a crash.
# (OSError: zoneinfo opens TZID=Europe as a file and finds a directory.)
_UNREADABLE = (
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
    OSError,
)


@dataclass(frozen=True)
class Session:
    """One VEVENT (with its recurrences): a session of a training and its learners.

    `events` has one SourceEvent per learner attendee. `cancelled` is STATUS:CANCELLED or
    METHOD:CANCEL; a cancellation that lists no learner (`cancels_all`) means every
    enrollment whose key starts with `key_prefix`. `note` says what the reader assumed.
    """

    uid: str
    line: int | None
    training: str
    starts_on: date
    ends_on: date
    sequence: int
    cancelled: bool
    key_prefix: str
    events: tuple[SourceEvent, ...]
    note: str | None = None

    @property
    def cancels_all(self) -> bool:
        return self.cancelled and not self.events


@dataclass(frozen=True)
class CalendarImport:
    """Every session of a file, and each VEVENT or attendee left out with its line and why."""

    sessions: tuple[Session, ...] = ()
    skipped: tuple[tuple[int | None, str], ...] = ()

    @property
    def events(self) -> list[SourceEvent]:
        return [event for session in self.sessions for event in session.events]

    @property
    def notes(self) -> list[str]:
        return [s.note for s in self.sessions if s.note]


@dataclass
class _Group:
    uid: str
    line: int | None
    components: list[Component] = field(default_factory=list)


def session_prefix(uid: str) -> str:
    """The start of every enrollment key of the session with this UID."""
    part = uid if len(uid) <= _UID_PART_MAX and "|" not in uid else "#" + digest(uid)
    return f"{KEY_PREFIX}:{part}|"


def enrollment_key(uid: str, email: str) -> str:
    prefix = session_prefix(uid)
    key = prefix + email
    return key if len(key) <= MAX_KEY else prefix + "#" + digest(email)


def parse_calendar(text: str | bytes) -> CalendarImport:
    """Read every VEVENT of an iCalendar text.

    A text that is not iCalendar raises SourceError; an event that cannot be read (no UID,
    DTSTART or SUMMARY, a broken value, no learner) is left out and listed in `skipped`, so
    one bad invite in a feed does not hide the others.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise SourceError(
                "calendar", f"is not UTF-8 text (byte {error.start}); save it as UTF-8"
            ) from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise SourceError("calendar", "is empty; expected BEGIN:VCALENDAR … END:VCALENDAR")
    try:
        calendars = Calendar.from_ical(text, multiple=True)
    except _UNREADABLE as error:
        raise SourceError("calendar", f"is not iCalendar text: {error}") from None
    if not calendars or any(c.name != "VCALENDAR" for c in calendars):
        raise SourceError("calendar", "expected BEGIN:VCALENDAR … END:VCALENDAR around the events")

    lines = _vevent_lines(text)
    sessions: list[Session] = []
    skipped: list[tuple[int | None, str]] = []
    position = 0
    for calendar in calendars:
        groups: dict[str, _Group] = {}
        for component in calendar.walk("VEVENT"):
            line = lines[position] if position < len(lines) else None
            position += 1
            uid = str(component.get("UID", "")).strip()
            if not uid:
                skipped.append((line, f"{_label(component)}has no UID, so it cannot be tracked"))
                continue
            groups.setdefault(uid, _Group(uid, line)).components.append(component)
        method = str(calendar.get("METHOD", "")).strip().upper()
        wr_zone = calendar.get("X-WR-TIMEZONE")
        for group in groups.values():
            session, problems = _session(group, method, wr_zone)
            skipped.extend(problems)
            if session is not None:
                sessions.append(session)
    return CalendarImport(sessions=tuple(sessions), skipped=tuple(skipped))


def _session(
    group: _Group, method: str, wr_zone: Any
) -> tuple[Session | None, list[tuple[int | None, str]]]:
    line, uid = group.line, group.uid
    master = next((c for c in group.components if "RECURRENCE-ID" not in c), None)
    if master is None:
        # Outlook sends a changed or cancelled single occurrence on its own; read alone it
        # would move or cancel the whole series.
        return None, [
            (
                line,
                f"{_label(group.components[0])}changes one occurrence of a series "
                "(RECURRENCE-ID) whose series is not in this file; the series' own invite "
                "sets the dates",
            )
        ]
    label = _label(master)
    for component in group.components:
        for name, problem in getattr(component, "errors", []):
            if name in {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "SEQUENCE"}:
                return None, [(line, f"{label}has a {name} that cannot be read: {problem}")]
    if master.get("DTSTART") is None:
        return None, [(line, f"{label}has no DTSTART, so it has no date")]
    cancelled = method == "CANCEL" or _status(master) == "CANCELLED"
    training = str(master.get("SUMMARY", "")).strip()
    if cancelled:
        training = _CANCEL_PREFIX.sub("", training).strip()
    if not training:
        return None, [(line, f"event {uid} has no SUMMARY (the training's name)")]
    sequence = max(_sequence(c) for c in group.components)

    try:
        days, note = _days(group, master, wr_zone, include_cancelled=cancelled)
        if days is None and not cancelled:
            # Every occurrence is cancelled one by one: so is the session.
            cancelled = True
            days, note = _days(group, master, wr_zone, include_cancelled=True)
    except _UNREADABLE as error:
        return None, [(line, f"{label}has dates or a recurrence that cannot be read: {error}")]
    if days is None:
        return None, [(line, f"{label}has no occurrence")]
    starts_on, ends_on = days

    prefix = session_prefix(uid)
    events: list[SourceEvent] = []
    problems: list[tuple[int | None, str]] = []
    organizer = email_address(str(master.get("ORGANIZER", "")))
    seen: set[str] = set()
    for attendee in _as_list(master.get("ATTENDEE")):
        params = getattr(attendee, "params", {})
        if str(params.get("CUTYPE", "")).upper() in _NOT_LEARNERS_CUTYPE:
            continue
        if str(params.get("ROLE", "")).upper() == "NON-PARTICIPANT":
            continue
        email = email_address(str(attendee))
        if email is None:
            problems.append((line, f"{label}attendee {str(attendee)!r} is not a mailto: address"))
            continue
        if email == organizer or email in seen:
            continue
        seen.add(email)
        partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
        action: Action = "cancelled" if cancelled or partstat in _NOT_ATTENDING else "enrolled"
        events.append(
            SourceEvent(
                key=enrollment_key(uid, email),
                action=action,
                learner_email=email,
                training=training,
                starts_on=starts_on,
                ends_on=ends_on,
                completed_on=None,
                source=SOURCE,
                event_id=f"{KEY_PREFIX}:"
                + digest(uid, email, action, starts_on, ends_on, training, sequence),
                sequence=sequence,
            )
        )
    if not events and not cancelled:
        problems.append((line, f"{label}has no learner among its attendees"))
        return None, problems
    session = Session(
        uid=uid,
        line=line,
        training=training,
        starts_on=starts_on,
        ends_on=ends_on,
        sequence=sequence,
        cancelled=cancelled,
        key_prefix=prefix,
        events=tuple(events),
        note=None if note is None else f"{label.strip()}: {note}",
    )
    return session, problems


def _days(
    group: _Group, master: Component, wr_zone: Any, *, include_cancelled: bool
) -> tuple[tuple[date, date] | None, str | None]:
    """First and last day of the series (None if it has no occurrence), and a note when an
    endless series was cut at the horizon."""
    first = _day(master.decoded("DTSTART"))
    unbounded = any(
        "UNTIL" not in rule and "COUNT" not in rule
        for component in group.components
        for rule in _as_list(component.get("RRULE"))
    )
    span = HORIZON_DAYS if unbounded else MAX_SPAN_DAYS
    calendar = Calendar()
    if wr_zone is not None:
        # recurring-ical-events moves UTC times into X-WR-TIMEZONE (Google's feeds need it).
        calendar.add("X-WR-TIMEZONE", wr_zone)
    for component in group.components:
        calendar.add_component(component)
    occurrences = recurring_ical_events.of(calendar).between(
        first - timedelta(days=1), first + timedelta(days=span)
    )
    starts: list[date] = []
    ends: list[date] = []
    for occurrence in occurrences:
        if not include_cancelled and _status(occurrence) == "CANCELLED":
            continue
        start = occurrence.start
        starts.append(_day(start))
        ends.append(_last_day(start, occurrence.end))
    if not starts:
        return None, None
    note = None
    if unbounded:
        until = first + timedelta(days=span)
        note = (
            f"repeats without an end; counted its occurrences up to {until.isoformat()} "
            f"({HORIZON_DAYS} days), so it ends on {max(ends).isoformat()}"
        )
    return (min(starts), max(ends)), note


def _day(value: date | datetime) -> date:
    """The date on the value's own wall clock (its TZID, or UTC for a Z time)."""
    return value.date() if isinstance(value, datetime) else value


def _last_day(start: date | datetime, end: date | datetime) -> date:
    """The last day the event covers: DTEND is exclusive, so an all-day end and an end at
    midnight (Outlook writes all-day events that way too) belong to the day before."""
    if isinstance(end, datetime):
        if isinstance(start, datetime) and start.tzinfo is not None and end.tzinfo is not None:
            end = end.astimezone(start.tzinfo)
        day = end.date()
        if end.time() == time(0) and day > _day(start):
            day -= timedelta(days=1)
    else:
        day = end - timedelta(days=1)
    return max(day, _day(start))


def _status(component: Component) -> str:
    return str(component.get("STATUS", "")).strip().upper()


def _sequence(component: Component) -> int:
    value = component.get("SEQUENCE", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _label(component: Component) -> str:
    summary = str(component.get("SUMMARY", "")).strip()
    return f"event {summary!r} " if summary else "an event "


def _vevent_lines(text: str) -> list[int]:
    """The line number of each BEGIN:VEVENT, in order, so a skipped event can be found."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip().upper() == "BEGIN:VEVENT"
    ]
