"""`/goal`: learners add, list, edit and delete goals; managers receive the shared ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import select
from support import ADA_ENROLLMENT, Bot, ada_and_grace, dispatch_due

from bot.sim.driver import buttons, checkbox_value, select_value, text_value
from bot.slack.ids import SHARE_OPTION_VALUE, Action, Block, View
from storage.models import Goal


def _setup(bot: Bot, *, second: bool = False) -> None:
    ada_and_grace(bot)
    if second:
        assert (
            bot.webhook(
                {**ADA_ENROLLMENT, "external_id": "lms-2", "training": "Negotiation"}
            ).status
            == 201
        )


def _goals(bot: Bot) -> list[Goal]:
    with bot.db.session() as s:
        return list(s.exec(select(Goal).order_by(Goal.id)).all())


def _manager_dms(bot: Bot) -> list[dict]:
    return bot.fake.dms_to("UGRACE")


def test_goal_with_text_is_saved_and_shared_with_the_manager(bot: Bot) -> None:
    _setup(bot)
    response = bot.command("/goal", "Give specific feedback in every 1:1", user="UADA")
    assert response.status == 200
    reply = bot.fake.wait_for_responses()[-1]
    assert reply["response_type"] == "ephemeral" and "shared it with your manager" in reply["text"]
    goals = _goals(bot)
    assert [g.text for g in goals] == ["Give specific feedback in every 1:1"] and goals[0].shared
    bot.fake.wait_for_calls("chat.postMessage")
    dm = _manager_dms(bot)[-1]
    assert "Give specific feedback" in str(dm["blocks"]) and "<@UADA>" in str(dm["blocks"])


def test_the_goal_shows_in_the_managers_pre_training_prompt(bot: Bot) -> None:
    _setup(bot)
    bot.command("/goal", "Ask more questions than I answer", user="UADA")
    bot.fake.wait_for_responses()
    bot.clock.set(datetime(2026, 12, 3, 9, 31, tzinfo=UTC))
    dispatch_due(bot)
    prompt = [m for m in _manager_dms(bot) if Action.LOG_CONVERSATION in buttons(m)][-1]
    assert "Ask more questions than I answer" in str(prompt["blocks"])


def test_too_long_or_empty_goals_are_refused_and_nothing_is_stored(bot: Bot) -> None:
    _setup(bot)
    response = bot.command("/goal", "x" * 4000, user="UADA")
    assert response.status == 200 and "4,000 characters" in response.text
    assert _goals(bot) == [] and bot.fake.count("chat.postMessage") == 0
    bot.command("/goal", "", user="UADA")  # no text: the modal opens
    view = bot.opened_view()
    assert view["callback_id"] == View.GOAL
    answer = bot.submit(view, {Block.GOAL_TEXT: text_value("  ")}, user="UADA").json()
    assert answer["response_action"] == "errors" and Block.GOAL_TEXT in answer["errors"]
    answer = bot.submit(view, {Block.GOAL_TEXT: text_value("y" * 3001)}, user="UADA").json()
    assert "3,000" in answer["errors"][Block.GOAL_TEXT]
    assert _goals(bot) == []


def test_no_enrollment_points_at_enroll(bot: Bot) -> None:
    _setup(bot)
    bot.command("/goal", "Something", user="UEVE")
    reply = bot.fake.wait_for_responses()[-1]
    assert "/enroll" in reply["text"]
    assert _goals(bot) == []


def test_several_enrollments_ask_which_and_a_forged_one_is_refused(bot: Bot) -> None:
    _setup(bot, second=True)
    bot.command("/goal", "Prepare my walk-away point", user="UADA")
    view = bot.opened_view()
    options = {
        o["text"]["text"]: o["value"]
        for b in view["blocks"]
        if b.get("block_id") == Block.ENROLLMENT
        for o in b["element"]["options"]
    }
    assert set(options) == {"Coaching Skills", "Negotiation"}
    # Someone else's enrollment id, forged into the submission.
    eve_enrollment = bot.webhook(
        {**ADA_ENROLLMENT, "external_id": "lms-3", "learner_email": "eve@example.org"}
    ).json()["id"]
    forged = {
        Block.ENROLLMENT: select_value(str(eve_enrollment)),
        Block.GOAL_TEXT: text_value("Prepare my walk-away point"),
        Block.SHARE: checkbox_value([SHARE_OPTION_VALUE]),
    }
    answer = bot.submit(view, forged, user="UADA").json()
    assert answer["response_action"] == "errors" and Block.ENROLLMENT in answer["errors"]
    assert _goals(bot) == []
    good = {**forged, Block.ENROLLMENT: select_value(options["Negotiation"])}
    answer = bot.submit(view, good, user="UADA").json()
    assert answer["response_action"] == "update"
    assert [g.text for g in _goals(bot)] == ["Prepare my walk-away point"]


def test_private_goal_is_not_sent_to_the_manager(bot: Bot) -> None:
    _setup(bot)
    bot.command("/goal", "", user="UADA")
    view = bot.opened_view()
    bot.submit(
        view,
        {Block.GOAL_TEXT: text_value("Just for me"), Block.SHARE: checkbox_value([])},
        user="UADA",
    )
    assert [(g.text, g.shared) for g in _goals(bot)] == [("Just for me", False)]
    assert _manager_dms(bot) == []


def test_list_edit_and_delete(bot: Bot) -> None:
    _setup(bot)
    bot.command("/goal", "First draft", user="UADA")
    bot.fake.wait_for_responses(1)
    bot.command("/goal", "list", user="UADA")
    listing = bot.fake.wait_for_responses(2)[-1]
    assert "First draft" in str(listing["blocks"])
    message = {**listing, "channel": "DADA", "ts": "1.0"}
    bot.click(message, Action.EDIT_GOAL, user="UADA")
    view = bot.opened_view()
    assert "First draft" in json.dumps(view)
    bot.submit(
        view,
        {
            Block.GOAL_TEXT: text_value("Second draft"),
            Block.SHARE: checkbox_value([SHARE_OPTION_VALUE]),
        },
        user="UADA",
    )
    assert [g.text for g in _goals(bot)] == ["Second draft"]
    # Eve cannot delete Ada's goal; Ada can.
    bot.click(message, Action.DELETE_GOAL, user="UEVE")
    bot.fake.wait_for_calls("chat.postEphemeral")
    assert len(_goals(bot)) == 1
    bot.click(message, Action.DELETE_GOAL, user="UADA")
    replaced = bot.fake.wait_for_responses(3)[-1]
    assert replaced.get("replace_original") is True
    assert _goals(bot) == []


def test_goal_invite_button_opens_the_modal_for_that_training(bot: Bot) -> None:
    _setup(bot, second=True)
    bot.clock.set(datetime(2026, 12, 1, 9, 31, tzinfo=UTC))
    dispatch_due(bot)
    invite = next(m for m in bot.fake.dms_to("UADA") if Action.SHARE_GOAL in buttons(m))
    assert "/goal" in str(invite["blocks"])
    bot.click(invite, Action.SHARE_GOAL, user="UADA")
    view = bot.opened_view()
    assert view["callback_id"] == View.GOAL
    assert all(b.get("block_id") != Block.ENROLLMENT for b in view["blocks"])  # fixed training
    bot.submit(
        view,
        {
            Block.GOAL_TEXT: text_value("Coach, don't tell"),
            Block.GOAL_MEASURE: text_value("My team solves more alone"),
            Block.SHARE: checkbox_value([SHARE_OPTION_VALUE]),
        },
        user="UADA",
    )
    goal = _goals(bot)[0]
    assert (goal.text, goal.measure) == ("Coach, don't tell", "My team solves more alone")
