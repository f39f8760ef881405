"""Who may do what: one test per cell of SECURITY.md's authorization table.

Roles: the learner (Ada), her manager (Grace), an L&D lead, and any other user (Eve).
Each surface is exercised through signed requests to the real app; `allowed` says whether
the action must take effect. A refused action changes nothing that was stored.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select
from support import LEAD, Bot, dispatch_due, eventually

from bot.sim.driver import buttons, date_value, radio_value, text_value, user_value, users_value
from bot.slack.ids import Action, Block, View
from storage import crud
from storage.models import ConversationRecord, Enrollment, Goal, Note, Nudge

ROLES = {"learner": "UADA", "manager": "UGRACE", "lead": LEAD, "other": "UEVE"}


def _world(bot: Bot) -> None:
    for uid, name in (
        ("UADA", "Ada"),
        ("UGRACE", "Grace"),
        (LEAD, "Lea"),
        ("UEVE", "Eve"),
        ("URUI", "Rui"),
    ):
        bot.fake.add_user(uid, email=f"{name.lower()}@example.org", real_name=name, tz="UTC")
    with bot.db.session() as s:
        grace = crud.upsert_person(s, slack_id="UGRACE", email="grace@example.org")
        for uid in ("UADA", "URUI"):
            crud.upsert_person(s, slack_id=uid, email=f"{uid[1:].lower()}@example.org")
            crud.person_by_slack_id(s, slack_id=uid).manager_id = grace.id  # type: ignore[union-attr]
        for uid in (LEAD, "UEVE"):
            crud.upsert_person(s, slack_id=uid)
    assert (
        bot.webhook(
            {
                "external_id": "e1",
                "learner_email": "ada@example.org",
                "training": "Coaching",
                "starts_on": "2026-12-08",
                "ends_on": "2026-12-09",
            }
        ).status
        == 201
    )


def _wait_listeners() -> None:
    time.sleep(0.25)  # listeners work after their ack; give a wrong one the time to act


def _settle(bot: Bot, effect: Callable[[], object]) -> bool:
    """After a click: wait for its effect or for the app's answer to it, whichever comes."""
    views = bot.views_seen
    eventually(
        lambda: (
            effect()
            or bot.fake.count("chat.postEphemeral") > bot.ephemerals_seen
            or bot.fake.count("views.open") > views
        ),
        timeout=15,
    )
    _wait_listeners()
    return bool(effect())


def _count(bot: Bot, model: type) -> int:
    with bot.db.session() as s:
        return len(s.exec(select(model)).all())


def _dm(bot: Bot, user: str, action: str, when: datetime) -> dict:
    bot.clock.set(when)
    dispatch_due(bot)
    return copy.deepcopy(next(m for m in bot.fake.dms_to(user) if action in buttons(m)))


INVITE = datetime(2026, 12, 1, 9, 31, tzinfo=UTC)
PRE = datetime(2026, 12, 3, 9, 31, tzinfo=UTC)
FOLLOW = datetime(2027, 1, 8, 9, 31, tzinfo=UTC)


# -- each surface: perform it as `user`, return whether it took effect ----------------------


def enroll_a_report(bot: Bot, user: str) -> bool:
    bot.command("/enroll", user=user)
    view = {"type": "modal", "callback_id": View.ENROLL}
    answer = bot.submit(
        view,
        {
            Block.LEARNERS: users_value(["URUI"]),
            Block.TRAINING: text_value("Negotiation"),
            Block.STARTS_ON: date_value("2026-12-10"),
            Block.ENDS_ON: date_value("2026-12-10"),
            Block.MANAGER: user_value(None),
        },
        user=user,
    ).json()
    with bot.db.session() as s:
        rui = crud.person_by_slack_id(s, slack_id="URUI")
        stored = s.exec(select(Enrollment).where(Enrollment.learner_id == rui.id)).all()  # type: ignore[union-attr]
    assert (answer["response_action"] == "update") == bool(stored)
    return bool(stored)


def name_another_manager(bot: Bot, user: str) -> bool:
    view = {"type": "modal", "callback_id": View.ENROLL}
    answer = bot.submit(
        view,
        {
            Block.LEARNERS: users_value([user]),
            Block.TRAINING: text_value("Negotiation"),
            Block.STARTS_ON: date_value("2026-12-10"),
            Block.ENDS_ON: date_value("2026-12-10"),
            Block.MANAGER: user_value("UEVE" if user != "UEVE" else "UGRACE"),
        },
        user=user,
    ).json()
    return answer.get("response_action") == "update"


def share_goal_by_command(bot: Bot, user: str) -> bool:
    bot.command("/goal", "Ask before advising", user=user)
    bot.fake.wait_for_responses(1)
    return _count(bot, Goal) == 1


def _adas_goal(bot: Bot) -> Goal:
    """Ada shares a goal by command; the goal as stored."""
    bot.command("/goal", "First draft", user="UADA")
    bot.fake.wait_for_responses(1)
    with bot.db.session() as s:
        return s.exec(select(Goal)).one()


def _goal_button(goal: Goal, action: Action, label: str) -> dict[str, Any]:
    """Ada's DM holding one button `action` on `goal`, as a forger would click it."""
    button = {
        "type": "button",
        "action_id": action,
        "value": str(goal.id),
        "text": {"type": "plain_text", "text": label},
    }
    return {
        "channel": "DADA",
        "ts": "1.0",
        "blocks": [{"type": "actions", "block_id": "g", "elements": [button]}],
    }


def edit_adas_goal(bot: Bot, user: str) -> bool:
    goal = _adas_goal(bot)
    bot.views_seen = bot.fake.count("views.open")
    bot.click(_goal_button(goal, Action.EDIT_GOAL, "Edit"), Action.EDIT_GOAL, user=user)
    opened = _settle(bot, lambda: bot.fake.count("views.open") > bot.views_seen)
    forged = {
        "type": "modal",
        "callback_id": View.GOAL,
        "private_metadata": json.dumps({"goal_id": goal.id, "enrollment_id": goal.enrollment_id}),
    }
    bot.submit(forged, {Block.GOAL_TEXT: text_value("Changed")}, user=user)
    with bot.db.session() as s:
        changed = s.exec(select(Goal)).one().text == "Changed"
    assert opened == changed
    return changed


def delete_adas_goal(bot: Bot, user: str) -> bool:
    goal = _adas_goal(bot)
    bot.click(_goal_button(goal, Action.DELETE_GOAL, "Delete"), Action.DELETE_GOAL, user=user)
    return _settle(bot, lambda: _count(bot, Goal) == 0)


def goal_invite_interest(bot: Bot, user: str) -> bool:
    invite = _dm(bot, "UADA", Action.SHARE_GOAL, INVITE)
    nudge_id = buttons(invite)[Action.SHARE_GOAL]["value"]
    bot.click(invite, Action.INTEREST, user=user, value=f"{nudge_id}:3")

    def stored() -> bool:
        with bot.db.session() as s:
            return s.exec(select(Enrollment)).one().learner_interest == 3

    return _settle(bot, stored)


def goal_invite_share_button(bot: Bot, user: str) -> bool:
    invite = _dm(bot, "UADA", Action.SHARE_GOAL, INVITE)
    bot.views_seen = bot.fake.count("views.open")
    bot.click(invite, Action.SHARE_GOAL, user=user)
    return _settle(bot, lambda: bot.fake.count("views.open") > bot.views_seen)


def prompt_button(action: str) -> Callable[[Bot, str], bool]:
    def act(bot: Bot, user: str) -> bool:
        _seed_manager(bot)
        dm = _dm(bot, "UGRACE", Action.LOG_CONVERSATION, PRE)
        before = bot.fake.count("views.open")
        bot.click(dm, action, user=user)

        def acted() -> bool:
            with bot.db.session() as s:
                status = s.exec(select(Nudge).where(Nudge.kind == "pre_training")).one().status
            return bot.fake.count("views.open") > before or status == "pending"

        return _settle(bot, acted)

    return act


def _seed_manager(bot: Bot) -> None:
    with bot.db.session() as s:
        enrollment = s.exec(select(Enrollment)).one()
        if enrollment.manager_id is None:
            bot.webhook(
                {
                    "external_id": "e1",
                    "learner_email": "ada@example.org",
                    "manager_email": "grace@example.org",
                    "training": "Coaching",
                    "starts_on": "2026-12-08",
                    "ends_on": "2026-12-09",
                }
            )


def submit_prompt_modal(bot: Bot, user: str) -> bool:
    _seed_manager(bot)
    _dm(bot, "UGRACE", Action.LOG_CONVERSATION, PRE)
    with bot.db.session() as s:
        nudge = s.exec(select(Nudge).where(Nudge.kind == "pre_training")).one()
    view = {
        "type": "modal",
        "callback_id": View.PRE_TRAINING,
        "private_metadata": json.dumps({"nudge_id": nudge.id}),
    }
    bot.submit(
        view, {Block.WHAT: text_value("x"), Block.ORG_IMPORTANCE: radio_value("2")}, user=user
    )
    return _count(bot, ConversationRecord) == 1


def follow_up_button(bot: Bot, user: str) -> bool:
    _seed_manager(bot)
    dm = _dm(bot, "UGRACE", Action.CASE_CLEAR_RESULTS, FOLLOW)
    bot.click(dm, Action.CASE_CLEAR_RESULTS, user=user)

    def recorded() -> bool:
        with bot.db.session() as s:
            query = select(ConversationRecord).where(ConversationRecord.kind == "follow_up")
            return bool(s.exec(query).all())

    return _settle(bot, recorded)


def thread_reply(bot: Bot, user: str) -> bool:
    _seed_manager(bot)
    dm = _dm(bot, "UGRACE", Action.LOG_CONVERSATION, PRE)
    bot.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": dm["channel"],
            "user": user,
            "text": "note",
            "ts": "1765000000.000100",
            "thread_ts": dm["ts"],
        }
    )
    _wait_listeners()
    return _count(bot, Note) == 1


def app_home_shows_adas_prompt(bot: Bot, user: str) -> bool:
    _seed_manager(bot)
    _dm(bot, "UGRACE", Action.LOG_CONVERSATION, PRE)
    bot.event({"type": "app_home_opened", "user": user, "tab": "home"})
    bot.fake.wait_for_calls("views.publish")
    home = eventually(lambda: bot.fake.home_views.get(user))
    return Action.LOG_CONVERSATION in buttons(home)


def app_home_shows_adas_goal(bot: Bot, user: str) -> bool:
    bot.command("/goal", "Visible-goal-text", user="UADA")
    bot.fake.wait_for_responses(1)
    bot.fake.home_views.pop(user, None)
    bot.event({"type": "app_home_opened", "user": user, "tab": "home"})
    home = eventually(lambda: bot.fake.home_views.get(user))
    return "Visible-goal-text" in json.dumps(home)


def app_home_shows_numbers(bot: Bot, user: str) -> bool:
    bot.event({"type": "app_home_opened", "user": user, "tab": "home"})
    bot.fake.wait_for_calls("views.publish")
    home = eventually(lambda: bot.fake.home_views.get(user))
    return Action.SEND_SUMMARY in buttons(home)


def training_summary(bot: Bot, user: str) -> bool:
    response = bot.command("/training-summary", user=user)
    _wait_listeners()
    return "Putting together" in response.text


def post_summary_button(bot: Bot, user: str) -> bool:
    message = {
        "channel": f"D{user[1:]}",
        "ts": "1.0",
        "blocks": [
            {
                "type": "actions",
                "block_id": "s",
                "elements": [
                    {
                        "type": "button",
                        "action_id": Action.SEND_SUMMARY,
                        "value": "this_week",
                        "text": {"type": "plain_text", "text": "Post"},
                    }
                ],
            }
        ],
    }
    refusals = bot.fake.count("chat.postEphemeral")
    bot.click(message, Action.SEND_SUMMARY, user=user)
    # Either the summary's files arrive, or a polite refusal does; then nothing more comes.
    eventually(
        lambda: (
            bot.fake.count("files.completeUploadExternal")
            or bot.fake.count("chat.postEphemeral") > refusals
        ),
        timeout=20,
    )
    _wait_listeners()
    return bot.fake.count("files.completeUploadExternal") > 0


def forget_someone_else(bot: Bot, user: str) -> bool:
    bot.command("/goal", "Ada's own goal", user="UADA")
    bot.fake.wait_for_responses(1)
    bot.submit({"type": "modal", "callback_id": View.FORGET_ME}, {}, user=user)
    return _count(bot, Goal) == 0


# (surface, {role: allowed})
MATRIX: list[tuple[Callable[[Bot, str], bool], dict[str, bool]]] = [
    (enroll_a_report, {"learner": False, "manager": True, "lead": True, "other": False}),
    (name_another_manager, {"learner": False, "manager": False, "lead": True, "other": False}),
    (share_goal_by_command, {"learner": True, "manager": False, "lead": False, "other": False}),
    (edit_adas_goal, {"learner": True, "manager": False, "lead": False, "other": False}),
    (delete_adas_goal, {"learner": True, "manager": False, "lead": False, "other": False}),
    (goal_invite_interest, {"learner": True, "manager": False, "lead": False, "other": False}),
    (goal_invite_share_button, {"learner": True, "manager": False, "lead": False, "other": False}),
    (
        prompt_button(Action.LOG_CONVERSATION),
        {"learner": False, "manager": True, "lead": False, "other": False},
    ),
    (
        prompt_button(Action.REMIND_TOMORROW),
        {"learner": False, "manager": True, "lead": False, "other": False},
    ),
    (
        prompt_button(Action.NOT_NEEDED),
        {"learner": False, "manager": True, "lead": False, "other": False},
    ),
    (submit_prompt_modal, {"learner": False, "manager": True, "lead": False, "other": False}),
    (follow_up_button, {"learner": False, "manager": True, "lead": False, "other": False}),
    (thread_reply, {"learner": False, "manager": True, "lead": False, "other": False}),
    (
        app_home_shows_adas_prompt,
        {"learner": False, "manager": True, "lead": False, "other": False},
    ),
    (app_home_shows_adas_goal, {"learner": True, "manager": False, "lead": False, "other": False}),
    (app_home_shows_numbers, {"learner": False, "manager": False, "lead": True, "other": False}),
    (training_summary, {"learner": False, "manager": False, "lead": True, "other": False}),
    (post_summary_button, {"learner": False, "manager": False, "lead": True, "other": False}),
    (forget_someone_else, {"learner": True, "manager": False, "lead": False, "other": False}),
]
CELLS = [
    pytest.param(surface, role, allowed, id=f"{surface.__name__}-{role}")
    for surface, allowed_by_role in MATRIX
    for role, allowed in allowed_by_role.items()
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("surface", "role", "allowed"), CELLS)
def test_cell(bot: Bot, surface: Callable[[Bot, str], bool], role: str, allowed: bool) -> None:
    _world(bot)
    assert surface(bot, ROLES[role]) is allowed
