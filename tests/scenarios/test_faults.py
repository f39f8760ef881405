"""Faults: Slack answering 429, 500 or not at all, and the database locked or unreachable.

For every Web API method a listener uses, the person's action is stored exactly once where it
should be, Slack gets its 200 at once (never a 5xx), the person is told when nothing happened,
and the next request is served normally. The dispatcher's side (429/500 storms, a crash in the
middle of a batch) is covered in tests/scheduler/test_dispatcher.py; Socket Mode in
tests/scenarios/test_socket_mode.py.
"""

from __future__ import annotations

import contextlib
import copy
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from datetime import time as dtime
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlmodel import select
from support import (
    LEAD,
    PG_ADMIN_URL,
    Bot,
    Clock,
    Served,
    ada_and_grace,
    dispatch_due,
    eventually,
    make_settings,
    throwaway_pg,
    zone_in_window_now,
)

from bot.sim.driver import buttons, date_value, radio_value, text_value
from bot.sim.fakeslack import FakeSlack
from bot.slack.app import create_app
from bot.slack.client import make_client
from bot.slack.ids import Action, Block
from bot.web import create_web, make_server
from storage.db import Database
from storage.models import ConversationRecord, Enrollment, Goal, Note, Nudge, Person

PRE = datetime(2026, 12, 3, 9, 31, tzinfo=UTC)
FOLLOW = datetime(2027, 1, 8, 9, 31, tzinfo=UTC)
ERROR_TEXT = "Something went wrong on my side"
CLIENT_TIMEOUT = 1  # seconds; a "hung" Slack answers later than this
MODES = ["429", "500", "timeout"]
ALL_DAYS = frozenset(range(7))


@pytest.fixture
def db_url(tmp_path: Any) -> Iterator[str]:
    # Slack faults do not depend on the engine; the database faults below use both.
    yield f"sqlite:///{tmp_path / 'coachbot.db'}"


def serve(fake: FakeSlack, db: Database, clock: Clock, db_url: str, **overrides: Any) -> Any:
    """The real app over HTTP, as tests/support.start_bot, with a short Slack time-out."""
    settings = make_settings(fake, db_url, **overrides)
    client = make_client(
        settings.slack_bot_token,
        settings.slack_api_url,
        timeout=CLIENT_TIMEOUT,
        rate_limit_retries=1,
    )
    app, services = create_app(settings, db, client, clock=clock)
    server = Served(make_server(create_web(settings, app, services, http=True), port=0), app)
    url = f"http://127.0.0.1:{server.server.effective_port}"
    return Bot(url, settings, db, fake, services, clock), server


@pytest.fixture
def bot(fake: FakeSlack, db: Database, clock: Clock, db_url: str) -> Iterator[Bot]:
    instance, server = serve(fake, db, clock, db_url, ld_usergroup="S0LDTEAM")
    fake.add_usergroup("S0LDTEAM", "ld-team", ["UGROUPLEAD"])
    yield instance
    server.close()


class Fault:
    """Makes `method` fail in `mode` past the client's own retries, until `heal()`."""

    def __init__(
        self, fake: FakeSlack, method: str, mode: str, *, hang: float = CLIENT_TIMEOUT + 0.5
    ) -> None:
        self.fake, self.method, self.mode = fake, method, mode
        self.before = fake.count(method)
        if mode == "429":
            fake.fail_always(method, status=429, retry_after=1)
        elif mode == "429-once":  # one rate-limited answer, then Slack takes it
            fake.fail_next(method, status=429, retry_after=1)
        elif mode == "500":
            fake.fail_always(method, status=500)
        else:
            for _ in range(3):  # a time-out is not retried, but be generous
                fake.hang_next(method, hang)

    def settle(self) -> None:
        """Wait until the listener has met the failure and moved on."""
        self.fake.wait_for_calls(self.method, self.before + 1, timeout=10)
        # 429: one retry after Retry-After (1 s plus up to 1 s of jitter); a time-out: the
        # client gives up after CLIENT_TIMEOUT; a 500: two retries with backoff and jitter.
        time.sleep(
            {"429": 2.3, "429-once": 2.3, "timeout": CLIENT_TIMEOUT + 0.6}.get(self.mode, 4.0)
        )

    def heal(self) -> None:
        self.settle()
        self.fake.clear_faults()


def _prompt(bot: Bot, when: datetime, user: str = "UGRACE") -> dict[str, Any]:
    bot.clock.set(when)
    dispatch_due(bot)
    return [m for m in bot.fake.dms_to(user) if not m.get("thread_ts")][-1]


def _records(bot: Bot) -> list[ConversationRecord]:
    with bot.db.session() as s:
        return list(s.exec(select(ConversationRecord)).all())


def _ephemerals_to(bot: Bot, user: str) -> list[str]:
    return [str(e.get("text")) for e in bot.fake.ephemerals if e.get("user") == user]


PRE_VALUES = {
    Block.WHAT: text_value("Run better 1:1s"),
    Block.WHY: text_value("Clearer feedback"),
    Block.HOW: text_value("Weekly"),
    Block.ORG_IMPORTANCE: radio_value("3"),
    Block.CHECKIN_ON: date_value("2026-12-15"),
}


def _still_serving(bot: Bot) -> None:
    assert bot.get("/healthz").status == 200
    assert bot.command("/goal", "help", user="UADA").status == 200


# -- Slack faults, one listener at a time --------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_views_open_failing_tells_the_manager_and_a_second_click_works(bot: Bot, mode: str) -> None:
    ada_and_grace(bot)
    dm = _prompt(bot, PRE)
    fault = Fault(bot.fake, "views.open", mode)
    assert bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE").status == 200
    fault.heal()
    # Not silence: the trigger is spent, so the manager is told to try again.
    assert any(ERROR_TEXT in t for t in _ephemerals_to(bot, "UGRACE"))
    assert _records(bot) == []
    assert bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE").status == 200
    view = bot.opened_view()
    assert bot.submit(view, PRE_VALUES, user="UGRACE").status == 200
    assert len(_records(bot)) == 1


@pytest.mark.parametrize("mode", MODES)
def test_chat_update_failing_still_stores_the_logged_conversation_once(bot: Bot, mode: str) -> None:
    ada_and_grace(bot)
    dm = _prompt(bot, PRE)
    bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE")
    view = bot.opened_view()
    fault = Fault(bot.fake, "chat.update", mode)
    answer = bot.submit(view, PRE_VALUES, user="UGRACE")
    assert answer.status == 200 and answer.json() in ({}, None)  # the modal closes at once
    fault.heal()
    assert bot.submit(view, PRE_VALUES, user="UGRACE").status == 200  # submit again
    records = _records(bot)
    assert len(records) == 1 and records[0].what == "Run better 1:1s"
    _still_serving(bot)


@pytest.mark.parametrize("mode", MODES)
def test_chat_update_failing_on_a_follow_up_click_keeps_the_answer(bot: Bot, mode: str) -> None:
    """The DM update runs inside the answer's transaction here: a Slack time-out escaping it
    used to roll the answer back after the person had clicked."""
    ada_and_grace(bot)
    dm = copy.deepcopy(_prompt(bot, FOLLOW))  # the buttons as the manager saw them
    fault = Fault(bot.fake, "chat.update", mode)
    assert bot.click(dm, Action.CASE_DIDNT_STICK, user="UGRACE").status == 200
    fault.heal()
    assert [r.outcome for r in eventually(lambda: _records(bot))] == ["partly"]
    assert bot.click(dm, Action.CASE_CLEAR_RESULTS, user="UGRACE").status == 200  # again
    time.sleep(0.3)
    assert [r.outcome for r in _records(bot)] == ["partly"]


@pytest.mark.parametrize("mode", MODES)
def test_chat_update_failing_on_snooze_keeps_the_snooze(bot: Bot, mode: str) -> None:
    ada_and_grace(bot)
    dm = _prompt(bot, PRE)
    fault = Fault(bot.fake, "chat.update", mode)
    assert bot.click(dm, Action.REMIND_TOMORROW, user="UGRACE").status == 200
    fault.heal()

    def snoozed() -> bool:
        with bot.db.session() as s:
            nudge = s.exec(select(Nudge).where(Nudge.kind == "pre_training")).one()
            return nudge.reason == "snoozed"

    assert eventually(snoozed)


@pytest.mark.parametrize("mode", MODES)
def test_chat_post_ephemeral_failing_still_stores_the_learners_interest(
    bot: Bot, mode: str
) -> None:
    ada_and_grace(bot)
    bot.clock.set(datetime(2026, 12, 1, 9, 31, tzinfo=UTC))
    dispatch_due(bot)
    invite = next(m for m in bot.fake.dms_to("UADA") if Action.INTEREST in buttons(m))
    nudge_id = next(
        o["value"]
        for o in buttons(invite)[Action.INTEREST].get("options", [])
        if o["value"].endswith(":3")
    )
    fault = Fault(bot.fake, "chat.postEphemeral", mode)
    assert bot.click(invite, Action.INTEREST, user="UADA", value=nudge_id).status == 200
    fault.heal()
    with bot.db.session() as s:
        assert s.exec(select(Enrollment)).one().learner_interest == 3
    _still_serving(bot)


@pytest.mark.parametrize("mode", [*MODES, "429-once"])
def test_sharing_a_goal_while_chat_post_message_fails_stores_it_once(bot: Bot, mode: str) -> None:
    ada_and_grace(bot)
    to_grace = len(bot.fake.dms_to("UGRACE"))
    fault = Fault(bot.fake, "chat.postMessage", mode)
    assert bot.command("/goal", "Give feedback weekly", user="UADA").status == 200
    fault.heal()
    with bot.db.session() as s:
        goals = s.exec(select(Goal)).all()
    assert [g.text for g in goals] == ["Give feedback weekly"]
    shared = [m for m in bot.fake.dms_to("UGRACE")[to_grace:] if "feedback" in str(m)]
    # A 429 means Slack did nothing, so it is sent again after Retry-After; a 500 or a
    # time-out may have reached Slack (the hung one did), so it is never repeated blindly.
    if mode == "429-once":
        assert len(shared) == 1
    else:
        assert len(shared) <= 1
    assert bot.fake.responses[-1]["text"].startswith("Saved your goal")  # Ada was answered


@pytest.mark.parametrize("mode", MODES)
def test_reactions_add_failing_still_records_the_thread_reply_once(bot: Bot, mode: str) -> None:
    ada_and_grace(bot)
    dm = _prompt(bot, PRE)
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": dm["channel"],
        "user": "UGRACE",
        "text": "We talked, all good",
        "ts": "1800000000.000200",
        "thread_ts": dm["ts"],
    }
    fault = Fault(bot.fake, "reactions.add", mode)
    assert bot.event(event, event_id="EvR").status == 200
    fault.heal()
    assert bot.event(event, event_id="EvR", retry=1).status == 200  # Slack's retry
    assert bot.event(event, event_id="EvR", retry=2).status == 200
    time.sleep(0.3)
    with bot.db.session() as s:
        assert [n.text for n in s.exec(select(Note)).all()] == ["We talked, all good"]
    _still_serving(bot)


@pytest.mark.parametrize("mode", MODES)
def test_views_publish_failing_keeps_the_sharing_choice(bot: Bot, mode: str) -> None:
    ada_and_grace(bot)
    fault = Fault(bot.fake, "views.publish", mode)
    assert bot.event({"type": "app_home_opened", "user": "UADA", "tab": "home"}).status == 200
    fault.heal()
    fault = Fault(bot.fake, "views.publish", mode)
    home = {
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "action_id": Action.TOGGLE_SHARING, "value": "off"}
                ],
            }
        ]
    }
    answer = bot.interact(
        {
            "type": "block_actions",
            "user": {"id": "UADA"},
            "trigger_id": "trigger-home",
            "container": {"type": "view", "view_id": "VHOME"},
            "view": {"id": "VHOME", "type": "home"},
            "actions": [{**buttons(home)[Action.TOGGLE_SHARING], "block_id": "b"}],
        }
    )
    assert answer.status == 200
    fault.heal()
    with bot.db.session() as s:
        ada = s.exec(select(Person).where(Person.slack_id == "UADA")).one()
        assert ada.share_goals is False
    assert bot.event({"type": "app_home_opened", "user": "UADA", "tab": "home"}).status == 200
    bot.fake.wait_for_calls("views.publish", fault.before + 2)


@pytest.mark.parametrize(
    ("method", "mode"),
    [(m, mode) for m in ("conversations.open", "files.getUploadURLExternal") for mode in MODES],
)
def test_the_summary_says_so_when_slack_fails_and_works_next_time(
    bot: Bot, method: str, mode: str
) -> None:
    ada_and_grace(bot)
    bot.fake.add_user(LEAD, email="lead@example.org", real_name="Lee", tz="UTC")
    fault = Fault(bot.fake, method, mode)
    answer = bot.command("/training-summary", user=LEAD)
    assert answer.status == 200 and "Putting together" in answer.text  # acked at once
    fault.heal()
    failures = eventually(lambda: [m for m in bot.fake.dms_to(LEAD) if ERROR_TEXT in str(m)])
    assert len(failures) == 1
    bot.command("/training-summary", user=LEAD)
    bot.fake.wait_for_calls("files.completeUploadExternal")


@pytest.mark.parametrize("mode", MODES)
def test_usergroups_failing_refuses_politely_and_leads_still_work(bot: Bot, mode: str) -> None:
    # Read before the ack, with its own short time-out (2 s) and no retries.
    fault = Fault(bot.fake, "usergroups.users.list", mode, hang=2.6)
    answer = bot.command("/training-summary", user="UGROUPLEAD")
    assert answer.status == 200 and "for L&D leads" in answer.text  # not a 5xx, not a crash
    fault.heal()
    assert "Putting together" in bot.command("/training-summary", user=LEAD).text
    assert "Putting together" in bot.command("/training-summary", user="UGROUPLEAD").text


@pytest.mark.parametrize("mode", [*MODES, "429-once"])
def test_webhook_while_slack_lookups_fail_stores_nothing_half_and_retries_cleanly(
    bot: Bot, mode: str
) -> None:
    bot.fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="UTC")
    body = {
        "external_id": "lms-9",
        "learner_email": "ada@example.org",
        "training": "Coaching Skills",
        "starts_on": "2026-12-08",
        "ends_on": "2026-12-09",
    }
    fault = Fault(bot.fake, "users.lookupByEmail", mode)
    first = bot.webhook(body)
    fault.heal()
    if mode == "429-once":
        assert first.status == 201  # Retry-After waited out inside the client
    else:
        # Not "matches nobody" (a 400 is final for an LMS): a 503, nothing stored half-way.
        assert first.status == 503 and "error" in first.json()  # the LMS will retry
        assert "Traceback" not in first.text
        with bot.db.session() as s:
            assert s.exec(select(Enrollment)).all() == []
        assert bot.webhook(body).status == 201  # the LMS retries once Slack answers
    assert bot.webhook(body).status == 200  # and a repeat is a duplicate, not a second row
    with bot.db.session() as s:
        assert len(s.exec(select(Enrollment)).all()) == 1


def test_a_listener_that_crashes_before_its_ack_still_answers_200_with_a_message(
    bot: Bot,
) -> None:
    """Bolt answers 500 when a listener raises before ack(); the app's error handler answers
    Slack with 200 and tells the person instead."""
    ada_and_grace(bot)
    dm = _prompt(bot, PRE)
    bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE")
    view = bot.opened_view()
    real = bot.db.session

    def broken() -> Any:
        raise RuntimeError("the database went away")

    bot.db.session = broken  # type: ignore[method-assign]
    try:
        answer = bot.submit(view, PRE_VALUES, user="UGRACE")
        command = bot.command("/enroll", user="UGRACE")  # acks first: still 200
        goal = bot.command("/goal", "list", user="UADA")
    finally:
        bot.db.session = real  # type: ignore[method-assign]
    assert answer.status == 200
    assert answer.json()["response_action"] == "errors"  # the modal stays, with what they typed
    assert ERROR_TEXT in str(answer.json()["errors"])
    assert command.status == 200 and goal.status == 200
    eventually(lambda: any(ERROR_TEXT in str(r.get("text")) for r in bot.fake.responses))
    assert bot.submit(view, PRE_VALUES, user="UGRACE").status == 200
    assert len(_records(bot)) == 1


# -- the dispatcher under a storm, with the real scheduler on the real clock ----------------


def test_a_429_then_500_storm_reaches_the_manager_within_30_seconds_once(
    fake: FakeSlack, db: Database, db_url: str
) -> None:
    """The polling job runs every 30 s; a 429 (Retry-After: 1) brings it back a second
    later, a 500 a few seconds later, so the prompt is not a whole interval (or more) late."""
    from datetime import date, timedelta

    from bot.runtime import scheduler_jobs
    from scheduler.jobs import build_scheduler
    from scheduler.planning import Rules
    from storage.models import utcnow

    rules = Rules(delivery_time=dtime(0, 0), delivery_end=dtime(23, 59), delivery_days=ALL_DAYS)
    tz = zone_in_window_now(rules)
    overrides = {"delivery_time": dtime(0, 0), "delivery_end": dtime(23, 59)}
    bot, server = serve(
        fake, db, utcnow, db_url, delivery_days=ALL_DAYS, goal_invite_days=0, **overrides
    )
    scheduler = None
    try:
        for uid, name in (("UADA", "Ada"), ("UGRACE", "Grace")):
            fake.add_user(uid, email=f"{name.lower()}@example.org", real_name=name, tz=tz)
        starts = date.today() + timedelta(days=2)
        body = {**_enrollment("lms-storm"), "starts_on": str(starts), "ends_on": str(starts)}
        assert bot.webhook(body).status == 201  # the pre-training prompt is due at once
        fake.fail_next("chat.postMessage", status=429, retry_after=1, count=2)
        fake.fail_next("chat.postMessage", status=500)
        jobs = scheduler_jobs(bot.settings, db, bot.services.client, bot.services.catalogues)
        scheduler = build_scheduler([job for job in jobs if job.id == "dispatch"])
        started = time.monotonic()
        scheduler.start()
        eventually(lambda: fake.dms_to("UGRACE"), timeout=30)
        took = time.monotonic() - started
        assert took < 30, took  # 1 + 1 + 5 s of waiting
        time.sleep(0.5)
        with db.session() as s:
            prompt = s.exec(select(Nudge).where(Nudge.kind == "pre_training")).one()
        assert prompt.status == "sent"
        assert len(fake.dms_to("UGRACE")) == 1
        assert fake.count("chat.postMessage") == 4  # two 429s, a 500, the post
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        server.close()


# -- the database locked or unreachable ----------------------------------------------------


def test_sqlite_locked_by_another_writer_waits_and_succeeds(bot: Bot, db_url: str) -> None:
    ada_and_grace(bot)
    path = db_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    other.execute("UPDATE person SET name = name")
    released = threading.Timer(2.0, lambda: other.execute("COMMIT"))
    released.start()
    started = time.monotonic()
    answer = bot.webhook({**_enrollment("lms-2")})
    waited = time.monotonic() - started
    released.join()
    other.close()
    assert answer.status == 201, answer.text
    assert waited >= 1.5  # it waited for the lock (busy timeout) instead of failing
    with bot.db.session() as s:
        assert len(s.exec(select(Enrollment)).all()) == 2


def _enrollment(external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "learner_email": "ada@example.org",
        "manager_email": "grace@example.org",
        "training": f"Course {external_id}",
        "starts_on": "2026-12-08",
        "ends_on": "2026-12-09",
    }


class Outage:
    """A TCP proxy in front of PostgreSQL that can go down (cutting every connection and
    refusing new ones) and come back, as a database restart or a network blip does."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.down = True
        with self.lock:
            links, self.links = self.links, []
        for s in links:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def pg_outage() -> Iterator[tuple[str, Outage]]:
    for url in throwaway_pg():
        parts = urlsplit(url)
        outage = Outage(parts.hostname or "127.0.0.1", parts.port or 5432)
        netloc = (parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else "") + (
            f"127.0.0.1:{outage.port}"
        )
        yield parts._replace(netloc=netloc).geturl(), outage
        outage.close()


def test_postgres_unreachable_answers_clearly_and_recovers(
    fake: FakeSlack, clock: Clock, pg_outage: tuple[str, Outage]
) -> None:
    url, outage = pg_outage
    db = Database(url, connect_args={"connect_timeout": 2})
    db.upgrade()
    bot, server = serve(fake, db, clock, url)
    try:
        ada_and_grace(bot)
        assert bot.command("/goal", "Listen more", user="UADA").status == 200
        fake.wait_for_responses(1)  # saved (the answer comes after the goal is stored)

        outage.cut()
        health = bot.get("/healthz")
        assert (health.status, health.json()["database"]) == (503, "down")
        hook = bot.webhook(_enrollment("lms-down"))
        assert hook.status == 503 and "database" in hook.json()["error"]  # not a 500
        assert hook.headers.get("Retry-After") and "Traceback" not in hook.text
        answered = len(fake.responses)
        goal = bot.command("/goal", "list", user="UADA")
        assert goal.status == 200  # acked; then the person hears what happened
        eventually(lambda: any(ERROR_TEXT in str(r.get("text")) for r in fake.responses[answered:]))

        outage.restore()
        assert bot.get("/healthz").status == 200  # pool_pre_ping replaces dead connections
        assert bot.webhook(_enrollment("lms-down")).status == 201
        with db.session() as s:
            assert [g.text for g in s.exec(select(Goal)).all()] == ["Listen more"]  # kept
            assert len(s.exec(select(Enrollment)).all()) == 2
    finally:
        server.close()
        db.dispose()


def test_postgres_backends_terminated_under_the_app_are_replaced(
    fake: FakeSlack, clock: Clock
) -> None:
    for url in throwaway_pg():
        db = Database(url)
        db.upgrade()
        bot, server = serve(fake, db, clock, url)
        try:
            ada_and_grace(bot)  # the pool now holds live connections
            name = urlsplit(url).path.lstrip("/")
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                ).fetchone()
            assert killed and killed[0] >= 1
            assert bot.get("/healthz").status == 200
            assert bot.webhook(_enrollment("lms-after")).status == 201
            with db.session() as s:
                assert len(s.exec(select(Enrollment)).all()) == 2
        finally:
            server.close()
            db.dispose()


# -- Slack events while the database is unreachable ----------------------------------------


def _slack_event(bot: Bot, which: str) -> dict[str, Any]:
    """One of the events the bot stores: a thread reply, a status change, a Home opened."""
    if which == "thread_reply":
        dm = _prompt(bot, PRE)
        return {
            "type": "message",
            "channel_type": "im",
            "channel": dm["channel"],
            "user": "UGRACE",
            "text": "We agreed on weekly 1:1s",
            "ts": "1765000000.000900",
            "thread_ts": dm["ts"],
        }
    if which == "user_change":
        bot.fake.set_status("UGRACE", "On holiday", ":palm_tree:")
        return {"type": "user_change", "user": bot.fake.users["UGRACE"]}
    return {"type": "app_home_opened", "user": "UGRACE", "tab": "home"}


def _stored(bot: Bot, which: str) -> Any:
    """What the event left behind: the notes, Grace's status, the Homes published."""
    if which == "thread_reply":
        with bot.db.session() as s:
            return [n.text for n in s.exec(select(Note)).all()]
    if which == "user_change":
        with bot.db.session() as s:
            grace = s.exec(select(Person).where(Person.slack_id == "UGRACE")).one()
            return grace.status_text
    return [c.params.get("user_id") for c in bot.fake.calls_to("views.publish")]


STORED = {
    "thread_reply": ["We agreed on weekly 1:1s"],
    "user_change": "On holiday",
    "app_home_opened": ["UGRACE"],
}


@pytest.mark.parametrize("which", list(STORED))
def test_an_event_the_database_cannot_take_is_not_acknowledged_and_stored_once_later(
    fake: FakeSlack, clock: Clock, pg_outage: tuple[str, Outage], which: str
) -> None:
    """Slack sends an event again when it got no 2xx within 3 seconds: a 503 at once while
    the database is unreachable, then its retry is stored, and a further retry changes
    nothing."""
    url, outage = pg_outage
    db = Database(url, connect_args={"connect_timeout": 2})
    db.upgrade()
    bot, server = serve(fake, db, clock, url)
    try:
        ada_and_grace(bot)
        event = _slack_event(bot, which)
        before = _stored(bot, which)
        outage.cut()
        started = time.monotonic()
        answer = bot.event(event, event_id="EvOutage")
        assert answer.status == 503, answer.text  # not acknowledged as handled
        assert time.monotonic() - started < 2.5  # inside Slack's 3 seconds all the same
        outage.restore()
        assert _stored(bot, which) == before  # nothing half-done while it was down
        assert bot.event(event, event_id="EvOutage", retry=1).status == 200
        assert eventually(lambda: _stored(bot, which) == STORED[which])
        if which == "thread_reply":
            fake.wait_for_calls("reactions.add")  # the slow part, after the ack
        assert bot.event(event, event_id="EvOutage", retry=2).status == 200
        time.sleep(0.3)  # every chance for a duplicate to be written
        if which == "app_home_opened":
            assert _stored(bot, which) == ["UGRACE", "UGRACE"]  # each opening gets the tab
        else:
            assert _stored(bot, which) == STORED[which]
        assert fake.count("reactions.add") == (1 if which == "thread_reply" else 0)
    finally:
        server.close()
        db.dispose()
