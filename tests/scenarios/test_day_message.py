"""One message a day: a manager whose team goes to a training gets one DM, not one per
person; each learner keeps their own buttons, so each conversation is logged on its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select
from support import Bot, dispatch_due, eventually

from bot.sim.driver import buttons, text_value
from bot.slack.blocks import HOME_OPEN_PROMPTS_MAX
from bot.slack.ids import Action, Block
from storage.models import Note, Nudge, NudgeStatus

PRE = datetime(2026, 12, 3, 9, 31, tzinfo=UTC)  # Thu: the pre-training prompts are due
AFTERNOON = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
NAMES = ["Ada", "Ben", "Cleo", "Dan", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim"]
NAMES += [f"Extra{i}" for i in range(1, 9)]  # a team larger than one page of App Home


def team(bot: Bot, size: int, training: str = "Coaching Skills") -> list[str]:
    """Grace and `size` reports of hers, all enrolled in one training (8-9 December)."""
    bot.fake.add_user("UGRACE", email="grace@example.org", real_name="Grace", tz="UTC")
    ids = []
    for name in NAMES[:size]:
        uid = f"U{name.upper()}"
        bot.fake.add_user(uid, email=f"{name.lower()}@example.org", real_name=name, tz="UTC")
        response = bot.webhook(
            {
                "external_id": f"lms-{training}-{name}",
                "learner_email": f"{name.lower()}@example.org",
                "manager_email": "grace@example.org",
                "training": training,
                "starts_on": "2026-12-08",
                "ends_on": "2026-12-09",
            }
        )
        assert response.status == 201, response.text
        ids.append(uid)
    return ids


def manager_dms(bot: Bot) -> list[dict[str, Any]]:
    return [m for m in bot.fake.dms_to("UGRACE") if not m.get("thread_ts")]


def log_buttons(message: dict[str, Any]) -> list[str]:
    values = []
    for block in message["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == Action.LOG_CONVERSATION:
                values.append(element["value"])
    return values


@pytest.mark.parametrize("size", [1, 2, 10])
def test_a_team_in_one_training_is_one_dm_with_a_button_per_learner(bot: Bot, size: int) -> None:
    team(bot, size)
    bot.clock.set(PRE)
    dispatch_due(bot)
    (dm,) = manager_dms(bot)
    assert len(log_buttons(dm)) == size
    with bot.db.session() as s:
        sent = s.exec(select(Nudge).where(Nudge.kind == "pre_training")).all()
    assert {(n.status, n.ts) for n in sent} == {("sent", dm["ts"])}
    for name in NAMES[:size]:
        assert f"<@U{name.upper()}>" in str(dm["blocks"])


def test_beyond_ten_people_the_message_says_how_many_more(bot: Bot) -> None:
    team(bot, 11)
    bot.clock.set(PRE)
    dispatch_due(bot)
    (dm,) = manager_dms(bot)
    assert len(log_buttons(dm)) == 10
    assert "1 more people" in str(dm["blocks"]) and "Home tab" in str(dm["blocks"])
    with bot.db.session() as s:  # the eleventh is sent too: its buttons are in App Home
        statuses = {n.status for n in s.exec(select(Nudge).where(Nudge.kind == "pre_training"))}
    assert statuses == {"sent"}


def test_answering_one_learner_updates_only_that_part(bot: Bot) -> None:
    team(bot, 2)
    bot.clock.set(PRE)
    dispatch_due(bot)
    (dm,) = manager_dms(bot)
    first, second = log_buttons(dm)
    bot.click(dm, Action.NOT_NEEDED, user="UGRACE", value=first)
    bot.submit(bot.opened_view(), {Block.REASON: text_value("We talked")}, user="UGRACE")
    updated = bot.fake.wait_for_calls("chat.update", 1)[-1].params
    assert updated["ts"] == dm["ts"]
    assert log_buttons({"blocks": updated["blocks"]}) == [second]
    assert "Marked as not needed" in str(updated["blocks"])
    # Remind me tomorrow on the other: its part says when, the message keeps the first's.
    bot.click(dm, Action.REMIND_TOMORROW, user="UGRACE", value=second)
    updated = bot.fake.wait_for_calls("chat.update", 2)[-1].params
    assert log_buttons({"blocks": updated["blocks"]}) == []
    assert "bring this back" in str(updated["blocks"])

    def statuses() -> dict[str, str]:
        with bot.db.session() as s:
            rows = s.exec(select(Nudge).where(Nudge.kind == "pre_training"))
            return {str(n.id): n.status for n in rows}

    # The DM is updated just before the snooze commits: wait for the row.
    eventually(lambda: statuses() == {first: NudgeStatus.NOT_NEEDED, second: NudgeStatus.PENDING})


def test_a_thread_reply_names_its_learner_or_is_asked_about(bot: Bot) -> None:
    team(bot, 2)
    bot.clock.set(PRE)
    dispatch_due(bot)
    (dm,) = manager_dms(bot)
    first, second = log_buttons(dm)
    thread = {"type": "message", "channel_type": "im", "channel": dm["channel"], "user": "UGRACE"}
    bot.event({**thread, "thread_ts": dm["ts"], "ts": "1.0001", "text": "Ben wants to practise"})
    bot.event({**thread, "thread_ts": dm["ts"], "ts": "1.0002", "text": "Both were keen"})
    question = eventually(
        lambda: next(
            (c.params for c in bot.fake.calls_to("chat.postMessage") if c.params.get("thread_ts")),
            None,
        )
    )
    assert question["thread_ts"] == dm["ts"] and "Which of them" in question["text"]
    with bot.db.session() as s:
        notes = {n.ts: n.nudge_id for n in s.exec(select(Note))}
    assert notes["1.0001"] == int(second) and notes["1.0002"] is None
    asked = {"blocks": question["blocks"], "channel": dm["channel"], "ts": "q1"}
    target = next(e["value"] for e in buttons(asked).values() if e["value"].endswith(f":{first}"))
    bot.click(asked, Action.NOTE_FOR, user="UGRACE", value=target)

    def placed() -> bool:
        with bot.db.session() as s:
            return s.exec(select(Note).where(Note.ts == "1.0002")).one().nudge_id == int(first)

    eventually(placed)


def test_a_goal_shared_later_in_the_day_is_added_in_place(bot: Bot) -> None:
    team(bot, 2)
    bot.clock.set(PRE)
    dispatch_due(bot)
    (dm,) = manager_dms(bot)
    bot.clock.set(AFTERNOON)
    bot.command("/goal", "Ask one open question in every 1:1", user="UADA")
    updated = bot.fake.wait_for_calls("chat.update")[-1].params
    assert updated["ts"] == dm["ts"] and "Ask one open question" in str(updated["blocks"])
    assert len(manager_dms(bot)) == 1  # no second DM today
    assert len(log_buttons({"blocks": updated["blocks"]})) == 2  # both still open


def test_a_late_enrollment_after_the_days_message_waits_for_tomorrow(bot: Bot) -> None:
    team(bot, 1)
    bot.clock.set(PRE)
    dispatch_due(bot)
    assert len(manager_dms(bot)) == 1
    bot.clock.set(AFTERNOON)
    # A second training for Ada starting Tue 15 Dec: its prompt is due now, late; it waits.
    bot.webhook(
        {
            "external_id": "lms-late",
            "learner_email": "ada@example.org",
            "manager_email": "grace@example.org",
            "training": "Negotiation",
            "starts_on": "2026-12-15",
            "ends_on": "2026-12-15",
        }
    )
    # (Negotiation's pre-training prompt is due Thu 10 Dec: nothing today.) A training that
    # starts today cannot wait for tomorrow's message: its prompt goes alone.
    bot.webhook(
        {
            "external_id": "lms-tomorrow",
            "learner_email": "ada@example.org",
            "manager_email": "grace@example.org",
            "training": "Presenting",
            "starts_on": "2026-12-03",
            "ends_on": "2026-12-03",
        }
    )
    dispatch_due(bot)
    dms = manager_dms(bot)
    assert len(dms) == 2 and "Presenting" in dms[1]["text"] + str(dms[1]["blocks"])


def test_reminders_of_open_prompts_come_in_the_next_days_message(bot: Bot) -> None:
    team(bot, 2)
    bot.clock.set(PRE)  # Thu 3 Dec: both prompts, one message; nobody answers
    dispatch_due(bot)
    bot.clock.set(datetime(2026, 12, 7, 9, 31, tzinfo=UTC))  # Mon: two working days later
    dispatch_due(bot)
    _first, second = manager_dms(bot)
    assert len(log_buttons(second)) == 2 and "Still open from earlier" in str(second["blocks"])
    with bot.db.session() as s:
        reminders = s.exec(select(Nudge).where(Nudge.kind == "reminder")).all()
    assert len(reminders) == 2 and {(r.status, r.ts) for r in reminders} == {("sent", second["ts"])}


def test_a_late_nudge_that_can_wait_goes_into_the_next_working_days_message(bot: Bot) -> None:
    team(bot, 1)
    bot.clock.set(PRE)
    dispatch_due(bot)
    bot.clock.set(AFTERNOON)
    # Starts Mon 7 Dec: its pre-training prompt was due Wed 2 Dec, so it is due now, late;
    # tomorrow (Fri) is still before the start, so it waits for Friday's message.
    response = bot.webhook(
        {
            "external_id": "lms-late-2",
            "learner_email": "ada@example.org",
            "manager_email": "grace@example.org",
            "training": "Negotiation",
            "starts_on": "2026-12-07",
            "ends_on": "2026-12-07",
        }
    )
    assert response.status == 201, response.text
    dispatch_due(bot)
    assert len(manager_dms(bot)) == 1
    with bot.db.session() as s:
        late = s.exec(
            select(Nudge).where(Nudge.kind == "pre_training", Nudge.status == "pending")
        ).one()
    assert late.reason == "the day's message went out already"
    assert late.due_at == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    bot.clock.set(datetime(2026, 12, 4, 9, 31, tzinfo=UTC))
    dispatch_due(bot)
    assert len(manager_dms(bot)) == 2 and "Negotiation" in str(manager_dms(bot)[-1]["blocks"])


def test_app_home_pages_through_every_open_prompt_with_its_buttons(bot: Bot) -> None:
    size = HOME_OPEN_PROMPTS_MAX + 4
    team(bot, size)
    bot.clock.set(PRE)
    dispatch_due(bot)
    (dm,) = manager_dms(bot)
    assert len(log_buttons(dm)) == 10  # the rest are a click away, in the Home tab

    bot.event({"type": "app_home_opened", "user": "UGRACE", "tab": "home"})
    bot.fake.wait_for_calls("views.publish")
    first = bot.fake.home_views["UGRACE"]
    on_first = log_buttons(first)
    assert len(on_first) == HOME_OPEN_PROMPTS_MAX
    assert f"Showing 1 to {HOME_OPEN_PROMPTS_MAX} of {size}" in str(first["blocks"])
    assert Action.HOME_PAGE in buttons(first)

    bot.click(first, Action.HOME_PAGE, user="UGRACE")
    bot.fake.wait_for_calls("views.publish", 2)
    second = bot.fake.home_views["UGRACE"]
    on_second = log_buttons(second)
    assert len(on_second) == 4 and not set(on_second) & set(on_first)
    assert f"Showing {HOME_OPEN_PROMPTS_MAX + 1} to {size} of {size}" in str(second["blocks"])
    with bot.db.session() as s:
        sent = {str(n.id) for n in s.exec(select(Nudge).where(Nudge.kind == "pre_training"))}
    assert set(on_first) | set(on_second) == sent  # every open prompt, each once

    # A prompt on the second page is answered from there, for its learner alone.
    bot.click(second, Action.NOT_NEEDED, user="UGRACE", value=on_second[0])
    bot.fake.wait_for_calls("views.open")
    with bot.db.session() as s:
        assert s.get(Nudge, int(on_second[0])).status == "sent"  # the modal asks why first


def test_a_goal_waiting_for_the_managers_window_leaves_the_learners_home_as_it_was(
    bot: Bot,
) -> None:
    team(bot, 1)
    bot.clock.set(datetime(2026, 12, 3, 20, 0, tzinfo=UTC))  # Grace's window is closed
    bot.command("/goal", "Ask one open question in every 1:1", user="UADA")
    with bot.db.session() as s:
        eventually(
            lambda: s.exec(select(Nudge).where(Nudge.kind == "goal_shared")).first() is not None
        )
    published = bot.fake.count("views.publish")
    bot.event({"type": "app_home_opened", "user": "UADA", "tab": "home"})
    bot.fake.wait_for_calls("views.publish", published + 1)
    home = str(bot.fake.home_views["UADA"]["blocks"])
    assert "Ask one open question" in home and "Coaching Skills" in home
