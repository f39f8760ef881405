"""The App Home tab: what waits for a manager, a learner's own trainings and goals, and the
L&D lead's headline numbers, each person seeing only their own."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, func, or_, select

from bot.core.digest import latest_chart
from bot.core.reporting import cases_to_follow_up, headline_numbers
from bot.core.trainings import TrainingWhy, trainings_to_review
from bot.services import Services
from bot.slack import blocks
from bot.slack.blocks.evidence import evidence_blocks
from bot.slack.delivery import nudge_context
from storage import crud
from storage.models import (
    MANAGER_PROMPTS,
    ConversationRecord,
    Enrollment,
    EnrollmentStatus,
    Goal,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Person,
    Training,
)

log = logging.getLogger(__name__)

RECENT_DAYS = 7
ANSWERABLE_KINDS = (*MANAGER_PROMPTS, NudgeKind.LEARNER_FOLLOW_UP)


def _name(person: Person | None) -> str:
    return (person.name or person.email or "") if person else ""


def build_home(services: Services, user_id: str, start: int = 0) -> dict[str, Any]:
    """The tab of `user_id`, their open prompts from the `start`-th one (from 0)."""
    settings = services.settings
    today = services.clock().date()
    with services.db.session() as session:
        me = crud.person_by_slack_id(session, slack_id=user_id)
        sections: dict[str, Any] = {}
        if me is not None and me.id is not None:
            sections = _manager_sections(session, me.id, today, start) | _learner_sections(
                session, me.id, today
            )
        sharing_on = me.share_goals if me else True
        # The tab is read by its owner alone: their language, from the row just read.
        prompts = services.catalogues.for_locale(me.locale if me else None)
    # Outside the session above: the numbers open their own, and on SQLite a second write
    # transaction in the same thread would wait for the first one forever.
    lead = services.is_ld_lead(user_id)
    numbers: list[tuple[str, str]] = []
    evidence: list[dict[str, Any]] = []
    trainings: tuple[list[TrainingWhy], int] = ([], 0)
    if lead:
        now = services.clock()
        numbers = headline_numbers(services.db, settings, now, prompts=prompts)
        evidence = evidence_blocks(
            prompts,
            chart=latest_chart(services.db, settings, user_id),
            cases=cases_to_follow_up(services.db, settings, now),
        )
        with services.db.session() as session:
            trainings = trainings_to_review(session, today=today, limit=blocks.HOME_TRAININGS_MAX)
    return blocks.home_view(
        prompts,
        is_ld_lead=lead,
        ld_numbers=numbers,
        ld_evidence=evidence,
        sharing_on=sharing_on,
        ld_trainings=trainings,
        **sections,
    )


def _manager_sections(session: Session, me: int, today: Any, start: int) -> dict[str, Any]:
    mine = (
        Nudge.recipient_id == me,
        col(Nudge.kind).in_(ANSWERABLE_KINDS),
        Nudge.status == NudgeStatus.SENT,
    )
    total = session.exec(select(func.count()).select_from(Nudge).where(*mine)).one()
    # A page past the end (prompts answered meanwhile) shows the last one there is.
    start = max(0, min(start, total - 1))
    waiting = session.exec(
        select(Nudge)
        .where(*mine)
        .order_by(col(Nudge.sent_at).desc(), col(Nudge.id).desc())
        .offset(start)
        .limit(blocks.HOME_OPEN_PROMPTS_MAX)
    ).all()
    open_prompts = [nudge_context(session, n) for n in waiting]
    rows = session.exec(
        select(Enrollment, Training, Person)
        .join(Training, col(Training.id) == Enrollment.training_id)
        .join(Person, col(Person.id) == Enrollment.learner_id)
        .where(
            Enrollment.manager_id == me,
            Enrollment.status == EnrollmentStatus.ENROLLED,
            or_(
                col(Enrollment.ends_on) >= today - timedelta(days=RECENT_DAYS),
                col(Enrollment.ends_on).is_(None),  # self-paced, under way
            ),
        )
        .order_by(col(Enrollment.starts_on))
        .limit(50)
    ).all()
    trainings = [
        blocks.TrainingView(t.name, e.starts_on, e.ends_on, _name(p), p.slack_id)
        for e, t, p in rows
    ]
    records = session.exec(
        select(ConversationRecord, Enrollment, Training, Person)
        .join(Enrollment, col(Enrollment.id) == ConversationRecord.enrollment_id)
        .join(Training, col(Training.id) == Enrollment.training_id)
        .join(Person, col(Person.id) == Enrollment.learner_id)
        .where(ConversationRecord.answered_by == me, Enrollment.learner_id != me)
        .order_by(col(ConversationRecord.answered_at).desc())
        .limit(15)
    ).all()
    logged = [
        blocks.RecordView(r.answered_at.date(), r.kind, r.outcome, t.name, _name(p), p.slack_id)
        for r, e, t, p in records
    ]
    return {
        "open_prompts": open_prompts,
        "open_total": total,
        "open_start": start,
        "reports_trainings": trainings,
        "logged_before": logged,
    }


def _learner_sections(session: Session, me: int, today: Any) -> dict[str, Any]:
    mine = crud.open_enrollments_of(session, learner_id=me, today=today)
    trainings = [blocks.TrainingView(t.name, e.starts_on, e.ends_on) for e, t in mine]
    goals = session.exec(
        select(Goal, Training)
        .join(Enrollment, col(Enrollment.id) == Goal.enrollment_id)
        .join(Training, col(Training.id) == Enrollment.training_id)
        .where(Goal.learner_id == me)
        .order_by(col(Goal.id).desc())
        .limit(20)
    ).all()
    my_goals = [
        (blocks.GoalView(g.id, g.text, g.measure, g.shared), t.name)  # type: ignore[arg-type]
        for g, t in goals
    ]
    coming = session.exec(
        select(Nudge, Training)
        .join(Enrollment, col(Enrollment.id) == Nudge.enrollment_id)
        .join(Training, col(Training.id) == Enrollment.training_id)
        .where(
            Enrollment.learner_id == me,
            Nudge.status == NudgeStatus.PENDING,
            # Reminders, and the goals the learner shared on their way to the manager, are
            # not the learner's to look forward to.
            col(Nudge.kind).not_in([NudgeKind.REMINDER, NudgeKind.GOAL_SHARED]),
        )
        .order_by(col(Nudge.due_at))
        .limit(10)
    ).all()
    coming_next = [blocks.ComingView(n.due_at.date(), n.kind, t.name) for n, t in coming]
    return {"my_trainings": trainings, "my_goals": my_goals, "coming_next": coming_next}


def publish_home(services: Services, user_id: str) -> None:
    view = build_home(services, user_id)
    services.client.views_publish(user_id=user_id, view=view)
