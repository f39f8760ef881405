"""Slack's side of the conversation, for `coachbot demo`, the tests and the bench: the signed
requests Slack sends an app when people type a command, click, submit a modal or write, and
the posts an LMS sends to the enrollment webhook.
"""

from __future__ import annotations

import contextlib
import enum
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from slack_sdk.signature import SignatureVerifier

from bot.sim.fakeslack import APP_ID, BOT_USER_ID, TEAM_ID, FakeSlack
from bot.slack.ids import INPUT_ACTION

__all__ = [
    "Response",
    "SignedRequest",
    "SlackDriver",
    "buttons",
    "checkbox_value",
    "date_value",
    "radio_value",
    "select_value",
    "signed_request_headers",
    "text_value",
    "user_value",
    "users_value",
]

Json = dict[str, Any]

EVENTS_PATH = "/slack/events"
WEBHOOK_PATH = "/api/enrollments"
# Where response_url points when no fake Slack is named: the discard port, nobody listens.
NO_SLACK_URL = "http://127.0.0.1:9"
TIMEOUT_SECONDS = 30


def signed_request_headers(
    signing_secret: str, body: str, timestamp: int | None = None
) -> dict[str, str]:
    """Headers Slack would send with `body`: the v0 signature, its timestamp and the type."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    content_type = (
        "application/json" if body.lstrip().startswith("{") else "application/x-www-form-urlencoded"
    )
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
    }


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as Slack would send it, ready for any HTTP client (the bench's kept-alive
    connections send these themselves)."""

    path: str
    data: bytes
    headers: dict[str, str]


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
    """One request on a new connection; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            return Response(answer.status, answer.read(), dict(answer.headers))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read(), dict(error.headers))


class _Token(enum.Enum):
    OWN = "own"


class SlackDriver:
    """Sends the app at `app_url` what Slack sends for each person, signed with the app's
    signing secret, and reads what the app did from `fake`, the workspace it talks to.

    Without a `fake` (one served by another process, as in the bench) it still builds, signs
    and sends; `slack_url` is then that fake's address, where response_url points. `clock`
    dates events (the app's virtual clock, if it has one). `settle` is how long, after each
    command or click, to wait for a modal the app may open, as a person looks before going on.
    """

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        fake: FakeSlack | None = None,
        *,
        slack_url: str | None = None,
        webhook_token: str | None = None,
        clock: Callable[[], datetime] | None = None,
        settle: float = 0.0,
    ) -> None:
        self.app_url = app_url.rstrip("/")
        self.signing_secret = signing_secret
        self.fake = fake
        self.slack_url = slack_url or (fake.url if fake is not None else NO_SLACK_URL)
        self.team_id = fake.team_id if fake is not None else TEAM_ID
        self.app_id = fake.app_id if fake is not None else APP_ID
        self.bot_user_id = fake.bot_user_id if fake is not None else BOT_USER_ID
        self.webhook_token = webhook_token
        self.clock = clock
        self.settle = settle
        # What the workspace had when a person last acted: opened_view() waits for the next.
        self.views_seen = 0
        self.ephemerals_seen = 0

    # -- plain requests ----------------------------------------------------------------------

    def post(self, path: str, body: bytes | str, headers: dict[str, str] | None = None) -> Response:
        data = body.encode() if isinstance(body, str) else body
        return http("POST", self.app_url + path, data, headers or {})

    def get(self, path: str) -> Response:
        return http("GET", self.app_url + path, None, {})

    def signed_request(
        self, body: str, *, timestamp: int | None = None, headers: dict[str, str] | None = None
    ) -> SignedRequest:
        """`body` for the app's Slack route with the headers Slack signs it with, not sent."""
        signed = signed_request_headers(self.signing_secret, body, timestamp)
        signed.update(headers or {})
        return SignedRequest(EVENTS_PATH, body.encode(), signed)

    def signed(
        self, body: str, *, timestamp: int | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        request = self.signed_request(body, timestamp=timestamp, headers=headers)
        return self.post(request.path, request.data, request.headers)

    # -- slash commands ----------------------------------------------------------------------

    def command_body(self, command: str, text: str = "", *, user: str) -> str:
        return urllib.parse.urlencode(
            {
                "command": command,
                "text": text,
                "user_id": user,
                "user_name": user.lower(),
                "team_id": self.team_id,
                "channel_id": self._dm_channel(user),
                "trigger_id": _trigger_id(),
                "response_url": self._response_url(),
                "token": "legacy-verification-token",
            }
        )

    def command(self, command: str, text: str = "", *, user: str) -> Response:
        """`user` types `/command text` in their DM with the app."""
        self._mark()
        answer = self.signed(self.command_body(command, text, user=user))
        self._settle()
        return answer

    # -- interactions ------------------------------------------------------------------------

    def interaction_body(self, payload: Json) -> str:
        payload.setdefault("team", {"id": self.team_id})
        payload.setdefault("api_app_id", self.app_id)
        return urllib.parse.urlencode({"payload": json.dumps(payload)})

    def interact(self, payload: Json) -> Response:
        """Any interaction payload, as given (with the team and app filled in)."""
        return self.signed(self.interaction_body(payload))

    def click_payload(
        self, target: Json, action_id: str, *, user: str, value: str | None = None
    ) -> Json:
        """block_actions for pressing `action_id` in `target`: a message (as the fake stored
        it) or a view (a modal or an App Home). A radio button or select gets `value` as its
        selected option; a button sends `value`, or else its own."""
        element = buttons(target)[action_id]
        action: Json = {
            "action_id": action_id,
            "block_id": element.get("block_id") or "b",
            "type": element.get("type", "button"),
            "action_ts": f"{time.time():.6f}",
        }
        if element.get("type") == "radio_buttons" or (value is not None and element.get("options")):
            action["selected_option"] = next(
                (o for o in element.get("options") or () if o.get("value") == value),
                {"value": value, "text": {"type": "plain_text", "text": str(value)}},
            )
        else:
            action["value"] = value if value is not None else element.get("value")
        payload: Json = {
            "type": "block_actions",
            "user": {"id": user},
            "trigger_id": _trigger_id(),
            "response_url": self._response_url(),
            "actions": [action],
        }
        if target.get("type") in ("modal", "home"):
            payload["container"] = {"type": "view", "view_id": target.get("id")}
            payload["view"] = target
        else:
            channel = target.get("channel")
            payload["container"] = {
                "type": "message",
                "channel_id": channel,
                "message_ts": target.get("ts"),
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel}
            payload["message"] = {"ts": target.get("ts"), "text": target.get("text", "")}
        return payload

    def click_body(
        self, target: Json, action_id: str, *, user: str, value: str | None = None
    ) -> str:
        return self.interaction_body(self.click_payload(target, action_id, user=user, value=value))

    def click(
        self, target: Json, action_id: str, *, user: str, value: str | None = None
    ) -> Response:
        """`user` presses `action_id` in a message or view the app sent."""
        self._mark()
        answer = self.signed(self.click_body(target, action_id, user=user, value=value))
        self._settle()
        return answer

    def submit(self, view: Json, values: Json, *, user: str) -> Response:
        """`user` submits a modal the app opened; `values` is Slack's view.state.values
        (block id -> action id -> element state: see text_value and its siblings)."""
        submitted = dict(view)
        submitted["state"] = {"values": values}
        submitted.setdefault("id", f"V{uuid.uuid4().hex[:8].upper()}")
        return self.interact({"type": "view_submission", "user": {"id": user}, "view": submitted})

    # -- events ------------------------------------------------------------------------------

    def event_callback(self, event: Json, *, event_id: str | None = None) -> Json:
        """The Events API wrapper around `event` (Socket Mode sends it inside an envelope)."""
        now = self.clock().timestamp() if self.clock is not None else time.time()
        return {
            "type": "event_callback",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(now),
            "authorizations": [{"user_id": self.bot_user_id, "is_bot": True}],
        }

    def event(
        self, event: Json, *, event_id: str | None = None, retry: int | None = None
    ) -> Response:
        """Slack delivers `event`; `retry` sends it again as Slack's retry number `retry`."""
        headers = {}
        if retry is not None:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(self.event_callback(event, event_id=event_id))
        return self.signed(body, headers=headers)

    def function_step(self, function: str, inputs: Json) -> Json:
        """A workflow reaches one of the app's Workflow Builder steps: Slack sends
        function_executed; returns how the run ended (completed with its outputs, or failed
        with an error)."""
        assert self.fake is not None, "a step needs the fake Slack that runs the workflow"
        event = self.fake.execute_function(function, inputs)
        self.event(event)
        return self.fake.wait_for_function(event["function_execution_id"])

    # -- the LMS -----------------------------------------------------------------------------

    def webhook(self, body: Any, *, token: str | _Token | None = _Token.OWN) -> Response:
        """An LMS posts `body` (JSON, or a str or bytes as is) to the enrollment webhook,
        with the driver's webhook token unless `token` says another one (None: none)."""
        bearer = self.webhook_token if token is _Token.OWN else token
        headers = {"Content-Type": "application/json"}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.post(WEBHOOK_PATH, data, headers)

    # -- what the app did in Slack -----------------------------------------------------------

    def opened_view(self, *, index: int = -1, timeout: float = 15.0) -> Json:
        """The view the app opened (views.open) after the last command or click, as sent;
        waits for it, since listeners open modals after their ack."""
        fake = self._fake()
        call = fake.wait_for_calls("views.open", self.views_seen + 1, timeout)[index]
        view = call.params["view"]
        return view if isinstance(view, dict) else dict(json.loads(view))

    def _mark(self) -> None:
        if self.fake is not None:
            self.views_seen = self.fake.count("views.open")
            self.ephemerals_seen = self.fake.count("chat.postEphemeral")

    def _settle(self) -> None:
        if self.settle > 0 and self.fake is not None:
            with contextlib.suppress(TimeoutError):
                self.fake.wait_for_calls("views.open", self.views_seen + 1, self.settle)

    def _fake(self) -> FakeSlack:
        if self.fake is None:
            raise RuntimeError("this driver reads no workspace: give it the FakeSlack")
        return self.fake

    def _response_url(self) -> str:
        return f"{self.slack_url}/response/{uuid.uuid4().hex[:8]}"

    def _dm_channel(self, user: str) -> str:
        if self.fake is not None:
            return self.fake.dm_channel(user)
        return "D" + user[1:]  # the fake's rule, for a fake in another process


def _trigger_id() -> str:
    return f"trigger-{uuid.uuid4().hex[:8]}"


def buttons(message: Json) -> dict[str, Json]:
    """The buttons, radio buttons and selects of a message or view, by action id, each with
    the id of its block."""
    found: dict[str, Json] = {}
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


# Input values as Slack sends them in view.state.values, by block id: the app's inputs all
# use one action id.
def text_value(value: str) -> Json:
    return {INPUT_ACTION: {"type": "plain_text_input", "value": value}}


def date_value(value: date | str | None) -> Json:
    day = value.isoformat() if isinstance(value, date) else value
    return {INPUT_ACTION: {"type": "datepicker", "selected_date": day}}


def users_value(users: list[str]) -> Json:
    return {INPUT_ACTION: {"type": "multi_users_select", "selected_users": users}}


def user_value(user: str | None) -> Json:
    return {INPUT_ACTION: {"type": "users_select", "selected_user": user}}


def _option(value: str) -> Json:
    return {"value": value, "text": {"type": "plain_text", "text": value}}


def radio_value(value: str | None) -> Json:
    option = _option(value) if value else None
    return {INPUT_ACTION: {"type": "radio_buttons", "selected_option": option}}


def select_value(value: str | None) -> Json:
    option = _option(value) if value else None
    return {INPUT_ACTION: {"type": "static_select", "selected_option": option}}


def checkbox_value(values: list[str]) -> Json:
    return {INPUT_ACTION: {"type": "checkboxes", "selected_options": [_option(v) for v in values]}}
