"""The follow-up's Success Case question: was each goal (or the training) applied, and with
what result. One answer per subject, by the follow-up's recipient; the follow-up itself is
answered, as the metrics and reminders know it, once every subject has its answer."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.core.answers import (
    ANSWERABLE,
    Answer,
    Refusal,
    RefusalReason,
    nudge_for_actor,
    record_answer,
)
from bot.core.limits import FOLLOW_UP_GOALS_MAX
from storage import crud
from storage.models import (
    CASE_OUTCOMES,
    CaseAnswer,
    CaseRecord,
    CaseSide,
    ConversationRecord,
    Nudge,
    NudgeKind,
    Outcome,
    Person,
)

log = logging.getLogger(__name__)

FOLLOW_UPS = (NudgeKind.FOLLOW_UP, NudgeKind.LEARNER_FOLLOW_UP)
TRAINING_SUBJECT = "training"
# The follow-up's outcome is its best subject's: applied, else partly, else not yet.
_OUTCOME_RANK = (Outcome.APPLIED, Outcome.PARTLY, Outcome.NOT_YET)


def goal_subject(goal_id: int) -> str:
    return f"goal:{goal_id}"


def subjects_for(goal_ids: Iterable[int]) -> list[str]:
    """What a follow-up asks about: each goal its reader sees (the first
    FOLLOW_UP_GOALS_MAX), or the training when none."""
    asked = [goal_subject(goal_id) for goal_id in goal_ids][:FOLLOW_UP_GOALS_MAX]
    return asked or [TRAINING_SUBJECT]


def goal_of(subject: str) -> int | None:
    kind, _, goal_id = subject.partition(":")
    return int(goal_id) if kind == "goal" and goal_id.isdigit() else None


def side_of(nudge: Nudge) -> CaseSide:
    return CaseSide.LEARNER if nudge.kind == NudgeKind.LEARNER_FOLLOW_UP else CaseSide.MANAGER


def subjects(session: Session, nudge: Nudge) -> list[str]:
    """The subjects of a follow-up: the learner is asked about every goal they set for the
    enrollment, the manager about the goals the learner shared."""
    goals = crud.goals_of_enrollment(
        session, enrollment_id=nudge.enrollment_id, shared_only=side_of(nudge) == CaseSide.MANAGER
    )
    return subjects_for(g.id for g in goals if g.id is not None)


def best_outcome(answers: Iterable[str]) -> Outcome:
    outcomes = {CASE_OUTCOMES[CaseAnswer(answer)] for answer in answers}
    return next(o for o in _OUTCOME_RANK if o.value in outcomes)


@dataclass(frozen=True)
class CaseAnswered:
    """One subject answered; `record` is the follow-up's own, when this answer completed it."""

    nudge: Nudge
    case: CaseRecord
    actor: Person
    record: ConversationRecord | None


def answer_case(
    session: Session,
    *,
    nudge_id: Any,
    subject: str,
    answer: CaseAnswer,
    actor: str,
    now: datetime,
) -> CaseAnswered:
    """Record the recipient's answer about one subject of a follow-up, once; the last subject
    answered also answers the follow-up (its ConversationRecord, its reminders closed)."""
    nudge = nudge_for_actor(session, nudge_id, actor)
    if nudge.kind not in FOLLOW_UPS:
        raise Refusal(RefusalReason.ALREADY_ANSWERED)
    # Two subjects answered at once must see each other's answer: one at a time per nudge.
    session.exec(select(Nudge.id).where(col(Nudge.id) == nudge.id).with_for_update()).first()
    asked = subjects(session, nudge)
    if subject not in asked:  # a goal deleted since, or a forged value
        raise Refusal(RefusalReason.ALREADY_ANSWERED)
    person = crud.person_by_slack_id(session, slack_id=actor)
    assert person is not None and nudge.id is not None  # nudge_for_actor found the recipient
    case = CaseRecord(
        nudge_id=nudge.id,
        enrollment_id=nudge.enrollment_id,
        goal_id=goal_of(subject),
        subject=subject,
        side=side_of(nudge),
        follow_up_round=nudge.follow_up_round or 1,
        answered_by=person.id,
        answer=answer,
        answered_at=now,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        raise Refusal(RefusalReason.ALREADY_ANSWERED) from None  # a double click
    log.info("case.recorded nudge=%s case=%s answer=%s", nudge.id, case.id, answer.value)
    record = _answer_if_complete(session, nudge, asked, actor=person, now=now)
    return CaseAnswered(nudge, case, person, record)


def _answer_if_complete(
    session: Session, nudge: Nudge, asked: list[str], *, actor: Person, now: datetime
) -> ConversationRecord | None:
    """The follow-up's own answer, its best subject's, once every subject `asked` has one."""
    given = {c.subject: c.answer for c in crud.cases_of_nudge(session, nudge_id=nudge.id)}  # type: ignore[arg-type]
    if not given or not set(asked) <= set(given):
        return None
    outcome = best_outcome(given[s] for s in asked)
    return record_answer(session, nudge, Answer(outcome=outcome), actor=actor, now=now)


def settle(session: Session, *, enrollment_id: int, now: datetime) -> None:
    """After a goal went away (deleted, or no longer shared): an open follow-up of the
    enrollment whose remaining subjects all have their answer is answered now, or it would
    wait for a click that can no longer come."""
    for nudge in session.exec(
        select(Nudge).where(
            Nudge.enrollment_id == enrollment_id,
            col(Nudge.kind).in_(FOLLOW_UPS),
            col(Nudge.status).in_(ANSWERABLE),
        )
    ):
        recipient = session.get(Person, nudge.recipient_id)
        if recipient is not None:
            _answer_if_complete(session, nudge, subjects(session, nudge), actor=recipient, now=now)


def answer_open_subjects(
    session: Session, *, nudge_id: Any, answer: CaseAnswer, actor: str, now: datetime
) -> CaseAnswered:
    """One answer for every subject of a follow-up still open: a click on the buttons of a
    follow-up sent before the Success Case question, which asked about the whole training."""
    nudge = nudge_for_actor(session, nudge_id, actor)
    given = {c.subject for c in crud.cases_of_nudge(session, nudge_id=nudge.id)}  # type: ignore[arg-type]
    open_subjects = [s for s in subjects(session, nudge) if s not in given]
    if not open_subjects:
        raise Refusal(RefusalReason.ALREADY_ANSWERED)
    for subject in open_subjects:
        done = answer_case(
            session, nudge_id=nudge.id, subject=subject, answer=answer, actor=actor, now=now
        )
    return done


def describe_case(
    session: Session,
    *,
    case_id: Any,
    actor: str,
    result: str | None,
    evidence: str | None,
    consent: bool,
) -> CaseRecord | None:
    """The optional modal after an answer: what result, how they know, and (the learner's
    only) whether L&D may contact them. None when the answer is not the actor's."""
    try:
        case = session.get(CaseRecord, int(case_id))
    except (TypeError, ValueError):
        case = None
    person = crud.person_by_slack_id(session, slack_id=actor)
    if case is None or person is None or case.answered_by != person.id:
        return None
    case.result, case.evidence = result, evidence
    case.consent = consent and case.side == CaseSide.LEARNER
    session.add(case)
    log.info("case.described case=%s consent=%s", case.id, case.consent)
    return case
