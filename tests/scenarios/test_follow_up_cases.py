"""The follow-up's Success Case question, answered in Slack by the learner and the manager:
per goal (or the training), one click each, an optional modal for what came of it, and the
learner's consent to be contacted. Signed requests to the real app, DMs from the real
dispatcher; assertions on what reached the fake Slack and what was stored."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select
from support import Bot, Clock, ada_and_grace, dispatch_due, eventually, start_bot

from bot.sim.driver import checkbox_value, text_value
from bot.sim.fakeslack import FakeSlack
from bot.slack.ids import CONSENT_OPTION_VALUE, Action, Block, View
from storage.db import Database
from storage.models import (
    CASE_OUTCOMES,
    CaseAnswer,
    CaseRecord,
    ConversationRecord,
    Goal,
    Nudge,
)

FOLLOW = datetime(2027, 1, 8, 9, 31, tzinfo=UTC)  # 30 days after 9 December, a Friday
SECOND = datetime(2027, 3, 9, 9, 31, tzinfo=UTC)  # 90 days after, a Tuesday
ANSWERS = {
    CaseAnswer.CLEAR_RESULTS: Action.CASE_CLEAR_RESULTS,
    CaseAnswer.NO_CLEAR_RESULTS: Action.CASE_NO_CLEAR_RESULTS,
    CaseAnswer.DIDNT_STICK: Action.CASE_DIDNT_STICK,
    CaseAnswer.NOT_APPLIED: Action.CASE_NOT_APPLIED,
}


def _follow_up_dm(bot: Bot, user: str, when: datetime = FOLLOW) -> dict[str, Any]:
    """The newest DM to `user` asking the question, as it was sent (the fake updates the
    stored message in place when the app edits it)."""
    bot.clock.set(when)
    dispatch_due(bot)
    asking = [m for m in bot.fake.dms_to(user) if _values(m)]
    assert asking, f"no follow-up DM to {user}"
    return copy.deepcopy(asking[-1])


def _current(bot: Bot, message: dict[str, Any]) -> dict[str, Any]:
    """A message the app sent, as it stands now (after its updates in place)."""
    return next(m for m in bot.fake.messages_in(message["channel"]) if m["ts"] == message["ts"])


def _values(message: dict[str, Any], action: Action = Action.CASE_CLEAR_RESULTS) -> list[str]:
    return [
        element["value"]
        for block in message.get("blocks") or []
        for element in block.get("elements") or []
        if element.get("action_id") == action
    ]


def _cases(bot: Bot) -> list[CaseRecord]:
    with bot.db.session() as s:
        return list(s.exec(select(CaseRecord).order_by(CaseRecord.id)).all())  # type: ignore[arg-type]


def _record(bot: Bot, kind: str) -> ConversationRecord | None:
    with bot.db.session() as s:
        return s.exec(select(ConversationRecord).where(ConversationRecord.kind == kind)).first()


def _nudge(bot: Bot, kind: str, follow_up_round: int = 1) -> Nudge:
    with bot.db.session() as s:
        rows = s.exec(select(Nudge).where(Nudge.kind == kind)).all()
    return next(n for n in rows if (n.follow_up_round or 1) == follow_up_round)


def _answer(bot: Bot, dm: dict[str, Any], answer: CaseAnswer, value: str, user: str) -> None:
    """A click on one answer: the modal opens first, then the DM is updated in place."""
    views, updates = bot.fake.count("views.open"), bot.fake.count("chat.update")
    assert bot.click(dm, ANSWERS[answer], user=user, value=value).status == 200
    bot.fake.wait_for_calls("views.open", views + 1)
    bot.fake.wait_for_calls("chat.update", updates + 1)


def _goals(bot: Bot, *goals: str) -> None:
    for number, goal in enumerate(goals, 1):
        bot.command("/goal", goal, user="UADA")

        def saved(number: int = number) -> bool:
            with bot.db.session() as s:
                return len(s.exec(select(Goal)).all()) == number

        eventually(saved)


def test_the_learner_answers_about_each_goal_and_the_follow_up_closes_with_both(
    bot: Bot,
) -> None:
    ada_and_grace(bot)
    _goals(bot, "Ask one open question in every 1:1", "Agree on one next step per meeting")
    dm = _follow_up_dm(bot, "UADA")
    first, second = _values(dm)
    assert _values(dm, Action.CASE_NOT_APPLIED) == [first, second]  # four buttons per goal
    assert "Ask one open question" in str(dm["blocks"]) and first.endswith(":goal:1")

    bot.clock.set(FOLLOW.replace(hour=11))
    _answer(bot, dm, CaseAnswer.CLEAR_RESULTS, first, "UADA")
    (case,) = _cases(bot)
    nudge = _nudge(bot, "learner_follow_up")
    assert (case.nudge_id, case.subject, case.goal_id, case.side) == (
        nudge.id,
        "goal:1",
        1,
        "learner",
    )
    assert (case.answer, case.follow_up_round, case.answered_at) == (
        "clear_results",
        1,
        FOLLOW.replace(hour=11),
    )
    assert nudge.status == "sent" and _record(bot, "learner_follow_up") is None, "one goal open"
    updated = _current(bot, dm)
    assert _values(updated) == [second], "the answered goal shows its answer instead"
    assert "Your answer: *Yes, with clear results*" in str(updated["blocks"])

    modal = bot.opened_view()
    assert modal["callback_id"] == View.CASE
    assert "Ask one open question" in str(modal["blocks"])
    consent = next(b for b in modal["blocks"] if b.get("block_id") == Block.CONSENT)
    assert "initial_options" not in consent["element"], "consent is off unless ticked"
    bot.submit(
        modal,
        {
            Block.RESULT: text_value("My 1:1s end with a plan my report wrote"),
            Block.EVIDENCE: text_value("Two reports said so in the retro"),
            Block.CONSENT: checkbox_value([CONSENT_OPTION_VALUE]),
        },
        user="UADA",
    )
    (case,) = _cases(bot)
    assert (case.result, case.evidence, case.consent) == (
        "My 1:1s end with a plan my report wrote",
        "Two reports said so in the retro",
        True,
    )

    # A second click on the answered goal is refused politely and stores nothing.
    bot.click(dm, Action.CASE_NOT_APPLIED, user="UADA", value=first)
    refusal = bot.fake.wait_for_calls("chat.postEphemeral")[-1]
    assert "already taken care of" in refusal.params["text"]
    assert [c.answer for c in _cases(bot)] == ["clear_results"]

    # The other goal: closing its modal keeps the answer, and the follow-up is answered.
    _answer(bot, dm, CaseAnswer.DIDNT_STICK, second, "UADA")
    assert [(c.subject, c.answer, c.consent) for c in _cases(bot)] == [
        ("goal:1", "clear_results", True),
        ("goal:2", "didnt_stick", False),
    ]
    record = _record(bot, "learner_follow_up")
    assert record is not None and record.outcome == "applied", "the best answer counts"
    assert _nudge(bot, "learner_follow_up").status == "answered"
    closed = _current(bot, dm)
    assert _values(closed) == [] and "Tried, but it didn't stick" in str(closed["blocks"])


def test_the_manager_is_asked_about_shared_goals_and_no_consent_is_theirs(bot: Bot) -> None:
    ada_and_grace(bot)
    _goals(bot, "Ask one open question in every 1:1")
    dm = _follow_up_dm(bot, "UGRACE")
    (value,) = _values(dm)
    clear = next(
        e
        for b in dm["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == Action.CASE_CLEAR_RESULTS
    )
    assert clear["style"] == "primary" and value.endswith(":goal:1")
    assert {Action.REMIND_TOMORROW, Action.NOT_NEEDED} <= {
        e.get("action_id") for b in dm["blocks"] for e in b.get("elements") or []
    }
    # Only the recipient may answer: Ada's click on her manager's DM stores nothing.
    bot.click(dm, Action.CASE_CLEAR_RESULTS, user="UADA", value=value)
    refusal = bot.fake.wait_for_calls("chat.postEphemeral")[-1]
    assert "Only <@UGRACE>" in refusal.params["text"] and _cases(bot) == []

    _answer(bot, dm, CaseAnswer.NO_CLEAR_RESULTS, value, "UGRACE")
    modal = bot.opened_view()
    assert Block.CONSENT not in {b.get("block_id") for b in modal["blocks"]}
    bot.submit(
        modal,
        {
            Block.RESULT: text_value("She runs the retro herself"),
            Block.EVIDENCE: text_value("x" * 3001),
        },
        user="UGRACE",
    )
    answer = bot.submit(
        modal,
        {
            Block.RESULT: text_value("She runs the retro herself"),
            # A forged checkbox on the manager's modal gives no consent: it is the learner's.
            Block.CONSENT: checkbox_value([CONSENT_OPTION_VALUE]),
        },
        user="UGRACE",
    )
    assert answer.status == 200
    (case,) = _cases(bot)
    assert (case.side, case.answer, case.result, case.consent) == (
        "manager",
        "no_clear_results",
        "She runs the retro herself",
        False,
    )
    record = _record(bot, "follow_up")
    assert record is not None and record.outcome == "applied"
    with bot.db.session() as s:
        reminders = s.exec(select(Nudge).where(Nudge.kind == "reminder")).all()
    follow_up = _nudge(bot, "follow_up")
    assert {r.status for r in reminders if r.parent_id == follow_up.id} <= {"cancelled"}
    # The follow-up's part of the day's message asks nothing more.
    assert str(follow_up.id) not in _values(_current(bot, dm), Action.REMIND_TOMORROW)


def test_a_too_long_result_is_refused_in_the_modal(bot: Bot) -> None:
    ada_and_grace(bot)
    dm = _follow_up_dm(bot, "UADA")
    (value,) = _values(dm)
    _answer(bot, dm, CaseAnswer.CLEAR_RESULTS, value, "UADA")
    answer = bot.submit(
        bot.opened_view(), {Block.EVIDENCE: text_value("x" * 3001)}, user="UADA"
    ).json()
    assert answer["response_action"] == "errors" and "3,000" in answer["errors"][Block.EVIDENCE]
    (case,) = _cases(bot)
    assert case.evidence is None and case.answer == "clear_results", "the answer is kept"


@pytest.mark.parametrize("answer", list(CaseAnswer))
def test_without_a_goal_both_sides_are_asked_about_the_training(
    bot: Bot, answer: CaseAnswer
) -> None:
    ada_and_grace(bot)
    learner_dm = _follow_up_dm(bot, "UADA")
    manager_dm = _follow_up_dm(bot, "UGRACE")
    for dm, user in ((learner_dm, "UADA"), (manager_dm, "UGRACE")):
        (value,) = _values(dm)
        assert value.endswith(":training")
        _answer(bot, dm, answer, value, user)
    assert {(c.side, c.subject, c.goal_id, c.answer, c.consent) for c in _cases(bot)} == {
        ("learner", "training", None, answer.value, False),
        ("manager", "training", None, answer.value, False),
    }
    for kind in ("follow_up", "learner_follow_up"):
        record = _record(bot, kind)
        assert record is not None and record.outcome == CASE_OUTCOMES[answer]


def test_a_follow_up_in_a_day_message_of_two_learners_keeps_the_other_part(bot: Bot) -> None:
    ada_and_grace(bot)
    bot.fake.add_user("UBEN", email="ben@example.org", real_name="Ben", tz="UTC")
    response = bot.webhook(
        {
            "external_id": "lms-2",
            "learner_email": "ben@example.org",
            "manager_email": "grace@example.org",
            "training": "Coaching Skills",
            "starts_on": "2026-12-08",
            "ends_on": "2026-12-09",
        }
    )
    assert response.status == 201
    dm = _follow_up_dm(bot, "UGRACE")
    ada_value, ben_value = _values(dm)
    assert ada_value != ben_value and "<@UADA>" in str(dm["blocks"]) and "<@UBEN>" in str(dm)
    _answer(bot, dm, CaseAnswer.CLEAR_RESULTS, ada_value, "UGRACE")
    update = bot.fake.wait_for_calls("chat.update")[-1]
    assert update.params["ts"] == dm["ts"]
    bundle = _current(bot, dm)
    assert _values(bundle) == [ben_value], "Ben's part keeps its buttons"
    assert "Your answer: *Yes, with clear results*" in str(bundle["blocks"])
    ada_nudge, ben_nudge = (value.partition(":")[0] for value in (ada_value, ben_value))
    still_open = _values(bundle, Action.REMIND_TOMORROW)
    assert ben_nudge in still_open and ada_nudge not in still_open, "Ben's part stays open"
    _answer(bot, dm, CaseAnswer.NOT_APPLIED, ben_value, "UGRACE")
    assert _values(_current(bot, dm)) == []
    with bot.db.session() as s:
        outcomes = {
            r.outcome
            for r in s.exec(
                select(ConversationRecord).where(ConversationRecord.kind == "follow_up")
            )
        }
    assert outcomes == {"applied", "not_yet"}


def test_the_open_follow_up_can_be_answered_from_app_home(bot: Bot) -> None:
    ada_and_grace(bot)
    dm = _follow_up_dm(bot, "UGRACE")
    publishes = bot.fake.count("views.publish")
    bot.event({"type": "app_home_opened", "user": "UGRACE", "tab": "home"})
    home = bot.fake.wait_for_calls("views.publish", publishes + 1)[-1].params["view"]
    home = {**home, "type": "home", "id": "VHOME"}
    (value,) = _values(home)
    assert value == _values(dm)[0]
    bot.click(home, Action.CASE_DIDNT_STICK, user="UGRACE", value=value)
    eventually(lambda: len(_cases(bot)) == 1)
    assert _cases(bot)[0].answer == "didnt_stick"
    eventually(lambda: _values(_current(bot, dm)) == [])  # the DM is updated too


def test_a_second_round_is_planned_sent_and_answered_on_its_own(
    fake: FakeSlack, db: Database, clock: Clock, db_url: str
) -> None:
    bot, server = start_bot(fake, db, clock, db_url, follow_up_days=(30, 90))
    try:
        ada_and_grace(bot)
        first = _follow_up_dm(bot, "UADA")
        _answer(bot, first, CaseAnswer.NO_CLEAR_RESULTS, _values(first)[0], "UADA")
        second_round = _nudge(bot, "follow_up", 2)
        assert second_round.status == "pending" and second_round.follow_up_round == 2
        learner_dm = _follow_up_dm(bot, "UADA", SECOND)
        manager_dm = _follow_up_dm(bot, "UGRACE", SECOND)
        assert _nudge(bot, "learner_follow_up", 2).ts == learner_dm["ts"]
        assert _nudge(bot, "follow_up", 2).ts == manager_dm["ts"]
        assert "Checking in again" in str(learner_dm["blocks"]), "no longer 'a month on'"
        _answer(bot, learner_dm, CaseAnswer.CLEAR_RESULTS, _values(learner_dm)[0], "UADA")
        assert [(c.follow_up_round, c.answer) for c in _cases(bot)] == [
            (1, "no_clear_results"),
            (2, "clear_results"),
        ]
        # Each round is reminded like any manager prompt.
        with bot.db.session() as s:
            reminders = s.exec(select(Nudge).where(Nudge.kind == "reminder")).all()
        assert _nudge(bot, "follow_up", 2).id in {r.parent_id for r in reminders}
    finally:
        server.close()


def test_applied_partly_not_yet_on_a_follow_up_sent_before_the_question_still_count(
    bot: Bot,
) -> None:
    """A DM sent before the upgrade still has the old buttons: a click answers each subject
    as migration 0010 maps those answers, and the DM shows the question as it is now."""
    ada_and_grace(bot)
    _goals(bot, "Ask one open question in every 1:1", "Agree on one next step per meeting")
    dm = _follow_up_dm(bot, "UADA")
    nudge = _nudge(bot, "learner_follow_up")
    earlier = copy.deepcopy(dm)
    earlier["blocks"] = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": old, "value": str(nudge.id), "text": {}}
                for old in ("followup_applied", "followup_partly", "followup_not_yet")
            ],
        }
    ]
    assert bot.click(earlier, "followup_partly", user="UADA").status == 200
    eventually(lambda: len(_cases(bot)) == 2)
    assert {(c.subject.split(":")[0], c.answer) for c in _cases(bot)} == {
        ("goal", CaseAnswer.DIDNT_STICK.value)
    }
    record = _record(bot, "learner_follow_up")
    assert record is not None and record.outcome == "partly"
    eventually(lambda: not _values(_current(bot, dm)))  # no question left open in the DM
    # A second click on the old buttons is told it was answered, and changes nothing.
    bot.click(earlier, "followup_applied", user="UADA")
    eventually(lambda: bot.fake.count("chat.postEphemeral") >= 1)
    assert len(_cases(bot)) == 2


def test_a_goal_deleted_after_the_others_were_answered_closes_the_follow_up(bot: Bot) -> None:
    """Grace answered about the first goal; Ada then deletes the second, the one question
    left: the follow-up is answered, not left waiting for a click that cannot come."""
    ada_and_grace(bot)
    _goals(bot, "Ask one open question in every 1:1", "Agree on one next step per meeting")
    dm = _follow_up_dm(bot, "UGRACE")
    first, second = _values(dm)
    _answer(bot, dm, CaseAnswer.CLEAR_RESULTS, first, "UGRACE")
    assert _record(bot, "follow_up") is None  # one question still open
    responses = len(bot.fake.responses)
    bot.command("/goal", "list", user="UADA")
    listing = bot.fake.wait_for_responses(responses + 1)[-1]
    delete = next(
        e
        for b in listing["blocks"]
        for e in b.get("elements") or [b.get("accessory") or {}]
        if e.get("action_id") == Action.DELETE_GOAL and e.get("value") == second.split(":")[-1]
    )
    assert (
        bot.click(
            {"blocks": [{"type": "actions", "elements": [delete]}]}, Action.DELETE_GOAL, user="UADA"
        ).status
        == 200
    )
    eventually(lambda: _record(bot, "follow_up") is not None)
    record = _record(bot, "follow_up")
    assert record is not None and record.outcome == "applied"
    assert _nudge(bot, "follow_up").status == "answered"
