"""Test support: the settable clock, the signed-request client of the real app, and the
shapes Slack uses for modal input values."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from bot.settings import Settings
from bot.sim.driver import signed_request_headers
from bot.sim.fakeslack import FakeSlack
from bot.slack.app import create_app, create_web
from bot.slack.client import make_client
from bot.web import make_server
from storage.db import Database

PG_ADMIN_URL = os.environ.get("COACHBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("COACHBOT_REQUIRE_POSTGRES") == "1"
SIGNING_SECRET = "test-signing-secret"
WEBHOOK_TOKEN = "test-webhook-token"
LEAD = "ULEAD0001"


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).strip()[:120]}"


PG_PROBLEM = _pg_reachable()


def throwaway_pg() -> Iterator[str]:
    if PG_PROBLEM:
        if REQUIRE_PG:
            pytest.fail(f"{PG_PROBLEM} (COACHBOT_REQUIRE_POSTGRES=1 makes it mandatory)")
        pytest.skip(PG_PROBLEM)
    name = f"coachbot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Clock:
    """A settable clock, injected wherever logic depends on now."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


def make_settings(fake: FakeSlack, db_url: str, **overrides: Any) -> Settings:
    base = Settings(
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.api_url,
        database_url=db_url,
        enrollment_webhook_token=WEBHOOK_TOKEN,
        ld_leads=frozenset({LEAD}),
        default_timezone="UTC",
    )
    return replace(base, **overrides)


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def text(self) -> str:
        return self.body.decode()


def http(method: str, url: str, data: bytes | None, headers: dict[str, str]) -> Response:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return Response(answer.status, answer.read(), dict(answer.headers))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read(), dict(error.headers))


@dataclass
class Bot:
    """The real app behind a real HTTP server; requests are signed as Slack signs them."""

    url: str
    settings: Settings
    db: Database
    fake: FakeSlack
    services: Any
    clock: Clock
    views_seen: int = 0
    ephemerals_seen: int = 0

    def post(self, path: str, body: bytes | str, headers: dict[str, str] | None = None) -> Response:
        data = body.encode() if isinstance(body, str) else body
        return http("POST", self.url + path, data, headers or {})

    def get(self, path: str) -> Response:
        return http("GET", self.url + path, None, {})

    def signed(self, body: str, *, timestamp: int | None = None, **extra: str):  # type: ignore[no-untyped-def]
        headers = signed_request_headers(SIGNING_SECRET, body, timestamp)
        headers.update(extra)
        return self.post("/slack/events", body, headers)

    def command(self, command: str, text: str = "", *, user: str) -> Response:
        self.views_seen = self.fake.count("views.open")
        form = {
            "command": command,
            "text": text,
            "user_id": user,
            "user_name": user.lower(),
            "team_id": self.fake.team_id,
            "channel_id": f"D{user[1:]}",
            "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
            "response_url": f"{self.fake.url}/response/{uuid.uuid4().hex[:8]}",
            "token": "legacy-verification-token",
        }
        return self.signed(urllib.parse.urlencode(form))

    def interact(self, payload: dict[str, Any]) -> Response:
        payload.setdefault("team", {"id": self.fake.team_id})
        payload.setdefault("api_app_id", self.fake.app_id)
        return self.signed(urllib.parse.urlencode({"payload": json.dumps(payload)}))

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> Response:
        body = {
            "type": "event_callback",
            "team_id": self.fake.team_id,
            "api_app_id": self.fake.app_id,
            "event": event,
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(self.clock().timestamp()),
            "authorizations": [{"user_id": self.fake.bot_user_id, "is_bot": True}],
        }
        extra = {}
        if retry is not None:
            extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return self.signed(json.dumps(body), **extra)

    def webhook(self, body: Any, *, token: str | None = WEBHOOK_TOKEN) -> Response:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.post("/api/enrollments", data, headers)

    def view_submission(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str
    ) -> Response:
        """Submit a modal the bot opened, with `values` as Slack's view.state.values."""
        submitted = dict(view)
        submitted["state"] = {"values": values}
        submitted.setdefault("id", f"V{uuid.uuid4().hex[:8].upper()}")
        return self.interact({"type": "view_submission", "user": {"id": user}, "view": submitted})


def start_bot(
    fake: FakeSlack, db: Database, clock: Clock, db_url: str, **overrides: Any
) -> tuple[Bot, Any]:
    settings = make_settings(fake, db_url, **overrides)
    client = make_client(settings.slack_bot_token, settings.slack_api_url, rate_limit_retries=1)
    app, services = create_app(settings, db, client, clock=clock)
    web = create_web(settings, app, services, http=True)
    server = make_server(web, port=0)
    port = server.effective_port
    return Bot(f"http://127.0.0.1:{port}", settings, db, fake, services, clock), Served(server, app)


class Served:
    """The bot's server; closing it also waits for the work listeners do after their ack
    (a summary still being posted), so none of it outlives the test that started it."""

    def __init__(self, server: Any, app: Any) -> None:
        self.server, self.app = server, app

    def close(self) -> None:
        self.server.close()
        self.app.listener_runner.listener_executor.shutdown(wait=True)


# Input values as Slack sends them in view.state.values, keyed by block id.
def text_value(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def date_value(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "datepicker", "selected_date": value}}


def users_value(users: list[str]) -> dict[str, Any]:
    return {"value": {"type": "multi_users_select", "selected_users": users}}


def user_value(user: str | None) -> dict[str, Any]:
    return {"value": {"type": "users_select", "selected_user": user}}


def radio_value(value: str | None) -> dict[str, Any]:
    option = {"value": value, "text": {"type": "plain_text", "text": value}} if value else None
    return {"value": {"type": "radio_buttons", "selected_option": option}}


def select_value(value: str | None) -> dict[str, Any]:
    option = {"value": value, "text": {"type": "plain_text", "text": value}} if value else None
    return {"value": {"type": "static_select", "selected_option": option}}


def checkbox_value(values: list[str]) -> dict[str, Any]:
    return {
        "value": {
            "type": "checkboxes",
            "selected_options": [
                {"value": v, "text": {"type": "plain_text", "text": v}} for v in values
            ],
        }
    }


def dispatch_due(bot: Bot) -> Any:
    """One dispatcher tick on the bot's clock, as `coachbot worker` would run it."""
    from bot.runtime import make_dispatcher

    dispatcher = make_dispatcher(
        bot.settings, bot.db, bot.services.client, bot.services.prompts, clock=bot.clock
    )
    return dispatcher.tick()


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons and selects of a message or view, by action id."""
    found: dict[str, dict[str, Any]] = {}
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("action_id"):
                found.setdefault(
                    element["action_id"], {**element, "block_id": block.get("block_id")}
                )
    return found


def click(
    bot: Bot, message: dict[str, Any], action_id: str, *, user: str, value: str | None = None
) -> Response:
    """Press a button of a DM the fake received, as Slack sends it."""
    element = buttons(message)[action_id]
    action = {
        "action_id": action_id,
        "block_id": element.get("block_id") or "b",
        "type": element.get("type", "button"),
        "action_ts": "1700000000.000001",
    }
    if element.get("type") == "radio_buttons" or (value is not None and element.get("options")):
        action["selected_option"] = {"value": value, "text": {"type": "plain_text", "text": "x"}}
    else:
        action["value"] = value if value is not None else element.get("value")
    channel = message.get("channel")
    bot.views_seen = bot.fake.count("views.open")
    bot.ephemerals_seen = bot.fake.count("chat.postEphemeral")
    return bot.interact(
        {
            "type": "block_actions",
            "user": {"id": user},
            "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
            "container": {
                "type": "message",
                "channel_id": channel,
                "message_ts": message.get("ts"),
                "is_ephemeral": False,
            },
            "channel": {"id": channel},
            "message": {"ts": message.get("ts"), "text": message.get("text", "")},
            "response_url": f"{bot.fake.url}/response/{uuid.uuid4().hex[:8]}",
            "actions": [action],
        }
    )


def opened_view(bot: Bot, *, index: int = -1) -> dict[str, Any]:
    """The view the app opened (views.open) after the last command or click."""
    call = bot.fake.wait_for_calls("views.open", bot.views_seen + 1)[index]
    view = call.params["view"]
    return view if isinstance(view, dict) else json.loads(view)


def eventually(check: Any, timeout: float = 15.0) -> Any:
    """Wait for work a listener does after its ack; returns the first truthy result."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "the expected effect never happened"
            return result
        time.sleep(0.02)


# The story most tests start from: Ada (learner) and her manager Grace, both in UTC, and Eve,
# who has nothing to do with them; Ada is enrolled by the LMS in a training on 8-9 Dec 2026.
ADA_ENROLLMENT = {
    "external_id": "lms-1",
    "learner_email": "ada@example.org",
    "manager_email": "grace@example.org",
    "training": "Coaching Skills",
    "starts_on": "2026-12-08",
    "ends_on": "2026-12-09",
}


def ada_and_grace(bot: Bot, **changes: Any) -> dict[str, Any]:
    """Add Ada, Grace and Eve to the fake Slack and enroll Ada; returns the webhook body."""
    for uid, name in (("UADA", "Ada"), ("UGRACE", "Grace"), ("UEVE", "Eve")):
        bot.fake.add_user(uid, email=f"{name.lower()}@example.org", real_name=name, tz="UTC")
    body = {**ADA_ENROLLMENT, **changes}
    response = bot.webhook(body)
    assert response.status == 201, response.text
    return body


def goal_talk_and_note(bot: Bot, *, goal: str, what: str, note: str) -> None:
    """After `ada_and_grace`: Ada shares `goal`; Grace logs `what` and replies `note`."""
    from bot.slack.ids import Action, Block

    bot.command("/goal", goal, user="UADA")
    bot.fake.wait_for_responses()
    bot.clock.set(datetime(2026, 12, 3, 9, 31, tzinfo=UTC))
    dispatch_due(bot)
    dm = next(m for m in bot.fake.dms_to("UGRACE") if Action.LOG_CONVERSATION in buttons(m))
    click(bot, dm, Action.LOG_CONVERSATION, user="UGRACE")
    bot.view_submission(
        opened_view(bot),
        {Block.WHAT: text_value(what), Block.ORG_IMPORTANCE: radio_value("3")},
        user="UGRACE",
    )
    bot.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": dm["channel"],
            "user": "UGRACE",
            "text": note,
            "ts": "1765000000.000500",
            "thread_ts": dm["ts"],
        }
    )
    bot.fake.wait_for_calls("reactions.add")
