"""Managers answer their prompts in Slack: log, snooze, not needed, follow-up, thread replies.

Everything goes through signed requests to the real app, DMs come from the real dispatcher,
and assertions look at what reached the fake Slack and the database.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select
from support import Bot, ada_and_grace, dispatch_due, eventually

from bot.sim.driver import buttons, date_value, radio_value, text_value
from bot.slack.ids import Action, Block, View
from storage.models import CaseRecord, ConversationRecord, Note, Nudge, NudgeStatus


def _setup(bot: Bot) -> None:
    ada_and_grace(bot)


def _prompt(bot: Bot, when: datetime, user: str = "UGRACE") -> dict[str, Any]:
    bot.clock.set(when)
    dispatch_due(bot)
    dms = [m for m in bot.fake.dms_to(user) if not m.get("thread_ts")]
    assert dms, f"no DM to {user}"
    return dms[-1]


def _nudge(bot: Bot, kind: str) -> Nudge:
    with bot.db.session() as s:
        return s.exec(select(Nudge).where(Nudge.kind == kind)).one()


def _records(bot: Bot) -> list[ConversationRecord]:
    with bot.db.session() as s:
        return list(s.exec(select(ConversationRecord)).all())


PRE = datetime(2026, 12, 3, 9, 31, tzinfo=UTC)
DEBRIEF = datetime(2026, 12, 10, 9, 31, tzinfo=UTC)
FOLLOW = datetime(2027, 1, 8, 9, 31, tzinfo=UTC)


def test_pre_training_prompt_has_the_agreements_and_three_buttons(bot: Bot) -> None:
    _setup(bot)
    dm = _prompt(bot, PRE)
    text = str(dm["blocks"])
    assert "Coaching Skills" in text and "<@UADA>" in text
    assert set(buttons(dm)) >= {Action.LOG_CONVERSATION, Action.REMIND_TOMORROW, Action.NOT_NEEDED}
    assert len(bot.fake.dms_to("UGRACE")) == 1  # the learner got their goal invite


def test_logging_the_pre_training_conversation_records_once_and_updates_the_dm(bot: Bot) -> None:
    _setup(bot)
    dm = _prompt(bot, PRE)
    assert bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE").status == 200
    view = bot.opened_view()
    assert view["callback_id"] == View.PRE_TRAINING
    values = {
        Block.WHAT: text_value("Run better 1:1s"),
        Block.WHY: text_value("The team asked for clearer feedback"),
        Block.HOW: text_value("Weekly, starting with Rui"),
        Block.ORG_IMPORTANCE: radio_value("3"),
        Block.CHECKIN_ON: date_value("2026-12-15"),
    }
    first = bot.submit(view, values, user="UGRACE")
    assert first.status == 200 and first.json() in ({}, None)  # a plain ack closes the modal
    second = bot.submit(view, values, user="UGRACE")  # a double submit
    assert second.status == 200
    records = _records(bot)
    assert len(records) == 1
    record = records[0]
    assert (record.what, record.org_importance, str(record.checkin_on)) == (
        "Run better 1:1s",
        3,
        "2026-12-15",
    )
    assert _nudge(bot, "pre_training").status == NudgeStatus.ANSWERED
    update = bot.fake.wait_for_calls("chat.update")[-1]
    assert update.params["ts"] == dm["ts"]
    updated = next(m for m in bot.fake.dms_to("UGRACE") if m["ts"] == dm["ts"])
    assert buttons(updated) == {}  # the buttons are gone, a short record in their place
    assert "Run better 1:1s" in str(updated["blocks"])


def test_modal_errors_are_field_level(bot: Bot) -> None:
    _setup(bot)
    dm = _prompt(bot, PRE)
    bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE")
    view = bot.opened_view()
    empty = {
        Block.WHAT: text_value(""),
        Block.WHY: text_value(""),
        Block.HOW: text_value(""),
        Block.ORG_IMPORTANCE: radio_value(None),
        Block.CHECKIN_ON: date_value("2020-01-01"),
    }
    answer = bot.submit(view, empty, user="UGRACE").json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {Block.WHAT, Block.ORG_IMPORTANCE, Block.CHECKIN_ON}
    long = {
        **empty,
        Block.WHAT: text_value("x" * 3001),
        Block.ORG_IMPORTANCE: radio_value("2"),
        Block.CHECKIN_ON: date_value(None),
    }
    answer = bot.submit(view, long, user="UGRACE").json()
    assert "3,000" in answer["errors"][Block.WHAT]
    assert _records(bot) == []


def test_quadrant_comes_from_both_sides(bot: Bot) -> None:
    _setup(bot)
    invite = _prompt(bot, datetime(2026, 12, 1, 9, 31, tzinfo=UTC), user="UADA")
    bot.click(invite, Action.INTEREST, user="UADA", value=f"{_nudge(bot, 'goal_invite').id}:1")
    bot.fake.wait_for_calls("chat.postEphemeral")  # "Thanks, noted": the answer is stored
    dm = _prompt(bot, PRE)
    bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE")
    values = {Block.WHAT: text_value("Negotiation basics"), Block.ORG_IMPORTANCE: radio_value("3")}
    bot.submit(bot.opened_view(), values, user="UGRACE")
    assert _records(bot)[0].quadrant == "uphill"

    def updated() -> dict[str, Any] | None:
        # The DM is updated after the modal closes.
        message = next(m for m in bot.fake.dms_to("UGRACE") if m["ts"] == dm["ts"])
        return message if "Uphill" in str(message["blocks"]) else None

    assert "why it matters" in str(eventually(updated)["blocks"])


def test_someone_else_cannot_act_on_a_prompt(bot: Bot) -> None:
    _setup(bot)
    dm = _prompt(bot, PRE)
    for action in (Action.LOG_CONVERSATION, Action.REMIND_TOMORROW, Action.NOT_NEEDED):
        assert bot.click(dm, action, user="UEVE").status == 200
    ephemerals = bot.fake.wait_for_calls("chat.postEphemeral", 3)
    assert all("Only <@UGRACE>" in c.params["text"] for c in ephemerals)
    assert all(c.params["user"] == "UEVE" for c in ephemerals)
    assert bot.fake.count("views.open") == 0
    # A forged modal submission is refused too.
    forged = {
        "type": "modal",
        "callback_id": View.PRE_TRAINING,
        "private_metadata": f'{{"nudge_id": {_nudge(bot, "pre_training").id}}}',
    }
    bot.submit(
        forged, {Block.WHAT: text_value("x"), Block.ORG_IMPORTANCE: radio_value("2")}, user="UEVE"
    )
    assert _records(bot) == [] and _nudge(bot, "pre_training").status == NudgeStatus.SENT


def test_remind_me_tomorrow_brings_the_prompt_back_next_working_day(bot: Bot) -> None:
    _setup(bot)
    friday = datetime(2026, 12, 4, 9, 31, tzinfo=UTC)  # pre-training comes Thu; snooze Fri
    dm = _prompt(bot, PRE)
    bot.clock.set(friday)
    bot.click(dm, Action.REMIND_TOMORROW, user="UGRACE")
    nudge = eventually(lambda: (n := _nudge(bot, "pre_training")).status == "pending" and n)
    assert nudge.due_at == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)  # Monday
    bot.fake.wait_for_calls("chat.update")
    snoozed = next(m for m in bot.fake.dms_to("UGRACE") if m["ts"] == dm["ts"])
    assert buttons(snoozed) == {} and "bring this back" in str(snoozed["blocks"])
    again = _prompt(bot, datetime(2026, 12, 7, 9, 31, tzinfo=UTC))
    assert again["ts"] != dm["ts"] and Action.LOG_CONVERSATION in buttons(again)
    with bot.db.session() as s:  # the reminder of the first delivery was dropped
        kinds = [n.kind for n in s.exec(select(Nudge).where(Nudge.status == "sent")).all()]
    assert kinds.count("reminder") == 0


def test_not_needed_records_the_skip_and_reason(bot: Bot) -> None:
    _setup(bot)
    dm = _prompt(bot, PRE)
    bot.click(dm, Action.NOT_NEEDED, user="UGRACE")
    view = bot.opened_view()
    assert view["callback_id"] == View.NOT_NEEDED
    bot.submit(view, {Block.REASON: text_value("We talked on Monday")}, user="UGRACE")
    record = _records(bot)[0]
    assert (record.outcome, record.note) == ("not_needed", "We talked on Monday")
    assert _nudge(bot, "pre_training").status == NudgeStatus.NOT_NEEDED


def test_debrief_is_logged_with_its_own_modal(bot: Bot) -> None:
    _setup(bot)
    dm = _prompt(bot, DEBRIEF)
    debrief = str(_nudge(bot, "debrief").id)  # the day's message holds the late prompt too
    bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE", value=debrief)
    view = bot.opened_view()
    assert view["callback_id"] == View.DEBRIEF
    bot.submit(
        view,
        {
            Block.TAKEAWAYS: text_value("Listening first"),
            Block.FIRST_APPLICATION: text_value("Next team meeting"),
            Block.SUPPORT: text_value("I will observe and give feedback"),
            Block.CHECKIN_ON: date_value("2026-12-20"),
        },
        user="UGRACE",
    )
    record = _records(bot)[0]
    assert record.kind == "debrief" and record.takeaways == "Listening first"


def test_follow_up_one_click_then_the_optional_result_and_the_learner_answers_too(
    bot: Bot,
) -> None:
    _setup(bot)
    manager_dm = _prompt(bot, FOLLOW)
    learner_dm = copy.deepcopy(
        next(m for m in bot.fake.dms_to("UADA") if Action.CASE_CLEAR_RESULTS in buttons(m))
    )
    assert set(buttons(manager_dm)) >= {Action.CASE_DIDNT_STICK, Action.REMIND_TOMORROW}
    bot.click(manager_dm, Action.CASE_DIDNT_STICK, user="UGRACE")
    result_view = bot.opened_view()
    assert _records(bot)[0].outcome == "partly"  # recorded by the click alone
    assert result_view["callback_id"] == View.CASE
    bot.submit(result_view, {Block.RESULT: text_value("Time was short")}, user="UGRACE")
    bot.click(learner_dm, Action.CASE_CLEAR_RESULTS, user="UADA")
    eventually(lambda: len(_records(bot)) == 2)
    bot.click(learner_dm, Action.CASE_CLEAR_RESULTS, user="UADA")  # stores nothing more
    bot.fake.wait_for_calls("chat.postEphemeral")
    by_kind = {r.kind: r for r in _records(bot)}
    assert set(by_kind) == {"follow_up", "learner_follow_up"} and len(_records(bot)) == 2
    assert by_kind["follow_up"].outcome == "partly"
    assert by_kind["learner_follow_up"].outcome == "applied"
    with bot.db.session() as s:
        results = {c.side: c.result for c in s.exec(select(CaseRecord))}
    assert results == {"manager": "Time was short", "learner": None}


def test_a_thread_reply_is_a_note_recorded_once_with_a_reaction(bot: Bot) -> None:
    _setup(bot)
    dm = _prompt(bot, PRE)
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": dm["channel"],
        "user": "UGRACE",
        "text": "We talked over coffee, all good",
        "ts": "1765000000.000200",
        "thread_ts": dm["ts"],
    }
    assert bot.event(event, event_id="Ev1").status == 200
    assert bot.event(event, event_id="Ev1", retry=1).status == 200  # Slack's retry
    bot.fake.wait_for_calls("reactions.add")
    with bot.db.session() as s:
        notes = s.exec(select(Note)).all()
    assert [n.text for n in notes] == ["We talked over coffee, all good"]
    assert bot.fake.count("reactions.add") == 1


@pytest.mark.parametrize("user", ["UEVE"])
def test_a_reply_from_anyone_else_or_outside_a_thread_is_ignored(bot: Bot, user: str) -> None:
    _setup(bot)
    dm = _prompt(bot, PRE)
    bot.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": dm["channel"],
            "user": user,
            "text": "hi",
            "ts": "1765000000.000300",
            "thread_ts": dm["ts"],
        }
    )
    bot.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": dm["channel"],
            "user": "UGRACE",
            "text": "top level",
            "ts": "1765000000.000400",
        }
    )
    import time

    time.sleep(0.3)  # listeners run after the ack; give them the chance to do wrong
    with bot.db.session() as s:
        assert s.exec(select(Note)).all() == []


def test_app_home_shows_waiting_prompts_with_the_same_buttons(bot: Bot) -> None:
    _setup(bot)
    _prompt(bot, PRE)
    bot.event({"type": "app_home_opened", "user": "UGRACE", "tab": "home", "channel": "DX"})
    bot.fake.wait_for_calls("views.publish")
    home = bot.fake.home_views["UGRACE"]
    assert Action.LOG_CONVERSATION in buttons(home)
    assert "Coaching Skills" in str(home["blocks"])
    # The learner's own tab shows their training, and no manager prompts.
    bot.event({"type": "app_home_opened", "user": "UADA", "tab": "home", "channel": "DY"})
    bot.fake.wait_for_calls("views.publish", 2)
    learner_home = bot.fake.home_views["UADA"]
    assert Action.LOG_CONVERSATION not in buttons(learner_home)
    assert "Coaching Skills" in str(learner_home["blocks"])
