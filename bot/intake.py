"""Enrollment intake: the one service function behind `/enroll`, the LMS webhook and CSV.

Every door hands over an `EnrollmentInput`; `Intake.enroll` validates it, finds the learner
and the manager, stores the enrollment idempotently and plans its nudges, all in the
caller's transaction so a refused input leaves nothing half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.directory import (
    SLACK_ID_RE,
    ImportReport,
    apply_slack_user,
    lookup_in_slack,
    profile_manager_ref,
    read_csv,
    valid_email,
)
from scheduler.nudges import plan_nudges
from scheduler.planning import Rules
from storage import crud
from storage.db import Database
from storage.models import Enrollment, EnrollmentStatus, Person, Source, utcnow

log = logging.getLogger(__name__)

MAX_TRAINING_NAME = 200
MAX_EXTERNAL_ID = 200
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


class IntakeError(ValueError):
    """Refused input: `field` names what to fix, the message says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class EnrollmentInput:
    learner: str  # email or Slack id
    training: str
    starts_on: date | str
    ends_on: date | str
    manager: str | None = None  # email or Slack id
    external_id: str | None = None
    status: str = EnrollmentStatus.ENROLLED
    source: str = Source.SLACK
    enrolled_by: str | None = None
    # How each door names the people fields, so an error names the field the caller sent.
    learner_field: str = "learner"
    manager_field: str = "manager"


@dataclass(frozen=True)
class EnrollResult:
    enrollment: Enrollment
    learner: Person
    created: bool
    changed: bool
    no_manager: bool


def parse_date(value: date | str, field: str) -> date:
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value).strip())
        except ValueError:
            raise IntakeError(
                field, f"{field} must be a date as YYYY-MM-DD, such as 2026-12-01 (got {value!r})"
            ) from None
    if not EARLIEST <= parsed <= LATEST:
        raise IntakeError(field, f"{field} must be between {EARLIEST} and {LATEST}")
    return parsed


class Intake:
    def __init__(
        self,
        db: Database,
        *,
        rules: Rules,
        default_tz: str,
        client: WebClient | None = None,
        manager_field_id: str = "",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.rules = rules
        self.default_tz = default_tz
        self.client = client
        self.manager_field_id = manager_field_id
        self.clock = clock

    # -- people --------------------------------------------------------------------------

    def resolve(self, session: Session, ref: str, field: str) -> Person:
        """A person by email or Slack id: the directory first, then Slack itself."""
        ref = (ref or "").strip()
        if not ref:
            raise IntakeError(field, f"{field} is required")
        if "@" in ref:
            if not valid_email(ref):
                raise IntakeError(field, f"{field} {ref!r} is not an email address")
        elif not SLACK_ID_RE.match(ref):
            raise IntakeError(field, f"{field} must be an email or a Slack user id (U...)")
        person = crud.find_person(session, key=ref)
        if person is not None and person.slack_id:
            return person
        try:
            user = lookup_in_slack(self.client, ref)
        except SlackApiError:
            log.warning("intake.slack_lookup_failed field=%s", field)
            user = None
        if user is not None:
            found, _ = apply_slack_user(session, user, manager_field_id=self.manager_field_id)
            if found is not None:
                return found
        if person is not None:
            return person  # known from a CSV, not (yet) in Slack: kept, nudged once it is
        raise IntakeError(
            field, f"{field} {ref} matches nobody in the directory or in Slack; check the spelling"
        )

    def _manager_from_slack(self, session: Session, learner: Person) -> Person | None:
        if not (self.manager_field_id and self.client and learner.slack_id):
            return None
        try:
            profile = self.client.users_profile_get(user=learner.slack_id).get("profile") or {}
        except SlackApiError:
            return None
        ref = profile_manager_ref(profile, self.manager_field_id)
        if not ref:
            return None
        try:
            manager = self.resolve(session, ref, "manager")
        except IntakeError:
            return None
        if manager.id != learner.id:
            learner.manager_id = manager.id
            session.add(learner)
            return manager
        return None

    # -- the service function ------------------------------------------------------------

    def enroll(self, session: Session, data: EnrollmentInput) -> EnrollResult:
        training_name = " ".join((data.training or "").split())
        if not training_name:
            raise IntakeError("training", "training is required: the name of the course")
        if len(training_name) > MAX_TRAINING_NAME:
            raise IntakeError(
                "training", f"training must be at most {MAX_TRAINING_NAME} characters"
            )
        starts_on = parse_date(data.starts_on, "starts_on")
        ends_on = parse_date(data.ends_on, "ends_on")
        if ends_on < starts_on:
            raise IntakeError("ends_on", f"ends_on ({ends_on}) is before starts_on ({starts_on})")
        status = (data.status or EnrollmentStatus.ENROLLED).strip().lower()
        if status not in (EnrollmentStatus.ENROLLED, EnrollmentStatus.CANCELLED):
            raise IntakeError("status", "status must be enrolled or cancelled")
        external_id = (data.external_id or "").strip() or None
        if external_id and len(external_id) > MAX_EXTERNAL_ID:
            raise IntakeError("external_id", f"external_id must be at most {MAX_EXTERNAL_ID} chars")

        learner = self.resolve(session, data.learner, data.learner_field)
        if data.manager and data.manager.strip():
            manager: Person | None = self.resolve(session, data.manager, data.manager_field)
            if manager is not None and manager.id == learner.id:
                raise IntakeError(data.manager_field, "a learner cannot be their own manager")
        elif learner.manager_id:
            manager = session.get(Person, learner.manager_id)
        else:
            manager = self._manager_from_slack(session, learner)
        training = crud.training_by_name(session, name=training_name)
        assert training is not None and learner.id is not None

        if external_id:
            enrollment = crud.enrollment_by_external_id(session, external_id=external_id)
        else:
            enrollment = crud.current_enrollment(
                session,
                learner_id=learner.id,
                training_id=training.id,  # type: ignore[arg-type]
            )
        now = self.clock()
        created = enrollment is None
        if enrollment is None:
            enrollment = Enrollment(
                external_id=external_id,
                learner_id=learner.id,
                training_id=training.id,  # type: ignore[arg-type]
                starts_on=starts_on,
                ends_on=ends_on,
                source=data.source,
                enrolled_by=data.enrolled_by,
            )
            before: tuple[Any, ...] = ()
        else:
            before = _state(enrollment)
            if (
                enrollment.status == EnrollmentStatus.CANCELLED
                and status == EnrollmentStatus.ENROLLED
            ):
                enrollment.generation += 1  # enrolled again: plan afresh
        enrollment.learner_id = learner.id
        enrollment.training_id = training.id  # type: ignore[assignment]
        enrollment.starts_on, enrollment.ends_on = starts_on, ends_on
        enrollment.manager_id = manager.id if manager else None
        enrollment.status = status
        changed = created or _state(enrollment) != before
        if changed:
            enrollment.updated_at = now
            session.add(enrollment)
            session.flush()
            plan_nudges(session, enrollment, now=now, rules=self.rules, default_tz=self.default_tz)
        log.info(
            "enrollment.%s enrollment=%s source=%s no_manager=%s",
            "created" if created else ("updated" if changed else "unchanged"),
            enrollment.id,
            data.source,
            manager is None,
        )
        return EnrollResult(enrollment, learner, created, changed, manager is None)

    # -- the doors that carry many rows --------------------------------------------------

    def enroll_one(self, data: EnrollmentInput) -> EnrollResult:
        """One enrollment in its own transaction.

        Two deliveries of the same new enrollment can race to insert it; the loser's unique
        key fails, and its retry then finds the winner's row and answers as a duplicate.
        """
        for attempt in range(3):
            try:
                with self.db.session() as session:
                    return self.enroll(session, data)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def import_csv(self, text: str) -> ImportReport:
        """Columns `learner_email,training,starts_on,ends_on[,manager_email][,external_id]`."""
        report = ImportReport()
        rows, error = read_csv(
            text,
            ["learner_email", "training", "starts_on", "ends_on"],
            ["manager_email", "external_id"],
        )
        if error:
            report.errors.append((1, error))
            return report
        for row in rows:
            if "_error" in row:
                report.errors.append((row["_line"], row["_error"]))
                continue
            data = EnrollmentInput(
                learner=row.get("learner_email", ""),
                training=row.get("training", ""),
                starts_on=row.get("starts_on", ""),
                ends_on=row.get("ends_on", ""),
                manager=row.get("manager_email") or None,
                external_id=row.get("external_id") or None,
                source=Source.CSV,
                learner_field="learner_email",
                manager_field="manager_email",
            )
            # One transaction per row: a bad row never takes good ones down with it.
            try:
                result = self.enroll_one(data)
            except IntakeError as exc:
                report.errors.append((row["_line"], exc.message))
                continue
            if result.created:
                report.created += 1
            elif result.changed:
                report.updated += 1
            else:
                report.unchanged += 1
        return report


def _state(enrollment: Enrollment) -> tuple[Any, ...]:
    return (
        enrollment.learner_id,
        enrollment.training_id,
        enrollment.starts_on,
        enrollment.ends_on,
        enrollment.manager_id,
        enrollment.status,
    )


def input_from_webhook(body: Mapping[str, Any]) -> EnrollmentInput:
    """The LMS webhook's JSON body, checked field by field."""
    if not isinstance(body, Mapping):
        raise IntakeError("body", "the body must be a JSON object")
    for name in (
        "learner_email",
        "learner_slack_id",
        "manager_email",
        "manager_slack_id",
        "training",
        "starts_on",
        "ends_on",
        "status",
        "external_id",
    ):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise IntakeError(name, f"{name} must be a string")
    learner = body.get("learner_email") or body.get("learner_slack_id")
    if not learner:
        raise IntakeError("learner_email", "learner_email (or learner_slack_id) is required")
    for name in ("training", "starts_on", "ends_on"):
        if not body.get(name):
            raise IntakeError(name, f"{name} is required")
    return EnrollmentInput(
        learner=learner,
        learner_field="learner_email" if body.get("learner_email") else "learner_slack_id",
        manager_field="manager_email" if body.get("manager_email") else "manager_slack_id",
        training=body["training"],
        starts_on=body["starts_on"],
        ends_on=body["ends_on"],
        manager=body.get("manager_email") or body.get("manager_slack_id"),
        external_id=body.get("external_id"),
        status=body.get("status") or EnrollmentStatus.ENROLLED,
        source=Source.WEBHOOK,
    )
