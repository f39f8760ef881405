"""The dispatcher against the fake Slack: each nudge one DM, in the recipient's window, once,
through Slack's errors, rate limits, time-outs and a crash; reminders; out of office."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from nudge_world import LEARNER, MANAGER, World

from bot.core.answers import snooze
from bot.slack.delivery import SlackSender
from storage.models import Nudge

START, END = date(2026, 12, 8), date(2026, 12, 9)  # a Tuesday and a Wednesday
GOAL_AT = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # 09:30 in Paris
PRE_AT = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)  # 09:30 in New York
DEBRIEF_AT = datetime(2026, 12, 10, 14, 30, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def replies_to(world: World, prompt: Nudge) -> list[dict[str, Any]]:
    return [
        m for m in world.dms(MANAGER) if m.get("thread_ts") == prompt.ts and m["ts"] != prompt.ts
    ]


def retry_until_settled(world: World, *, limit: int = 12) -> None:
    """Tick after each back-off, as the polling job would, until nothing is left to retry."""
    for _ in range(limit):
        world.clock.advance(hours=1)
        if not world.tick().retried:
            return
    raise AssertionError("still retrying")


def test_due_nudges_go_out_once_each_as_one_post_to_the_user_id(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.enroll(START, END, external_id="lms-2", training="Feedback")
    world.clock.set(GOAL_AT)
    report = world.tick()
    assert report.sent == 2
    posts = world.fake.calls_to("chat.postMessage")
    # Both goal invites are due for the learner today: one day's message holds both.
    assert [c.params["channel"] for c in posts] == [LEARNER]
    assert world.fake.count("conversations.open") == 0
    for row in world.nudges(kind="goal_invite"):
        (message,) = world.posts(row.id)
        assert (row.status, row.channel, row.ts) == ("sent", message["channel"], message["ts"])
        assert row.channel == world.fake.dm_channel(LEARNER)
    world.clock.advance(minutes=5)
    assert world.tick().claimed == 0
    assert world.fake.count("chat.postMessage") == 1


def test_nothing_goes_out_outside_the_recipients_window(world: World) -> None:
    world.people()
    world.enroll(START, END)
    goal = world.nudge(kind="goal_invite")
    # Due at 18:00 in Paris (say, after a back-off): held until 09:30 the next working day.
    world.update(goal.id, due_at=utc(2026, 12, 4, 17))  # a Friday
    world.at(utc(2026, 12, 4, 17))
    assert world.dms(LEARNER) == []
    assert world.nudge(id=goal.id).due_at == utc(2026, 12, 7, 8, 30)  # Monday 09:30
    world.at(utc(2026, 12, 7, 8, 29))
    assert world.dms(LEARNER) == []
    world.at(utc(2026, 12, 7, 8, 30))
    assert len(world.dms(LEARNER)) == 1


@pytest.mark.parametrize("error", ["user_not_found", "account_inactive", "channel_not_found"])
def test_permanent_errors_fail_the_nudge_without_retrying(world: World, error: str) -> None:
    world.people()
    world.enroll(START, END)
    world.fake.fail_next("chat.postMessage", status=429, error=error)  # HTTP 200, ok: false
    world.at(GOAL_AT)
    goal = world.nudge(kind="goal_invite")
    assert (goal.status, goal.reason) == ("failed", f"Slack answered {error}")
    for _ in range(3):
        world.clock.advance(hours=2)
        world.tick()
    assert world.fake.count("chat.postMessage") == 1
    assert world.dms(LEARNER) == []


def test_a_deleted_slack_account_fails_with_slacks_reason(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.fake.users[LEARNER]["deleted"] = True
    world.at(GOAL_AT)
    goal = world.nudge(kind="goal_invite")
    assert (goal.status, goal.reason) == ("failed", "Slack answered account_inactive")


def test_a_429_storm_is_waited_out_and_each_nudge_delivered_once(world: World) -> None:
    world.people()
    for i in range(5):
        world.fake.add_user(f"UL{i}", email=f"l{i}@example.org", tz="Europe/Paris")
        world.enroll(START, END, learner=f"UL{i}", external_id=f"lms-{i}")
    world.fake.fail_next("chat.postMessage", status=429, retry_after=120, count=3)
    world.clock.set(GOAL_AT)
    first = world.tick()
    # One 429 and the rest of the batch waits for Retry-After instead of hammering Slack.
    assert first.retried == 5 and first.sent == 0
    assert world.fake.count("chat.postMessage") == 1
    assert all(r.due_at >= GOAL_AT + timedelta(seconds=120) for r in world.nudges(status="pending"))
    retry_until_settled(world)
    goals = world.nudges(kind="goal_invite")
    assert [r.status for r in goals] == ["sent"] * 5
    for row in goals:
        assert len(world.posts(row.id)) == 1
    assert world.fake.count("chat.postMessage") == 3 + 5


def test_a_500_storm_is_retried_with_backoff_and_delivered_once(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.fake.fail_next("chat.postMessage", status=500, count=3)
    world.at(GOAL_AT)
    goal = world.nudge(kind="goal_invite")
    # A few seconds first, not half a minute: most 5xx pass at once.
    assert goal.status == "pending" and goal.due_at == GOAL_AT + timedelta(seconds=5)
    dues = []
    for _ in range(6):
        world.clock.set(world.nudge(id=goal.id).due_at)
        world.tick()
        dues.append(world.nudge(id=goal.id).due_at)
    assert world.nudge(id=goal.id).status == "sent"
    assert dues[1] - dues[0] == timedelta(seconds=20)  # the back-off grows: 5, 10, 20 s
    assert len(world.posts(goal.id)) == 1
    assert world.fake.count("chat.postMessage") == 4


def run_like_the_scheduler(
    world: World, done: Any, *, interval: float = 30.0, limit: timedelta = timedelta(hours=1)
) -> timedelta:
    """Tick as the polling job does (every `interval` seconds, sooner when a tick asks to
    wake early) until `done()`; returns the clock's time of the tick that did it."""
    started = world.clock()
    while True:
        assert world.clock() - started < limit, "never done"
        report = world.tick()
        if done():
            return world.clock() - started
        later = world.clock() + timedelta(seconds=interval)
        if report.wake_at is not None:
            later = min(later, max(report.wake_at, world.clock() + timedelta(seconds=0.25)))
        world.clock.set(later)


def test_a_429_then_500_storm_reaches_the_manager_within_30_seconds_once(world: World) -> None:
    """Slack rate-limits the manager's prompt three times (Retry-After: 1), then fails twice
    with a 500: each 429 is retried exactly a second later, each 500 after a few seconds."""
    world.people()
    world.enroll(START, END)
    world.at(GOAL_AT)  # the learner's goal invite goes out first, on a calm day
    world.fake.fail_next("chat.postMessage", status=429, retry_after=1, count=3)
    world.fake.fail_next("chat.postMessage", status=500, count=2)
    world.clock.set(PRE_AT)
    prompt = world.nudge(kind="pre_training")

    def delivered() -> bool:
        return world.nudge(id=prompt.id).status == "sent"

    took = run_like_the_scheduler(world, delivered)
    assert took == timedelta(seconds=1 + 1 + 1 + 5 + 10)  # within 30 s, with room to spare
    assert world.nudge(id=prompt.id).sent_at == PRE_AT + took
    assert len(world.posts(prompt.id)) == 1
    assert len(world.dms(MANAGER)) == 1
    # Three 429s and two 500s, then the post; after each 500, a look before posting again.
    assert world.fake.count("chat.postMessage") == 1 + 6
    assert world.fake.count("conversations.history") == 2


def test_attempts_are_bounded_then_the_nudge_fails_with_the_reason(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.fake.fail_always("chat.postMessage", status=503)
    world.at(GOAL_AT)
    goal = world.nudge(kind="goal_invite")
    while goal.status == "pending":  # tick at each retry, as the early wake-up does
        world.at(goal.due_at)
        goal = world.nudge(id=goal.id)
    assert goal.status == "failed"
    assert goal.reason == "gave up after 10 attempts: Slack answered service_unavailable"
    assert world.fake.count("chat.postMessage") == 10
    # 5 s, doubling: ten attempts span about 43 minutes of an outage, inside one window.
    assert timedelta(minutes=40) < goal.updated_at - GOAL_AT < timedelta(minutes=45)
    world.fake.clear_faults()
    world.clock.advance(days=1)
    world.tick()
    assert world.dms(LEARNER) == []


def test_a_timed_out_post_that_reached_slack_is_not_posted_again(world: World) -> None:
    world.people()
    world.enroll(START, END)
    client = world.make_client(timeout=1)
    world.fake.hang_next("chat.postMessage", 1.5)
    world.clock.set(GOAL_AT)
    assert world.dispatcher(client=client).tick().retried == 1
    deadline = time.monotonic() + 5
    while not world.dms(LEARNER) and time.monotonic() < deadline:
        time.sleep(0.05)  # Slack finishes the post after the client gave up
    (posted,) = world.dms(LEARNER)
    world.clock.advance(minutes=1)
    assert world.dispatcher(client=client).tick().sent == 1
    goal = world.nudge(kind="goal_invite")
    assert (goal.status, goal.ts) == ("sent", posted["ts"])
    assert world.fake.count("chat.postMessage") == 1
    assert world.fake.count("conversations.history") == 1
    assert len(world.dms(LEARNER)) == 1


class CrashAfterPosting:
    """Posts the first nudge it is handed, then the process dies before recording it."""

    def __init__(self, sender: Any) -> None:
        self.sender = sender

    def prepare(self, *args: Any, **kwargs: Any) -> Any:
        prepared = self.sender.prepare(*args, **kwargs)
        return {nudge_id: self._crash_after(send) for nudge_id, send in prepared.items()}

    @staticmethod
    def _crash_after(send: Any) -> Any:
        def crash() -> Any:
            send()
            raise KeyboardInterrupt("kill -9")

        return crash


def test_a_crash_mid_batch_loses_nothing_and_sends_nothing_twice(world: World) -> None:
    world.people()
    for i in range(4):
        world.fake.add_user(f"UL{i}", email=f"l{i}@example.org", tz="Europe/Paris")
        world.enroll(START, END, learner=f"UL{i}", external_id=f"lms-{i}")
    world.clock.set(GOAL_AT)
    doomed = world.dispatcher()
    assert isinstance(doomed.sender, SlackSender)
    doomed.sender = CrashAfterPosting(doomed.sender)
    with pytest.raises(KeyboardInterrupt):
        doomed.tick()
    assert len(world.posts()) == 1  # one post reached Slack before the crash
    assert {r.status for r in world.nudges(kind="goal_invite")} == {"sending"}

    # Another process claims a few more and dies without a word.
    world.dispatcher().claim(world.clock(), 1)

    # Before the lease runs out nobody touches the rows.
    world.clock.advance(seconds=200)
    assert world.tick().claimed == 0
    world.clock.advance(seconds=101)
    report = world.dispatcher().tick()
    assert report.sent == 4 and report.reclaimed == 4
    for row in world.nudges(kind="goal_invite"):
        assert row.status == "sent"
        (message,) = world.posts(row.id)
        assert row.ts == message["ts"]
    assert world.fake.count("chat.postMessage") == 4


def _gone(statement: str = "UPDATE nudge") -> sa.exc.OperationalError:
    return sa.exc.OperationalError(statement, {}, Exception("server closed the connection"))


def test_a_database_outage_while_dms_are_out_records_them_once_it_answers(
    world: World,
) -> None:
    """The DMs went out, then the write of their outcomes met the database down: it is
    tried again until the database answers, rather than left to the lease's expiry (five
    minutes, then a look into every DM)."""
    world.people()
    for i in range(3):
        world.fake.add_user(f"UL{i}", email=f"l{i}@example.org", tz="Europe/Paris")
        world.enroll(START, END, learner=f"UL{i}", external_id=f"lms-{i}")
    world.clock.set(GOAL_AT)
    dispatcher = world.dispatcher()
    real, down = dispatcher._record, iter([True, True])

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if next(down, False):
            raise _gone()
        return real(*args, **kwargs)

    dispatcher._record = flaky  # type: ignore[method-assign]
    report = dispatcher.tick()
    assert report.sent == 3 and report.retried == 0  # counted once, not once per try
    assert {r.status for r in world.nudges(kind="goal_invite")} == {"sent"}
    assert world.fake.count("chat.postMessage") == 3
    assert world.fake.count("conversations.history") == 0


def test_a_claim_that_meets_the_database_down_records_the_batch_already_out(
    world: World,
) -> None:
    world.people()
    for i in range(3):
        world.fake.add_user(f"UL{i}", email=f"l{i}@example.org", tz="Europe/Paris")
        world.enroll(START, END, learner=f"UL{i}", external_id=f"lms-{i}")
    world.clock.set(GOAL_AT)
    dispatcher = world.dispatcher(batch_size=2)  # a full batch: the next claim overlaps it
    real, calls = dispatcher.claim, []

    def claim(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            raise _gone("SELECT nudge")
        return real(*args)

    dispatcher.claim = claim  # type: ignore[method-assign]
    with pytest.raises(sa.exc.OperationalError):
        dispatcher.tick()  # the job logs it, and runs again at its next interval
    rows = world.nudges(kind="goal_invite")
    assert sorted(r.status for r in rows) == ["pending", "sent", "sent"]
    assert world.tick().sent == 1
    assert world.fake.count("chat.postMessage") == 3


def test_an_unanswered_prompt_gets_one_reminder_in_its_thread(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.at(PRE_AT)  # Thursday 3 December
    prompt = world.nudge(kind="pre_training")
    reminder = world.nudge(kind="reminder")
    assert reminder.due_at == utc(2026, 12, 7, 14, 30)  # Monday, two working days later
    world.at(utc(2026, 12, 7, 14, 29))
    assert len(world.dms(MANAGER)) == 1
    world.at(utc(2026, 12, 7, 14, 30))
    dms = world.dms(MANAGER)
    assert len(dms) == 2
    assert dms[1]["thread_ts"] == prompt.ts and dms[1]["subtype"] == "thread_broadcast"
    assert world.nudge(id=reminder.id).status == "sent"
    for day in range(1, 8):  # no second reminder
        world.at(utc(2026, 12, 7, 14, 30) + timedelta(days=day))
    assert len(world.nudges(kind="reminder", parent_id=prompt.id)) == 1
    assert [m["ts"] for m in replies_to(world, prompt)] == [dms[1]["ts"]]


def test_max_reminders_bounds_the_reminders(world: World) -> None:
    world.configure(max_reminders=2)
    world.people()
    world.enroll(START, END)
    for day in range(10, 24):
        world.at(utc(2026, 12, day, 14, 30))
    prompt = world.nudge(kind="debrief")  # Thursday 10 December
    reminders = world.nudges(kind="reminder", parent_id=prompt.id)
    assert [r.status for r in reminders] == ["sent", "sent"]
    assert [r.sent_at for r in reminders] == [utc(2026, 12, 14, 14, 30), utc(2026, 12, 16, 14, 30)]
    assert len(replies_to(world, prompt)) == 2


@pytest.mark.parametrize("answer", ["answered", "not_needed"])
def test_no_reminder_once_the_prompt_is_answered(world: World, answer: str) -> None:
    world.people()
    world.enroll(START, END)
    world.at(PRE_AT)
    prompt = world.nudge(kind="pre_training")
    world.update(prompt.id, status=answer)
    world.at(utc(2026, 12, 7, 14, 30))
    reminder = world.nudge(kind="reminder", parent_id=prompt.id)
    assert (reminder.status, reminder.reason) == (
        "skipped",
        "the prompt was answered, snoozed or closed",
    )
    assert len(world.posts(reminder.id)) == 0


def test_a_snoozed_prompt_comes_back_and_is_reminded_afresh(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.at(PRE_AT)  # Thursday
    prompt = world.nudge(kind="pre_training")
    with world.db.session() as session:
        row = session.get(Nudge, prompt.id)
        snooze(session, row, now=world.clock(), rules=world.settings.rules, default_tz="UTC")
    first = world.nudge(kind="reminder")
    assert first.status == "cancelled"
    world.at(utc(2026, 12, 4, 14, 30))  # "tomorrow": the prompt again
    again = world.nudge(id=prompt.id)
    assert again.status == "sent" and again.deliveries == 2
    assert len(world.posts(prompt.id)) == 2
    (second,) = world.nudges(kind="reminder", status="pending")
    assert second.due_at == utc(2026, 12, 8, 14, 30)
    world.at(utc(2026, 12, 7, 14, 30))
    world.at(utc(2026, 12, 8, 14, 30))
    assert world.nudge(id=second.id).status == "sent"
    assert len(replies_to(world, again)) == 1


def test_a_pre_training_reminder_after_the_start_is_dropped(world: World) -> None:
    world.people()
    # Monday 23 November; the training starts on Tuesday: the prompt goes out late, today.
    world.enroll(date(2026, 11, 24), date(2026, 11, 24))
    world.at(utc(2026, 11, 23, 14, 30))
    assert world.nudge(kind="pre_training").status == "sent"
    assert world.nudges(kind="reminder") == []


def test_out_of_office_defers_to_the_next_working_day(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.set_status(MANAGER, "On vacation", ":palm_tree:")
    world.at(PRE_AT)  # Thursday
    prompt = world.nudge(kind="pre_training")
    assert (prompt.status, prompt.due_at) == ("pending", utc(2026, 12, 4, 14, 30))
    assert world.dms(MANAGER) == []
    world.set_status(MANAGER, "In a meeting", ":calendar:")
    world.at(utc(2026, 12, 4, 14, 30))
    assert world.nudge(id=prompt.id).status == "sent"
    assert len(world.dms(MANAGER)) == 1


def test_out_of_office_for_ten_working_days_skips_with_a_reason(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.set_status(MANAGER, "Sick", "")
    world.clock.set(DEBRIEF_AT)
    debrief = world.nudge(kind="debrief")
    for _ in range(11):
        world.at(world.nudge(id=debrief.id).due_at)
    row = world.nudge(id=debrief.id)
    assert (row.status, row.reason) == ("skipped", "out of office for 10 working days")
    assert world.dms(MANAGER) == []


def test_the_learners_follow_up_goes_with_the_managers_and_is_not_reminded(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.at(utc(2027, 1, 8, 8, 30))  # 09:30 in Paris, 03:30 in New York
    assert world.nudge(kind="learner_follow_up").status == "sent"
    assert world.nudge(kind="follow_up").status == "pending"
    world.at(utc(2027, 1, 8, 14, 30))
    follow_up = world.nudge(kind="follow_up")
    assert follow_up.status == "sent"
    reminders = world.nudges(kind="reminder")
    parents = {r.parent_id for r in reminders}
    assert follow_up.id in parents
    assert world.nudge(kind="learner_follow_up").id not in parents


def test_a_batch_full_before_one_managers_prompts_end_takes_the_rest_along(
    world: World,
) -> None:
    """Five reports' prompts due at once, batches of two: still one day's message."""
    world.people()
    for i in range(5):
        world.fake.add_user(f"UL{i}", email=f"l{i}@example.org", tz="Europe/Paris")
        world.enroll(START, END, learner=f"UL{i}", external_id=f"lms-{i}")
    world.clock.set(PRE_AT)
    report = world.dispatcher(batch_size=2).tick()
    assert report.sent == 10  # the five goal invites are due too, one to each learner
    (dm,) = world.dms(MANAGER)
    rows = world.nudges(kind="pre_training")
    assert {(r.status, r.ts) for r in rows} == {("sent", dm["ts"])}
