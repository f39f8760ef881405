"""The fixed APScheduler jobs, `coachbot dispatch`, and the client-side rate limiter."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from apscheduler.triggers.interval import IntervalTrigger
from support import make_settings

from bot.cli import main
from bot.prompts import load_catalogues
from bot.runtime import scheduler_jobs
from bot.sim.fakeslack import FakeSlack
from bot.slack.client import ClientRateLimited, Limit, RateLimiter, make_client
from scheduler.jobs import MISFIRE_GRACE_SECONDS, Job, build_scheduler
from scheduler.nudges import nudge_key
from scheduler.planning import Rules, in_window
from storage.db import Database
from storage.models import Enrollment, Nudge, Person, Training


def test_the_scheduler_runs_a_few_fixed_jobs_with_deliberate_settings(
    fake: FakeSlack, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    settings = make_settings(fake, url, dispatch_interval_seconds=7)
    db = Database(url)
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    scheduler = build_scheduler(scheduler_jobs(settings, db, client, load_catalogues(None)))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {"dispatch", "directory_sync"} <= set(jobs)
    assert jobs["dispatch"].trigger.interval == timedelta(seconds=7)
    for job in jobs.values():
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS > 1
        assert job.coalesce is True
        assert job.max_instances == 1
    assert str(scheduler.timezone) == "UTC"
    db.dispose()


def test_a_run_that_asks_to_wake_early_runs_again_then() -> None:
    """The dispatcher's soonest retry (a 429's Retry-After) brings its job back then, not a
    whole interval later."""
    ran: list[float] = []

    class Report:
        wake_at: datetime | None = None

    def tick() -> Report:
        ran.append(time.monotonic())
        report = Report()
        if len(ran) == 1:
            report.wake_at = datetime.now(UTC) + timedelta(seconds=0.5)
        return report

    scheduler = build_scheduler([Job("dispatch", tick, 3600)])
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(ran) == 2, "the early wake-up never came"
        assert 0.4 < ran[1] - ran[0] < 1.5
        # Then the interval holds again: no third run within the hour.
        (job,) = scheduler.get_jobs()
        assert job.next_run_time > datetime.now(UTC) + timedelta(minutes=59)
    finally:
        scheduler.shutdown(wait=False)


def test_building_twice_replaces_jobs_instead_of_duplicating_them() -> None:
    ran: list[str] = []
    jobs = [Job("dispatch", lambda: ran.append("d"), 5), Job("dispatch", lambda: None, 9)]
    scheduler = build_scheduler(jobs)
    scheduler.start(paused=True)  # pending jobs reach the job store, which replaces by id
    try:
        (only,) = scheduler.get_jobs()
        assert only.trigger.interval == timedelta(seconds=9)
        assert ran == []
    finally:
        scheduler.shutdown(wait=False)


def _seed(url: str, tz: str, *, slack_ids: list[str]) -> None:
    db = Database(url)
    now = datetime.now(UTC)
    with db.session() as session:
        training = Training(name="CLI")
        session.add(training)
        session.flush()
        for slack_id in slack_ids:
            person = Person(slack_id=slack_id, tz=tz)
            session.add(person)
            session.flush()
            enrollment = Enrollment(
                learner_id=person.id,
                training_id=training.id,
                starts_on=now.date() + timedelta(days=30),
                ends_on=now.date() + timedelta(days=30),
                source="csv",
            )
            session.add(enrollment)
            session.flush()
            session.add(
                Nudge(
                    enrollment_id=enrollment.id,
                    kind="goal_invite",
                    recipient_id=person.id,
                    due_at=now - timedelta(minutes=1),
                    idempotency_key=nudge_key(enrollment.id, 0, "goal_invite"),
                )
            )
    db.dispose()


def test_coachbot_dispatch_migrates_sends_and_exits_0_despite_failures(
    db_url: str, fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the working copy
    for name, value in {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_API_URL": fake.api_url,
        "DELIVERY_DAYS": "mon-sun",
    }.items():
        monkeypatch.setenv(name, value)
    # A database without tables: dispatch applies the migrations first.
    assert main(["dispatch"]) == 0
    assert fake.count("chat.postMessage") == 0

    now = datetime.now(UTC)
    rules = Rules(delivery_days=frozenset(range(7)))
    tz = next(
        name
        for name in ("UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Pacific/Auckland")
        if in_window(now, ZoneInfo(name), rules)
        and in_window(now + timedelta(minutes=2), ZoneInfo(name), rules)
    )
    fake.add_user("UOK", tz=tz)
    fake.add_user("UGONE", tz=tz, deleted=True)
    _seed(db_url, tz, slack_ids=["UOK", "UGONE"])
    assert main(["dispatch"]) == 0
    db = Database(db_url)
    with db.session() as session:
        rows = {
            p.slack_id: (n.status, n.reason)
            for n, p in session.exec(  # type: ignore[call-overload]
                sa.select(Nudge, Person).join(Person, Person.id == Nudge.recipient_id)
            ).all()
        }
    db.dispose()
    assert rows == {
        "UOK": ("sent", None),
        "UGONE": ("failed", "Slack answered account_inactive"),
    }
    assert len(fake.dms_to("UOK")) == 1


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_post_message_is_limited_per_channel_not_across_people() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep)
    for i in range(500):  # 500 different people at once: nobody waits
        limiter.acquire("chat.postMessage", f"U{i}")
    assert t.slept == []
    for _ in range(3):  # a burst to one person is fine
        limiter.acquire("chat.postMessage", "UONE")
    assert t.slept == []
    limiter.acquire("chat.postMessage", "UONE")  # the fourth waits for a token
    assert t.slept == [pytest.approx(1.0)]
    t.now += 10
    limiter.acquire("chat.postMessage", "UONE")
    assert len(t.slept) == 1


def test_tier_limits_and_retry_after() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep)
    for _ in range(100):  # Tier 4: a burst of 100, then about 100 a minute
        limiter.acquire("users.profile.get")
    with pytest.raises(ClientRateLimited) as refused:
        limiter.acquire("users.profile.get")  # status reads never wait: they are refused
    assert refused.value.response.status_code == 429
    # The wait is our own, known to the millisecond: the refused call says exactly how long.
    assert refused.value.response.headers["Retry-After"] == "0.6"
    t.now += 0.6
    limiter.acquire("users.profile.get")
    # Slack said 429, Retry-After: 3; every caller of the method waits that long.
    limiter.pause("chat.postMessage", 3)
    limiter.acquire("chat.postMessage", "UTWO")
    assert t.slept == [pytest.approx(3.0)]
    limiter.pause("chat.postMessage", 60)  # longer than a post may wait: refused
    with pytest.raises(ClientRateLimited):
        limiter.acquire("chat.postMessage", "UTHREE")


def test_every_call_of_the_client_goes_through_the_limiter(fake: FakeSlack) -> None:
    t = FakeTime()
    limiter = RateLimiter({"auth.test": Limit(per_second=1, burst=1)}, clock=t.clock, sleep=t.sleep)
    client = make_client("xoxb-test-token", fake.api_url, limiter=limiter, rate_limit_retries=0)
    client.auth_test()
    client.auth_test()
    assert t.slept == [pytest.approx(1.0)]
    fake.fail_next("users.info", status=429, retry_after=7)
    with pytest.raises(Exception, match="ratelimited"):
        client.users_info(user="USLACKBOT")
    before = len(t.slept)
    client.users_info(user="USLACKBOT")
    assert t.slept[before:] == [pytest.approx(7.0)]


def test_a_429_pauses_the_method_for_exactly_retry_after_for_every_sender(
    fake: FakeSlack,
) -> None:
    """The listeners' client retries a 429 after exactly Retry-After (slack_sdk's own handler
    adds up to a second of jitter), and the dispatcher's client, sharing the process's
    limiter, waits out the same pause before its next post."""
    for user in ("U1", "U2", "U3"):
        fake.add_user(user)
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep)
    listeners = make_client("xoxb-test-token", fake.api_url, limiter=limiter, rate_limit_retries=2)
    dispatcher = make_client("xoxb-test-token", fake.api_url, limiter=limiter, rate_limit_retries=0)
    fake.fail_next("chat.postMessage", status=429, retry_after=2)
    listeners.chat_postMessage(channel="U1", text="hello")
    assert t.slept == [2.0]  # exactly Retry-After, then the post went through
    assert fake.count("chat.postMessage") == 2 and len(fake.dms_to("U1")) == 1
    fake.fail_next("chat.postMessage", status=429, retry_after=3)
    with pytest.raises(Exception, match="ratelimited"):
        dispatcher.chat_postMessage(channel="U2", text="nudge")  # no retry: the row waits
    listeners.chat_postMessage(channel="U3", text="answer")  # another sender, same pause
    assert t.slept[1:] == [3.0]
