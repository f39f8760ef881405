"""Application goals: what a learner will do differently at work, shared with their manager
unless they turn sharing off. Functions of a session and plain values; GoalError names the
field at fault and the prompt key that tells the learner what to fix."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from bot.core import followup
from bot.core.limits import GOAL_MEASURE_MAX, GOAL_TEXT_MAX
from scheduler.nudges import goal_shared_key
from storage import crud
from storage.models import Enrollment, EnrollmentStatus, Goal, Nudge, NudgeKind, Person, Training

log = logging.getLogger(__name__)


class GoalField:
    """The parts of a goal an error can point at (the adapter maps them onto its inputs)."""

    TEXT = "text"
    MEASURE = "measure"
    ENROLLMENT = "enrollment"


class GoalError(ValueError):
    """A goal that cannot be stored as given: `key` is the prompt that says why."""

    def __init__(self, field: str, key: str, **values: object) -> None:
        super().__init__(key)
        self.field = field
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Saved:
    goal: Goal
    training: Training
    tell_manager: bool  # newly shared (or changed) and the learner has a manager
    # The goal_shared nudge that takes it into the manager's day's message, when it goes.
    share_nudge_id: int | None = None


@dataclass(frozen=True)
class ModalChoices:
    """The trainings a goal modal offers, the one preselected, and what it edits."""

    choices: list[tuple[int, str]]
    selected: int | None
    goal: Goal | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def check(text: str, measure: str | None) -> None:
    if not text:
        raise GoalError(GoalField.TEXT, "ephemeral.goal_empty")
    if len(text) > GOAL_TEXT_MAX:
        raise GoalError(
            GoalField.TEXT, "ephemeral.goal_too_long", length=len(text), limit=GOAL_TEXT_MAX
        )
    if measure and len(measure) > GOAL_MEASURE_MAX:
        raise GoalError(GoalField.MEASURE, "validation.too_long", limit=GOAL_MEASURE_MAX)


def enrollment_choices(session: Session, learner: Person, today: date) -> list[tuple[int, str]]:
    """(enrollment id, training name) of what the learner can still set goals for."""
    rows = crud.open_enrollments_of(session, learner_id=learner.id, today=today)  # type: ignore[arg-type]
    return [(e.id, t.name) for e, t in rows]  # type: ignore[misc]


def modal_choices(
    session: Session,
    learner: Person,
    today: date,
    *,
    enrollment_id: int | None = None,
    goal: Goal | None = None,
) -> ModalChoices | None:
    """What the goal modal offers; None when the learner has nothing to set a goal for."""
    choices = enrollment_choices(session, learner, today)
    if goal is not None and goal.enrollment_id not in {c[0] for c in choices}:
        enrollment = session.get(Enrollment, goal.enrollment_id)
        training = session.get(Training, enrollment.training_id) if enrollment else None
        choices.append((goal.enrollment_id, training.name if training else ""))
    if enrollment_id is not None:
        choices = [c for c in choices if c[0] == enrollment_id] or choices
    if not choices:
        return None
    selected = goal.enrollment_id if goal else (choices[0][0] if len(choices) == 1 else None)
    meta: dict[str, Any] = {"goal_id": goal.id if goal else None}
    if len(choices) == 1:
        meta["enrollment_id"] = choices[0][0]
    return ModalChoices(choices, selected, goal, meta)


def save(
    session: Session,
    learner: Person,
    *,
    enrollment_id: Any,
    text: str,
    measure: str | None,
    share: bool,
    now: datetime,
    goal_id: Any = None,
) -> Saved:
    """Store (or edit) a goal of one of the learner's own current enrollments."""
    check(text, measure)
    try:
        enrollment = session.get(Enrollment, int(enrollment_id))
    except (TypeError, ValueError):
        enrollment = None
    if (
        enrollment is None
        or enrollment.learner_id != learner.id
        or enrollment.status != EnrollmentStatus.ENROLLED
    ):
        raise GoalError(GoalField.ENROLLMENT, "validation.not_your_enrollment")
    if goal_id is not None:
        goal = own_goal(session, goal_id, learner)
        if goal is None:
            raise GoalError(GoalField.TEXT, "ephemeral.goal_not_found")
        changed = (goal.text, goal.measure, goal.enrollment_id) != (text, measure, enrollment.id)
        newly_shared = share and (not goal.shared or changed)
        # Unshared, or moved to another training: no longer a question for whom it was.
        left = goal.enrollment_id if (goal.shared and not share) or changed else None
        goal.text, goal.measure, goal.enrollment_id = text, measure, enrollment.id  # type: ignore[assignment]
        goal.shared, goal.updated_at = share, now
    else:
        goal = Goal(
            enrollment_id=enrollment.id,  # type: ignore[arg-type]
            learner_id=learner.id,  # type: ignore[arg-type]
            text=text,
            measure=measure,
            shared=share,
            created_at=now,
            updated_at=now,
        )
        newly_shared = share
        left = None
    if newly_shared:
        goal.shared_at = now
    session.add(goal)
    session.flush()
    if left is not None:
        followup.settle(session, enrollment_id=left, now=now)
    training = session.get(Training, enrollment.training_id)
    assert training is not None
    log.info("goal.saved goal=%s enrollment=%s shared=%s", goal.id, enrollment.id, share)
    tell = newly_shared and enrollment.manager_id is not None
    nudge = _share_nudge(session, goal, enrollment, now) if tell else None
    return Saved(goal, training, tell, nudge.id if nudge else None)


def _share_nudge(session: Session, goal: Goal, enrollment: Enrollment, now: datetime) -> Nudge:
    """The goal goes to the manager in their day's message: a nudge due now (the dispatcher
    sends it at once inside their window, adds it to today's message, or waits)."""
    assert goal.id is not None and enrollment.manager_id is not None
    nudge = Nudge(
        enrollment_id=enrollment.id,  # type: ignore[arg-type]
        kind=NudgeKind.GOAL_SHARED,
        recipient_id=enrollment.manager_id,
        goal_id=goal.id,
        due_at=now,
        idempotency_key=goal_shared_key(
            goal.id, crud.count_goal_shares(session, goal_id=goal.id) + 1
        ),
        created_at=now,
        updated_at=now,
    )
    session.add(nudge)
    session.flush()
    return nudge


def goals_of(session: Session, learner: Person) -> Sequence[tuple[Goal, Training]]:
    return crud.goals_of_learner(session, learner_id=learner.id)  # type: ignore[arg-type]


def own_goal(session: Session, goal_id: Any, learner: Person | None) -> Goal | None:
    """The goal `goal_id`, if it is the learner's own."""
    try:
        goal = session.get(Goal, int(goal_id))
    except (TypeError, ValueError):
        return None
    if goal is None or learner is None or goal.learner_id != learner.id:
        return None
    return goal


def delete(session: Session, goal_id: Any, learner: Person | None, *, now: datetime) -> bool:
    """Delete one of the learner's own goals; False when it is not theirs (or gone)."""
    goal = own_goal(session, goal_id, learner)
    if goal is None:
        return False
    session.delete(goal)
    session.flush()
    followup.settle(session, enrollment_id=goal.enrollment_id, now=now)
    log.info("goal.deleted goal=%s", goal_id)
    return True
