"""The people directory: who is who, in which time zone, and who manages whom.

Filled from a CSV of people, from Slack's `users.list` (bot/slack/directory_sync.py hands
each user to `apply_slack_user`), and kept current by `user_change` events: time zones,
statuses, managers and locales (the language each person reads).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.limits import (
    EMAIL_MAX,
    LOCALE_MAX,
    PERSON_NAME_MAX,
    STATUS_EMOJI_MAX,
    STATUS_TEXT_MAX,
)
from bot.prompts import locale_tag
from scheduler.calendar import UnknownCountry, check_code
from scheduler.nudges import plan_nudges, replan_manager_nudges
from scheduler.planning import Rules
from storage import crud
from storage.db import Database
from storage.models import Person, utcnow

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
SLACK_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass
class ImportReport:
    """What an import did, and every row it refused with its line number and reason."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self, noun: str) -> list[str]:
        head = (
            f"{self.created} {noun} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.errors)} rows refused"
        )
        return [head] + [f"  line {line}: {reason}" for line, reason in self.errors]


def valid_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value)) and len(value) <= EMAIL_MAX


def read_csv(text: str, required: list[str], optional: list[str]) -> tuple[list[dict], str | None]:
    """Rows as dicts keyed by lower-case column, or the error that makes the file unreadable.

    A row the csv module cannot parse comes back as a row with `_error`, so the import reports
    it with its line number and keeps the rows around it.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        return [], f"the first line is not valid CSV ({exc})"
    if fieldnames is None:
        return [], "the file is empty; the first line must name the columns"
    columns = [(c or "").strip().lower() for c in fieldnames]
    missing = [c for c in required if c not in columns]
    if missing:
        return [], (
            f"missing column(s) {', '.join(missing)}; the first line must be "
            f"{','.join(required + ['[' + c + ']' for c in optional])}"
        )
    rows: list[dict] = []
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append({"_line": reader.line_num, "_error": f"not valid CSV ({exc})"})
            break  # the parser's position is lost; the rows before stay imported
        row: dict[str, Any] = {
            (k or "").strip().lower(): (v if isinstance(v, str) else "").strip()
            for k, v in raw.items()
            if k
        }
        row["_line"] = reader.line_num
        rows.append(row)
    return rows, None


def import_people(
    db: Database,
    text: str,
    *,
    rules: Rules,
    default_tz: str,
    clock: Callable[[], datetime] = utcnow,
) -> ImportReport:
    """Columns `email,manager_email[,name][,slack_id][,country]`; valid rows kept, bad rows
    reported. `country` (ISO 3166, optionally with a subdivision: GB-SCT) says whose public
    holidays are the person's days off."""
    report = ImportReport()
    rows, error = read_csv(text, ["email", "manager_email"], ["name", "slack_id", "country"])
    if error:
        report.errors.append((1, error))
        return report
    good: list[dict] = []
    seen: dict[str, int] = {}
    for row in rows:
        if "_error" in row:
            report.errors.append((row["_line"], row["_error"]))
            continue
        email = row.get("email", "").lower()
        manager_email = row.get("manager_email", "").lower()
        slack_id = row.get("slack_id", "")
        line = row["_line"]
        if not valid_email(email):
            report.errors.append((line, f"email {email!r} is not an email address"))
        elif manager_email and not valid_email(manager_email):
            report.errors.append((line, f"manager_email {manager_email!r} is not an email address"))
        elif manager_email == email:
            report.errors.append((line, "a person cannot be their own manager"))
        elif slack_id and not SLACK_ID_RE.match(slack_id):
            report.errors.append((line, f"slack_id {slack_id!r} is not a Slack user id (U...)"))
        elif len(row.get("name", "")) > PERSON_NAME_MAX:
            report.errors.append((line, f"name is longer than {PERSON_NAME_MAX} characters"))
        elif email in seen:
            report.errors.append((line, f"{email} already appears on line {seen[email]}"))
        elif (problem := _country_problem(row)) is not None:
            report.errors.append((line, problem))
        else:
            seen[email] = line
            good.append(row)
    now = clock()
    with db.session() as session:
        # People first, managers second: a manager may appear on a later line than a report.
        people: dict[str, Person] = {}
        before: dict[str, tuple] = {}
        for row in good:
            existing = crud.person_by_email(session, email=row["email"])
            before[row["email"]] = _snapshot(existing)
            people[row["email"]] = crud.upsert_person(
                session,
                email=row["email"],
                name=row.get("name") or None,
                slack_id=row.get("slack_id") or None,
                now=now,
            )
            if row.get("country"):
                people[row["email"]].country = row["country"]
        moved: list[Person] = []
        for row in good:
            person = people[row["email"]]
            manager = None
            if row["manager_email"]:
                manager = people.get(row["manager_email"]) or crud.upsert_person(
                    session, email=row["manager_email"], now=now
                )
            manager_id = manager.id if manager else None
            if person.manager_id != manager_id:
                person.manager_id = manager_id
                person.updated_at = now
                session.add(person)
                moved.append(person)
            old = before[row["email"]]
            if old == ():
                report.created += 1
            elif old != _snapshot(person):
                report.updated += 1
            else:
                report.unchanged += 1
        session.flush()
        for person in moved:
            replan_manager_nudges(
                session, learner=person, now=now, rules=rules, default_tz=default_tz
            )
        for row in good:
            person = people[row["email"]]
            if before[row["email"]] and before[row["email"]][-1] != person.country:
                _replan_involving(session, person, now=now, rules=rules, default_tz=default_tz)
    log.info(
        "directory.import_people created=%s updated=%s refused=%s",
        report.created,
        report.updated,
        len(report.errors),
    )
    return report


def _country_problem(row: Mapping[str, str]) -> str | None:
    """Why the row's country cannot be used, if it cannot; it is stored normalised."""
    if not row.get("country"):
        return None
    try:
        row["country"] = check_code(row["country"])  # type: ignore[index]
    except UnknownCountry as exc:
        return f"country: {exc}"
    return None


def _replan_involving(
    session: Session, person: Person, *, now: datetime, rules: Rules, default_tz: str
) -> None:
    """Re-plan what a change of the person's place (zone, country, activity) moves: their own
    enrollments and their reports'."""
    assert person.id is not None
    since = now.date().replace(year=now.year - 1)
    for enrollment in crud.current_enrollments_involving(session, person_id=person.id, since=since):
        plan_nudges(session, enrollment, now=now, rules=rules, default_tz=default_tz)


def _snapshot(person: Person | None) -> tuple:
    if person is None:
        return ()
    return (person.email, person.name, person.slack_id, person.manager_id, person.country)


# -- what Slack says of people -----------------------------------------------------------


def profile_manager_ref(profile: Mapping[str, Any], field_id: str) -> str | None:
    """The manager named in a custom profile field: a user id (user fields) or an email."""
    fields = profile.get("fields") or {}
    if not field_id or not isinstance(fields, Mapping):
        return None
    value = (fields.get(field_id) or {}).get("value", "")
    value = str(value).strip()
    if SLACK_ID_RE.match(value) or valid_email(value):
        return value
    return None


def apply_slack_user(
    session: Session,
    user: Mapping[str, Any],
    *,
    manager_field_id: str = "",
    now: datetime | None = None,
) -> tuple[Person | None, bool]:
    """Store what Slack says of one user; returns the person and whether the manager moved."""
    if user.get("is_bot") or user.get("id") == "USLACKBOT" or user.get("is_app_user"):
        return None, False
    profile = user.get("profile") or {}
    email = crud.normalize_email(profile.get("email"))
    existing = crud.person_by_slack_id(session, slack_id=user["id"])
    if existing is None and email:
        existing = crud.person_by_email(session, email=email)
    if existing is None and not email:
        return None, False  # nobody we could ever match or need to reach
    person = crud.upsert_person(
        session,
        slack_id=user["id"],
        email=email,
        name=profile.get("real_name") or user.get("real_name") or user.get("name"),
        tz=user.get("tz"),
        active=not user.get("deleted", False),
        now=now,
        # Only answers asked with include_locale carry it (users.lookupByEmail never does):
        # no locale in the answer keeps the one on record.
        locale=_locale(user.get("locale")),
    )
    person.status_text = (profile.get("status_text") or "")[:STATUS_TEXT_MAX] or None
    person.status_emoji = (profile.get("status_emoji") or "")[:STATUS_EMOJI_MAX] or None
    person.status_expiration = _expiration(profile.get("status_expiration"))
    session.add(person)
    moved = False
    ref = profile_manager_ref(profile, manager_field_id)
    if ref:
        manager = crud.find_person(session, key=ref)
        if manager is None and SLACK_ID_RE.match(ref):
            manager = crud.upsert_person(session, slack_id=ref, now=now)
        if manager is not None and manager.id != person.id and person.manager_id != manager.id:
            person.manager_id = manager.id
            moved = True
    session.flush()
    return person, moved


def _locale(value: Any) -> str | None:
    """Slack's locale ("fr-FR") tidied, or None when the answer has none worth keeping."""
    tag = locale_tag(value) if isinstance(value, str) else ""
    return tag if tag and len(tag) <= LOCALE_MAX else None


def _expiration(value: Any) -> int | None:
    """Slack's status_expiration: unix seconds, 0 for "does not expire"."""
    try:
        return int(value) or None
    except (TypeError, ValueError):
        return None


def user_changed(
    session: Session,
    user: Mapping[str, Any],
    *,
    manager_field_id: str,
    rules: Rules,
    default_tz: str,
    now: datetime,
) -> tuple[Person | None, bool]:
    """Slack's `user_change`: store the person, and re-plan what their change moves.

    A new manager re-routes the pending manager nudges; a new time zone or a deactivation
    changes when (or whether) their nudges, and their reports', go out."""
    existing = crud.person_by_slack_id(session, slack_id=user["id"])
    before = (existing.tz, existing.active) if existing is not None else None
    person, moved = apply_slack_user(session, user, manager_field_id=manager_field_id, now=now)
    if person is None:
        return None, False
    if moved:
        replan_manager_nudges(session, learner=person, now=now, rules=rules, default_tz=default_tz)
    if before is not None and before != (person.tz, person.active):
        _replan_involving(session, person, now=now, rules=rules, default_tz=default_tz)
    return person, moved
