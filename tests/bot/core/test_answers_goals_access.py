"""The domain core on its own: answers, goals and who may enroll whom, on real databases,
without Slack, HTTP or a listener."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.core import answers, goals
from bot.core.access import LEARNER, MANAGER, Refused, enroll_refusal
from bot.core.answers import Answer, Refusal, RefusalReason
from bot.core.enrollment import EnrollmentInput, Intake
from bot.core.goals import GoalError, GoalField
from bot.core.limits import GOAL_TEXT_MAX
from scheduler.planning import Rules
from storage import crud
from storage.db import Database
from storage.models import Nudge, NudgeKind, NudgeStatus, Outcome, Quadrant, Source

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("learner", "org", "expected"),
    [
        (3, 3, Quadrant.SWEET_SPOT),
        (2, 2, Quadrant.SWEET_SPOT),
        (1, 3, Quadrant.UPHILL),
        (1, 2, Quadrant.UPHILL),
        (3, 1, Quadrant.GIFT),
        (2, 1, Quadrant.GIFT),
        (1, 1, Quadrant.WASTE),
        (None, 3, None),
        (3, None, None),
        (None, None, None),
    ],
)
def test_quadrant(learner: int | None, org: int | None, expected: Quadrant | None) -> None:
    assert answers.quadrant(learner, org) == expected


@pytest.fixture
def intake(db: Database) -> Intake:
    return Intake(db, rules=Rules(), default_tz="UTC", clock=lambda: NOW)


@pytest.fixture
def team(db: Database) -> dict[str, int]:
    """Maya manages Ada and Grace; Bob manages nobody."""
    with db.session() as session:
        maya = crud.upsert_person(session, slack_id="UMAYA", email="maya@example.org")
        bob = crud.upsert_person(session, slack_id="UBOB", email="bob@example.org")
        ids = {"maya": maya.id, "bob": bob.id}
        for name in ("ada", "grace"):
            person = crud.upsert_person(
                session, slack_id=f"U{name.upper()}", email=f"{name}@example.org"
            )
            person.manager_id = maya.id
            session.add(person)
            session.flush()
            ids[name] = person.id
    return ids  # type: ignore[return-value]


def _enroll(session: Session, intake: Intake, learner: str = "UADA") -> int:
    result = intake.enroll(
        session,
        EnrollmentInput(
            learner=learner,
            training="Coaching Skills",
            starts_on=date(2026, 12, 10),
            ends_on=date(2026, 12, 11),
            source=Source.WEBHOOK,
        ),
    )
    return result.enrollment.id  # type: ignore[return-value]


def _prompt(session: Session, enrollment_id: int, kind: NudgeKind) -> Nudge:
    nudge = session.exec(
        select(Nudge).where(Nudge.enrollment_id == enrollment_id, Nudge.kind == kind)
    ).one()
    nudge.status = NudgeStatus.SENT
    session.add(nudge)
    session.flush()
    return nudge


def test_only_the_recipient_answers_and_only_once(
    db: Database, intake: Intake, team: dict[str, int]
) -> None:
    with db.session() as session:
        prompt = _prompt(session, _enroll(session, intake), NudgeKind.PRE_TRAINING)
        logged = Answer(outcome=Outcome.LOGGED, what="listening", org_importance=3)
        with pytest.raises(Refusal) as refused:
            answers.answer_nudge(session, nudge_id=prompt.id, actor="UBOB", answer=logged, now=NOW)
        assert refused.value.reason is RefusalReason.NOT_YOURS
        assert refused.value.owner_slack_id == "UMAYA"
        done = answers.answer_nudge(
            session, nudge_id=prompt.id, actor="UMAYA", answer=logged, now=NOW
        )
        assert done.record.what == "listening"
        assert done.nudge.status == NudgeStatus.ANSWERED
        with pytest.raises(Refusal) as again:
            answers.answer_nudge(session, nudge_id=prompt.id, actor="UMAYA", answer=logged, now=NOW)
        assert again.value.reason is RefusalReason.ALREADY_ANSWERED


def test_a_thread_note_is_stored_once_and_only_from_the_recipient(
    db: Database, intake: Intake, team: dict[str, int]
) -> None:
    with db.session() as session:
        prompt = _prompt(session, _enroll(session, intake), NudgeKind.DEBRIEF)
        prompt.channel, prompt.ts = "DMAYA", "1700000000.000100"
        session.add(prompt)
        note = {"channel": "DMAYA", "thread_ts": "1700000000.000100", "text": "went well"}
        assert answers.record_thread_note(session, ts="1.2", author="UBOB", now=NOW, **note) is None
        stored = answers.record_thread_note(session, ts="1.3", author="UMAYA", now=NOW, **note)
        assert stored is not None and stored.nudge_id == prompt.id
        retried = answers.record_thread_note(session, ts="1.3", author="UMAYA", now=NOW, **note)
        assert retried is None


def test_goals_are_checked_stored_and_shared_with_the_manager(
    db: Database, intake: Intake, team: dict[str, int]
) -> None:
    with db.session() as session:
        enrollment_id = _enroll(session, intake)
        ada = crud.person_by_slack_id(session, slack_id="UADA")
        grace = crud.person_by_slack_id(session, slack_id="UGRACE")
        assert ada is not None and grace is not None
        with pytest.raises(GoalError) as too_long:
            goals.save(
                session,
                ada,
                enrollment_id=enrollment_id,
                text="x" * (GOAL_TEXT_MAX + 1),
                measure=None,
                share=True,
                now=NOW,
            )
        assert (too_long.value.field, too_long.value.key) == (
            GoalField.TEXT,
            "ephemeral.goal_too_long",
        )
        with pytest.raises(GoalError) as not_hers:
            goals.save(
                session,
                grace,
                enrollment_id=enrollment_id,
                text="x",
                measure=None,
                share=True,
                now=NOW,
            )
        assert not_hers.value.field == GoalField.ENROLLMENT
        saved = goals.save(
            session,
            ada,
            enrollment_id=enrollment_id,
            text="Ask one open question per 1:1",
            measure="my team says so",
            share=True,
            now=NOW,
        )
        assert saved.tell_manager
        share = session.get(Nudge, saved.share_nudge_id)
        assert share is not None and (share.kind, share.goal_id) == ("goal_shared", saved.goal.id)
        assert share.recipient_id == team["maya"] and share.due_at == NOW
        assert not goals.delete(session, saved.goal.id, grace, now=NOW)
        assert goals.delete(session, saved.goal.id, ada, now=NOW)
        assert goals.goals_of(session, ada) == []


def test_only_leads_and_managers_enroll_others(db: Database, team: dict[str, int]) -> None:
    with db.session() as session:

        def refusal(actor: str, learners: list[str], manager: str | None = None) -> Any:
            lead = actor == "ULEAD"
            return enroll_refusal(
                session, actor=actor, is_lead=lead, learners=learners, manager=manager
            )

        assert refusal("UMAYA", ["UADA", "UGRACE"]) is None
        assert refusal("UADA", ["UADA"]) is None  # oneself
        assert refusal("UBOB", ["UADA"]) == Refused(LEARNER, "UADA")
        assert refusal("ULEAD", ["UADA"], manager="UBOB") is None
        assert refusal("UBOB", ["UADA"], manager="UMAYA") == Refused(LEARNER, "UADA")
        assert refusal("UADA", ["UADA", "UGRACE"], manager="UMAYA") == Refused(LEARNER, "UGRACE")
        assert refusal("UMAYA", ["UGRACE"], manager="UBOB") == Refused(MANAGER, "UBOB")
