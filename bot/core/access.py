"""Who may enroll whom: L&D leads anyone, everyone else themselves and their direct reports.

Naming a manager sends that person prompts and shared goals, so it is not anyone's choice
either: a lead may name anyone, others only themselves or the learners' manager of record.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from bot.core.enrollment import EnrollmentInput, EnrollResult, Intake
from storage import crud
from storage.models import Person


class AccessError(ValueError):
    """The actor may not make this enrollment: `field` is the input at fault, `key` the prompt
    that says why (with `values`)."""

    def __init__(self, field: str, key: str, **values: object) -> None:
        super().__init__(key)
        self.field = field
        self.key = key
        self.values = values


def _manages(me: Person | None, learner: Person | None) -> bool:
    return me is not None and learner is not None and learner.manager_id == me.id


def manages_all(session: Session, manager: str, learners: Sequence[str]) -> bool:
    """Whether `manager` already manages every one of the learners in the directory."""
    boss = crud.person_by_slack_id(session, slack_id=manager)
    return all(
        _manages(boss, crud.person_by_slack_id(session, slack_id=learner)) for learner in learners
    )


def check_manager(
    session: Session, *, actor: str, learners: Sequence[str], manager: str | None, is_lead: bool
) -> None:
    if manager and not is_lead and manager != actor and not manages_all(session, manager, learners):
        raise AccessError("manager", "validation.manager_not_yours")


def enroll_as(
    session: Session,
    intake: Intake,
    *,
    actor: str,
    is_lead: bool,
    inputs: Sequence[EnrollmentInput],
) -> list[EnrollResult]:
    """Enroll each input's learner, refusing (before storing anything) a learner who is
    neither the actor nor one of the actor's reports, unless the actor is an L&D lead."""
    me = crud.person_by_slack_id(session, slack_id=actor)
    results = []
    for data in inputs:
        if not is_lead and data.learner != actor:
            learner = crud.person_by_slack_id(session, slack_id=data.learner)
            if not _manages(me, learner):
                raise AccessError("learners", "ephemeral.enroll_refused", who=data.learner)
        results.append(intake.enroll(session, data))
    return results
