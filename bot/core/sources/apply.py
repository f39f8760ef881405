"""A `SourceEvent` into the intake: the one enrollment input every door shares.

Each source's module reads its vendor's message; this one hands what it means to
`Intake.enroll`, so a Canvas enrollment behaves exactly as one from `POST /api/enrollments`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.enrollment import (
    COMPLETED,
    EnrollmentInput,
    EnrollResult,
    Intake,
    IntakeError,
    UnknownEnrollment,
)
from bot.core.sources.event import SourceEvent
from storage.models import EnrollmentStatus

log = logging.getLogger(__name__)

# What a source tells the metrics (`coachbot_enrollments_total{source,result}`): the
# intake's created, updated, duplicate, stale or refused, or ignored (a cancellation or
# completion of an enrollment Coachbot never had).
OnOutcome = Callable[[str, str], None]

# How each source names the learner, so that "… matches nobody" names what to look at.
LEARNER_FIELDS = {
    "xapi": "actor.mbox",
    "calendar": "attendee",
    "canvas": "profile.primary_email",
    "moodle": "email",
}


def _no_metrics(_source: str, _outcome: str) -> None:
    pass


@dataclass(frozen=True)
class Applied:
    """What became of one event: `outcome` as the metrics count it, `message` why, for a
    refused or ignored one, and the enrollment's result when there was one."""

    outcome: str
    message: str | None = None
    result: EnrollResult | None = None

    @property
    def cancelled(self) -> bool:
        """Whether it cancelled an enrollment that was not cancelled before."""
        return (
            self.result is not None
            and self.result.changed
            and not self.result.created
            and self.result.enrollment.status == EnrollmentStatus.CANCELLED
        )


def to_input(event: SourceEvent) -> EnrollmentInput:
    """The enrollment input of an event. A cancellation, and a completion the source knows
    no course dates for (xAPI's), name only the enrollment's key: they act on an enrollment
    Coachbot has, never create one (a completed xAPI lesson is no training to debrief)."""
    key_only = event.action == "cancelled" or (
        event.action == COMPLETED and event.starts_on is None
    )
    return EnrollmentInput(
        learner="" if key_only else (event.learner_email or ""),
        training="" if key_only else (event.training or ""),
        starts_on="" if key_only or event.starts_on is None else event.starts_on,
        ends_on=None if key_only else event.ends_on,
        external_id=event.key,
        status=event.action,
        source=event.source,
        learner_field=LEARNER_FIELDS.get(event.source, "learner_email"),
        completed_on=event.completed_on if event.action == COMPLETED else None,
        sequence=event.sequence,
    )


def apply_event(
    intake: Intake, session: Session, event: SourceEvent, on_outcome: OnOutcome = _no_metrics
) -> Applied:
    """Store one event in the caller's transaction (a savepoint of its own, so a refused
    event leaves nothing behind). Raises LookupUnavailable when Slack does not answer."""
    try:
        with session.begin_nested():
            result = intake.enroll(session, to_input(event))
    except UnknownEnrollment:
        applied = Applied("ignored", f"{event.key} is not an enrollment Coachbot has")
    except IntakeError as exc:
        applied = Applied("refused", exc.message)
    else:
        applied = Applied(result.outcome, None, result)
    log.info(
        "source.applied source=%s event=%s key=%s outcome=%s",
        event.source,
        event.event_id,
        event.key,
        applied.outcome,
    )
    on_outcome(event.source, applied.outcome)
    return applied


def apply_one(intake: Intake, event: SourceEvent, on_outcome: OnOutcome = _no_metrics) -> Applied:
    """`apply_event` in a transaction of its own; a concurrent delivery of the same new
    enrollment is retried as `Intake.enroll_one` does."""
    for attempt in range(3):
        try:
            with intake.db.session() as session:
                return apply_event(intake, session, event, on_outcome)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
