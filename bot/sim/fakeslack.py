"""A fake Slack Web API server on a local port, for the tests, the benchmarks and `coachbot demo`.

It answers over real HTTP, so an unmodified slack_sdk WebClient (and Bolt) can talk to it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.message
import email.policy
import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = ["Call", "FakeSlack", "PostLimits"]

Json = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_LENGTH = 40_000

# slack_sdk form-encodes most methods, so structured arguments arrive as JSON strings.
_JSON_FIELDS = ("blocks", "view", "metadata", "attachments", "files")
_TOKEN_PREFIXES = ("xoxb-", "xoxp-", "xapp-", "xwfp-")  # xwfp-: one workflow step's run
# What files.completeUploadExternal accepts: a user id is refused there, unlike chat.postMessage.
_CONVERSATION_ID = re.compile(r"^[CGDZ][A-Z0-9]+$")
_DEFAULT_FAULT_ERRORS = {500: "fatal_error", 503: "service_unavailable"}
# The workspace's ids; named here so a driver talking to a fake in another process knows them.
TEAM_ID = "T0FAKE0001"
APP_ID = "A0FAKE0001"
BOT_USER_ID = "U0COACHBOT"


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: Json
    token: str | None
    at: float


@dataclass(slots=True)
class _Fault:
    status: int
    retry_after: int
    error: str | None
    remaining: int | None  # None: until clear_faults()

    def response(self) -> tuple[int, dict[str, str], Json]:
        if self.status == 429 and self.error is None:
            return (
                429,
                {"Retry-After": str(self.retry_after)},
                {"ok": False, "error": "ratelimited"},
            )
        if self.status == 429:
            return 200, {}, {"ok": False, "error": self.error}
        error = self.error or _DEFAULT_FAULT_ERRORS.get(self.status, "internal_error")
        return self.status, {}, {"ok": False, "error": error}


@dataclass(frozen=True, slots=True)
class PostLimits:
    """Slack's limits on chat.postMessage, enforced as Slack does: about one message a second
    per channel (with a short burst), and a workspace ceiling ("several hundred messages a
    minute", with generous bursts). A post over either is not posted and gets a 429 with
    Retry-After in whole seconds."""

    per_minute: float = 600.0
    burst: float = 100.0
    per_channel_per_second: float = 1.0
    per_channel_burst: float = 2.0


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.payload: Json = {"ok": False, "error": error, **extra}


@dataclass(slots=True)
class _Upload:
    id: str
    name: str
    length: int
    alt_txt: str | None
    snippet_type: str | None
    data: bytes | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    fake: FakeSlack

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out on a hung call has gone away; that is the point, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; Nagle would hold the second one for an ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        status, headers, payload = self.server.fake._handle(url.path, url.query, self.headers, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST


class FakeSlack:
    """A Slack workspace and its Web API, served on 127.0.0.1 on an ephemeral port.

    `users.list` also lists Slackbot and the app's own bot user, as Slack does.
    Dicts returned by the helpers are the live stored objects.
    """

    def __init__(self, latency: float = 0.0, post_limits: PostLimits | None = None) -> None:
        self.latency = latency
        # None: Slack never says no on its own (faults are injected by the tests instead).
        self.post_limits = post_limits
        self.rate_limited = 0  # posts refused by post_limits
        self._post_buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self.team_id = TEAM_ID
        self.app_id = APP_ID
        self.bot_id = "B0COACHBOT"
        self.bot_user_id = BOT_USER_ID
        self.revoked_tokens: set[str] = set()
        # Socket Mode: the ws:// URL apps.connections.open hands out (a test's local server);
        # None keeps the workspace HTTP-only, and the method answers not_allowed.
        self.socket_url: str | None = None

        self.calls: list[Call] = []
        self.users: dict[str, Json] = {}
        self.usergroups: dict[str, Json] = {}
        self.messages: list[Json] = []
        self.ephemerals: list[Json] = []
        self.views: dict[str, Json] = {}
        self.home_views: dict[str, Json] = {}
        self.files: list[Json] = []
        self.responses: list[Json] = []
        self.function_executions: dict[str, Json] = {}  # Workflow Builder step runs, by id

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        self._calls_by_method: dict[str, list[Call]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._always: dict[str, _Fault] = {}
        self._hangs: dict[str, list[float]] = {}
        self._user_order: list[str] = []
        self._by_email: dict[str, str] = {}
        self._by_key: dict[tuple[str, str], Json] = {}
        self._by_channel: dict[str, list[Json]] = {}
        self._replies: dict[tuple[str, str], list[Json]] = {}
        self._dm_owner: dict[str, str] = {}
        self._uploads: dict[str, _Upload] = {}
        self._last_ts_us = 0
        self._serial = 0
        # Why Slack would refuse each block seen so far ("" if it would not), by its JSON:
        # slack_sdk's block parsing dominates a call's cost, and apps send the same blocks
        # over and over. Read and written under _lock, like the rest of the workspace.
        self._block_verdicts: dict[str, str] = {}

        self._methods: dict[str, Callable[[Json, str], Json]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "reactions.add": self._reactions_add,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.profile.get": self._users_profile_get,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "functions.completeSuccess": self._functions_complete_success,
            "functions.completeError": self._functions_complete_error,
        }
        self.add_user("USLACKBOT", name="slackbot", real_name="Slackbot")
        self.add_user(self.bot_user_id, name="coachbot", real_name="Coachbot", is_bot=True)
        self.users[self.bot_user_id]["profile"]["bot_id"] = self.bot_id

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        # stop() waits up to one poll interval, and every test fixture stops a server.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fakeslack-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # releases hung and slow calls
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # -- recorded calls ----------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return list(self._calls_by_method.get(method, ()))

    def count(self, method: str) -> int:
        with self._lock:
            return len(self._calls_by_method.get(method, ()))

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self._calls_by_method.clear()

    def wait_for_calls(self, method: str, n: int = 1, timeout: float = 15.0) -> list[Call]:
        """Block until `method` has been called `n` times; for work done in background threads."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.count(method) >= n, timeout):
                raise TimeoutError(f"{method} called {self.count(method)} times, wanted {n}")
            return self.calls_to(method)

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        error: str | None = None,
        count: int = 1,
    ) -> None:
        """Fail the next `count` calls to `method` ("*": any method).

        429 without `error` is a rate limit with Retry-After; 429 with `error` is an HTTP 200
        `{"ok": false, "error": error}`; any other status is sent as is, with a JSON body.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(status, retry_after, error, count))

    def fail_always(
        self, method: str, *, status: int = 429, retry_after: int = 1, error: str | None = None
    ) -> None:
        with self._lock:
            self._always[method] = _Fault(status, retry_after, error, None)

    def hang_next(self, method: str, seconds: float) -> None:
        """Hold the next answer to `method` for `seconds` (or until stop()): a client timeout."""
        with self._lock:
            self._hangs.setdefault(method, []).append(seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._always.clear()
            self._hangs.clear()

    def _take_fault(self, method: str) -> _Fault | None:
        for key in (method, "*"):
            queue = self._faults.get(key)
            if queue:
                fault = queue[0]
                assert fault.remaining is not None
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.pop(0)
                return fault
        return self._always.get(method) or self._always.get("*")

    def _take_hang(self, method: str) -> float:
        for key in (method, "*"):
            queue = self._hangs.get(key)
            if queue:
                return queue.pop(0)
        return 0.0

    # -- workspace state ---------------------------------------------------------------------

    def add_user(
        self,
        id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        real_name: str | None = None,
        tz: str = "Europe/London",
        tz_offset: int = 0,
        deleted: bool = False,
        is_bot: bool = False,
        status_text: str = "",
        status_emoji: str = "",
        status_expiration: int = 0,
        fields: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> Json:
        handle = name or id.lower()
        full_name = real_name if real_name is not None else handle
        profile: Json = {
            "real_name": full_name,
            "real_name_normalized": full_name,
            "display_name": handle,
            "display_name_normalized": handle,
            "status_text": status_text,
            "status_emoji": status_emoji,
            "status_expiration": status_expiration,
            "fields": dict(fields or {}),
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        user: Json = {
            "id": id,
            "team_id": self.team_id,
            "name": handle,
            "deleted": deleted,
            "real_name": full_name,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": tz_offset,
            # Answered only to users.info / users.list asked with include_locale, as Slack does.
            "locale": locale,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "updated": int(time.time()),
        }
        with self._lock:
            old = self.users.get(id)
            if old is None:
                self._user_order.append(id)
            elif "email" in old["profile"]:
                self._by_email.pop(old["profile"]["email"].lower(), None)
            self.users[id] = user
            if email is not None:
                self._by_email[email.lower()] = id
        return user

    def set_locale(self, user_id: str, locale: str) -> Json:
        """The person changes Slack's language; returns the user, as user_change carries it."""
        with self._lock:
            user = self.users[user_id]
            user["locale"] = locale
            user["updated"] = int(time.time())
            return user

    def set_status(self, user_id: str, text: str, emoji: str, expiration: int = 0) -> None:
        with self._lock:
            user = self.users[user_id]
            user["profile"].update(
                status_text=text, status_emoji=emoji, status_expiration=expiration
            )
            user["updated"] = int(time.time())

    def add_usergroup(self, id: str, handle: str, users: list[str]) -> Json:
        group: Json = {
            "id": id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": handle,
            "handle": handle,
            "date_delete": 0,
            "users": list(users),
            "user_count": len(users),
        }
        with self._lock:
            self.usergroups[id] = group
        return group

    def dm_channel(self, user_id: str) -> str:
        """The DM channel id the fake gives a user: "D" + the user id without its first letter."""
        return "D" + user_id[1:]

    def dms_to(self, user_id: str) -> list[Json]:
        with self._lock:
            return list(self._by_channel.get(self.dm_channel(user_id), ()))

    def messages_in(self, channel: str) -> list[Json]:
        with self._lock:
            return list(self._by_channel.get(channel, ()))

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[Json] | None = None,
        metadata: Json | None = None,
    ) -> Json:
        """Seed a message, e.g. one a person wrote, for conversations.history and replies."""
        with self._lock:
            message = self._store_message(
                channel, text=text, blocks=blocks, metadata=metadata, thread_ts=thread_ts, ts=ts
            )
            if user is not None:
                message["user"] = user
                message.pop("bot_id", None)
            return message

    # -- HTTP entry point --------------------------------------------------------------------

    def _handle(
        self, path: str, query: str, headers: email.message.Message, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/upload/"):
            return self._receive_upload(path[len("/upload/") :], headers, body)
        if path.startswith("/response/"):
            return self._receive_response(path[len("/response/") :], body)
        if not path.startswith("/api/"):
            return _reply(404, {}, {"ok": False, "error": "unknown_method"})
        method = path[len("/api/") :]
        try:
            params = _parse_params(query, headers.get("Content-Type") or "", body)
        except ValueError:
            return _reply(200, {}, {"ok": False, "error": "invalid_json"})
        token = _bearer(headers.get("Authorization")) or params.get("token")
        params.pop("token", None)

        call = Call(method, params, token, time.time())
        with self._changed:
            self.calls.append(call)
            self._calls_by_method.setdefault(method, []).append(call)
            fault = self._take_fault(method)
            pause = self._take_hang(method) + self.latency
            self._changed.notify_all()
        if pause > 0:
            self._stopping.wait(pause)
        if fault is not None:
            return _reply(*fault.response())
        if method == "chat.postMessage" and self.post_limits is not None:
            wait = self._take_post_token(str(params.get("channel") or ""))
            if wait > 0:
                retry = {"Retry-After": str(max(1, math.ceil(wait)))}
                return _reply(429, retry, {"ok": False, "error": "ratelimited"})

        if not token:
            return _reply(200, {}, {"ok": False, "error": "not_authed"})
        if not token.startswith(_TOKEN_PREFIXES) or token in self.revoked_tokens:
            return _reply(200, {}, {"ok": False, "error": "invalid_auth"})
        if token.startswith("xapp-") and method != "apps.connections.open":
            return _reply(200, {}, {"ok": False, "error": "not_allowed_token_type"})
        if token.startswith("xwfp-") and not self._function_token_open(token):
            return _reply(200, {}, {"ok": False, "error": "token_expired"})
        handler = self._methods.get(method)
        if handler is None:
            return _reply(200, {}, {"ok": False, "error": "unknown_method"})
        # One lock around the handler and the serialisation: the GIL serialises this work anyway,
        # and it keeps json.dumps from reading a dict another request is changing.
        with self._lock:
            try:
                payload = {"ok": True, **handler(params, token)}
            except _ApiError as e:
                payload = e.payload
            except Exception as e:  # a bug in the fake must reach the test, not hang the client
                return _reply(500, {}, {"ok": False, "error": "fatal_error", "detail": repr(e)})
            return _reply(200, {}, payload)

    def _take_post_token(self, channel: str) -> float:
        """One token from the workspace's bucket and the channel's, or, when either is empty,
        none and the seconds until both would have one."""
        limits = self.post_limits
        assert limits is not None
        buckets = (
            ("", limits.per_minute / 60, limits.burst),
            (channel, limits.per_channel_per_second, limits.per_channel_burst),
        )
        with self._lock:
            now = time.monotonic()
            levels = []
            wait = 0.0
            for key, rate, burst in buckets:
                tokens, at = self._post_buckets.get(key, (burst, now))
                tokens = min(burst, tokens + (now - at) * rate)
                levels.append((key, tokens))
                if tokens < 1:
                    wait = max(wait, (1 - tokens) / rate)
            for key, tokens in levels:
                self._post_buckets[key] = (tokens - (0 if wait else 1), now)
            if wait:
                self.rate_limited += 1
            return wait

    def _receive_response(self, key: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """A `response_url` post: what the app answered a slash command or a click."""
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return 400, {"Content-Type": "text/plain"}, b"invalid_payload"
        with self._changed:
            self.responses.append({"key": key, **payload})
            self._changed.notify_all()
        return 200, {"Content-Type": "text/plain"}, b"ok"

    def wait_for_responses(self, n: int = 1, timeout: float = 15.0) -> list[Json]:
        """Block until `n` response_url posts arrived (listeners answer after their ack)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.responses) >= n, timeout):
                raise TimeoutError(f"{len(self.responses)} responses, wanted {n}")
            return list(self.responses)

    # -- auth, apps --------------------------------------------------------------------------

    def _auth_test(self, p: Json, token: str) -> Json:
        answer: Json = {
            "url": "https://coachbot-fake.slack.com/",
            "team": "Coachbot Fake",
            "user": "coachbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "is_enterprise_install": False,
        }
        if token.startswith("xoxb-"):
            answer["bot_id"] = self.bot_id
        return answer

    def _apps_connections_open(self, p: Json, token: str) -> Json:
        if not token.startswith("xapp-"):
            raise _ApiError("not_allowed_token_type")
        if self.socket_url is None:
            raise _ApiError("not_allowed")  # no Socket Mode here: the app runs over HTTP
        return {"url": self.socket_url}

    # -- chat --------------------------------------------------------------------------------

    def _chat_post_message(self, p: Json, token: str) -> Json:
        channel = self._resolve_channel(p.get("channel"))
        _check_message(p, self._block_verdicts)
        metadata = _check_metadata(p.get("metadata"))
        message = self._store_message(
            channel,
            text=p.get("text") or "",
            blocks=p.get("blocks"),
            metadata=metadata,
            thread_ts=p.get("thread_ts") or None,
            attachments=p.get("attachments"),
            broadcast=_flag(p.get("reply_broadcast")),
        )
        return {"channel": channel, "ts": message["ts"], "message": _public(message, True)}

    def _chat_update(self, p: Json, token: str) -> Json:
        channel, ts = p.get("channel") or "", p.get("ts") or ""
        if not channel:
            raise _ApiError("channel_not_found")
        message = self._by_key.get((channel, ts))
        if message is None:
            raise _ApiError("message_not_found")
        _check_message(p, self._block_verdicts)
        metadata = _check_metadata(p.get("metadata"))
        if "text" in p:
            message["text"] = p.get("text") or ""
        if "blocks" in p:
            message["blocks"] = p.get("blocks") or None
        if "attachments" in p:
            message["attachments"] = p.get("attachments") or None
        if metadata is not None:
            message["metadata"] = metadata
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": _public(message, True),
        }

    def _chat_post_ephemeral(self, p: Json, token: str) -> Json:
        channel = self._resolve_channel(p.get("channel"))
        user = p.get("user")
        if not user:
            raise _ApiError("user_not_found")
        _check_message(p, self._block_verdicts)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "ts": ts,
                "text": p.get("text") or "",
                "blocks": p.get("blocks"),
                "thread_ts": p.get("thread_ts") or None,
            }
        )
        return {"message_ts": ts}

    def _chat_get_permalink(self, p: Json, token: str) -> Json:
        channel, ts = p.get("channel") or "", p.get("message_ts") or ""
        if not channel:
            raise _ApiError("channel_not_found")
        if not ts:
            raise _ApiError("message_not_found")
        link = f"https://coachbot-fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        message = self._by_key.get((channel, ts))
        if message is not None and message.get("thread_ts") not in (None, ts):
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    # -- conversations -----------------------------------------------------------------------

    def _conversations_open(self, p: Json, token: str) -> Json:
        if p.get("channel"):
            return {"channel": {"id": p["channel"]}, "no_op": True, "already_open": True}
        users = p.get("users") or ""
        ids = users if isinstance(users, list) else [u for u in users.split(",") if u]
        if not ids:
            raise _ApiError("users_list_not_supplied")
        for user_id in ids:
            user = self.users.get(user_id)
            if user is None:
                raise _ApiError("user_not_found")
            if user["deleted"]:
                raise _ApiError("user_disabled")
        if len(ids) == 1:
            channel_id = self.dm_channel(ids[0])
            known = channel_id in self._dm_owner
            self._dm_owner[channel_id] = ids[0]
            channel: Json = {"id": channel_id}
            if _flag(p.get("return_im")):
                channel.update(is_im=True, user=ids[0], created=int(time.time()))
            return {"channel": channel, "no_op": known, "already_open": known}
        mpim = "G" + base64.b32encode(",".join(sorted(ids)).encode()).decode()[:10]
        return {"channel": {"id": mpim, "is_mpim": True}}

    def _conversations_history(self, p: Json, token: str) -> Json:
        channel = p.get("channel") or ""
        if not channel or channel[0] in "UW":
            raise _ApiError("channel_not_found")
        oldest, latest = _float(p.get("oldest"), 0.0), _float(p.get("latest"), time.time() + 1)
        inclusive = _flag(p.get("inclusive"))
        found = [
            m
            for m in self._by_channel.get(channel, ())
            if (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
            and _within(float(m["ts"]), oldest, latest, inclusive)
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        page, cursor = _paginate(found, p, default=100, maximum=999)
        metadata = _flag(p.get("include_all_metadata"))
        return {
            "messages": [_public(m, metadata) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_replies(self, p: Json, token: str) -> Json:
        channel, ts = p.get("channel") or "", p.get("ts") or ""
        parent = self._by_key.get((channel, ts))
        if parent is None:
            raise _ApiError("thread_not_found")
        oldest, latest = _float(p.get("oldest"), 0.0), _float(p.get("latest"), time.time() + 1)
        inclusive = _flag(p.get("inclusive"))
        thread = [parent, *self._replies.get((channel, ts), ())]
        found = [m for m in thread if _within(float(m["ts"]), oldest, latest, inclusive)]
        found.sort(key=lambda m: float(m["ts"]))
        page, cursor = _paginate(found, p, default=1000, maximum=1000)
        metadata = _flag(p.get("include_all_metadata"))
        return {
            "messages": [_public(m, metadata) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    # -- reactions ---------------------------------------------------------------------------

    def _reactions_add(self, p: Json, token: str) -> Json:
        name = (p.get("name") or "").strip(":")
        if not name:
            raise _ApiError("invalid_name")
        message = self._by_key.get((p.get("channel") or "", p.get("timestamp") or ""))
        if message is None:
            raise _ApiError("message_not_found")
        reactions: list[Json] = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if self.bot_user_id in reaction["users"]:
                    raise _ApiError("already_reacted")
                reaction["users"].append(self.bot_user_id)
                reaction["count"] += 1
                return {}
        reactions.append({"name": name, "users": [self.bot_user_id], "count": 1})
        return {}

    # -- views -------------------------------------------------------------------------------

    def _views_open(self, p: Json, token: str) -> Json:
        return {"view": self._open_view(p)}

    def _views_push(self, p: Json, token: str) -> Json:
        return {"view": self._open_view(p)}

    def _open_view(self, p: Json) -> Json:
        if not p.get("trigger_id"):
            raise _invalid_arguments(["missing required field: trigger_id"])
        view = _check_view(p.get("view"), ("modal",), self._block_verdicts)
        stored = self._new_view(view)
        self.views[stored["id"]] = stored
        return stored

    def _views_update(self, p: Json, token: str) -> Json:
        view_id, external_id = p.get("view_id"), p.get("external_id")
        if not view_id and not external_id:
            raise _invalid_arguments(["missing required field: view_id or external_id"])
        current = self.views.get(view_id) if view_id else None
        if current is None and external_id:
            current = next(
                (v for v in self.views.values() if v.get("external_id") == external_id), None
            )
        if current is None:
            raise _ApiError("not_found")
        if p.get("hash") and p["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view = _check_view(p.get("view"), ("modal",), self._block_verdicts)
        stored = self._new_view(view, like=current)
        self.views[stored["id"]] = stored
        return {"view": stored}

    def _views_publish(self, p: Json, token: str) -> Json:
        user_id = p.get("user_id") or ""
        if not user_id:
            raise _invalid_arguments(["missing required field: user_id"])
        user = self.users.get(user_id)
        if user is not None and user["deleted"]:
            raise _ApiError("user_not_found")
        current = self.home_views.get(user_id)
        if current is not None and p.get("hash") and p["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view = _check_view(p.get("view"), ("home",), self._block_verdicts)
        stored = self._new_view(view, like=current)
        self.home_views[user_id] = stored
        self.views[stored["id"]] = stored
        return {"view": stored}

    def _new_view(self, view: Json, like: Json | None = None) -> Json:
        view_id = like["id"] if like is not None else self._new_id("V")
        stored: Json = {
            "id": view_id,
            "team_id": self.team_id,
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            **view,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{self._new_id('h')}",
            "root_view_id": like["root_view_id"] if like is not None else view_id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }
        return stored

    # -- users -------------------------------------------------------------------------------

    def _users_info(self, p: Json, token: str) -> Json:
        user = self.users.get(p.get("user") or "")
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": _with_locale(user, p)}

    def _users_list(self, p: Json, token: str) -> Json:
        ids, cursor = _paginate(self._user_order, p, default=200, maximum=1000)
        return {
            "members": [_with_locale(self.users[i], p) for i in ids],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": cursor},
        }

    def _users_lookup_by_email(self, p: Json, token: str) -> Json:
        user = self.users.get(self._by_email.get((p.get("email") or "").lower(), ""))
        # Slack does not find deactivated accounts by email.
        if user is None or user["deleted"]:
            raise _ApiError("users_not_found")
        return {"user": _with_locale(user, {})}  # no include_locale on this method

    def _users_profile_get(self, p: Json, token: str) -> Json:
        user = self.users.get(p.get("user") or self.bot_user_id)
        if user is None:
            raise _ApiError("user_not_found")
        return {"profile": user["profile"]}

    def _usergroups_list(self, p: Json, token: str) -> Json:
        with_users = _flag(p.get("include_users"))
        groups = [
            g if with_users else {k: v for k, v in g.items() if k != "users"}
            for g in self.usergroups.values()
        ]
        return {"usergroups": groups}

    def _usergroups_users_list(self, p: Json, token: str) -> Json:
        group = self.usergroups.get(p.get("usergroup") or "")
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"users": list(group["users"])}

    # -- files -------------------------------------------------------------------------------

    def _files_get_upload_url_external(self, p: Json, token: str) -> Json:
        name = p.get("filename")
        try:
            length = int(p.get("length") or "")
        except ValueError:
            raise _invalid_arguments(["missing required field: length"]) from None
        if not name:
            raise _invalid_arguments(["missing required field: filename"])
        file_id = self._new_id("F")
        self._uploads[file_id] = _Upload(
            file_id, name, length, p.get("alt_txt"), p.get("snippet_type")
        )
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _receive_upload(
        self, file_id: str, headers: email.message.Message, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        content_type = headers.get("Content-Type") or ""
        data = body
        if content_type.lower().startswith("multipart/form-data"):
            parts = list(_parse_multipart(body, content_type).values())
            found = [v for v in parts if isinstance(v, bytes)] or parts
            data = found[0] if found and isinstance(found[0], bytes) else b""
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None:
                return 404, {"Content-Type": "text/plain"}, b"Not Found"
            upload.data = data
        return 200, {"Content-Type": "text/plain"}, f"OK - {len(data)}".encode()

    def _files_complete_upload_external(self, p: Json, token: str) -> Json:
        entries = p.get("files")
        if not isinstance(entries, list) or not entries:
            raise _invalid_arguments(["files must be a non-empty array"])
        channels = [c for c in (p.get("channels") or "").split(",") if c]
        if p.get("channel_id"):
            channels.insert(0, p["channel_id"])
        for channel in channels:
            if not _CONVERSATION_ID.match(channel):
                raise _invalid_arguments(
                    [f"input must match regex pattern: ^[CGDZ][A-Z0-9]{{8,}}$ ({channel})"]
                )
        uploads: list[tuple[_Upload, Json]] = []
        for entry in entries:
            upload = self._uploads.get(entry.get("id") or "") if isinstance(entry, dict) else None
            if upload is None or upload.data is None:
                raise _ApiError("file_not_found")
            uploads.append((upload, entry))
        stored: list[Json] = []
        for upload, entry in uploads:
            del self._uploads[upload.id]
            record: Json = {
                "id": upload.id,
                "created": int(time.time()),
                "name": upload.name,
                "title": entry.get("title") or upload.name,
                "mimetype": "application/octet-stream",
                "size": len(upload.data or b""),
                "user": self.bot_user_id,
                "channels": channels,
                "channel": channels[0] if channels else None,
                "initial_comment": p.get("initial_comment"),
                "alt_txt": upload.alt_txt,
                "url_private": f"{self.url}/files/{upload.id}/{upload.name}",
                "permalink": f"https://coachbot-fake.slack.com/files/{upload.id}",
                "bytes": upload.data,
            }
            self.files.append(record)
            stored.append(record)
        public = [{k: v for k, v in f.items() if k != "bytes"} for f in stored]
        for channel in channels:
            message = self._store_message(
                channel,
                text=p.get("initial_comment") or "",
                thread_ts=p.get("thread_ts") or None,
            )
            message["files"] = public
        return {"files": public}

    # -- internals ---------------------------------------------------------------------------

    def _resolve_channel(self, channel: Any) -> str:
        """chat.postMessage takes a user id for a DM; answer with that DM's channel id."""
        if not channel or not isinstance(channel, str):
            raise _ApiError("channel_not_found")
        if channel[0] in "UW":
            user = self.users.get(channel)
            if user is None:
                raise _ApiError("channel_not_found")
            if user["deleted"]:
                raise _ApiError("account_inactive")
            dm = self.dm_channel(channel)
            self._dm_owner[dm] = channel
            return dm
        owner = self._dm_owner.get(channel)
        if owner is not None and self.users[owner]["deleted"]:
            raise _ApiError("account_inactive")
        return channel

    def _store_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: Any = None,
        metadata: Json | None = None,
        thread_ts: str | None = None,
        attachments: Any = None,
        broadcast: bool = False,
        ts: str | None = None,
    ) -> Json:
        ts = ts or self._next_ts()
        message: Json = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "text": text,
            "blocks": blocks or None,
            "metadata": metadata,
            "thread_ts": thread_ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "reactions": [],
        }
        if attachments:
            message["attachments"] = attachments
        if thread_ts is not None and thread_ts != ts:
            if broadcast:
                message["subtype"] = "thread_broadcast"
            self._replies.setdefault((channel, thread_ts), []).append(message)
            parent = self._by_key.get((channel, thread_ts))
            if parent is not None:
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = ts
                reply_users = parent.setdefault("reply_users", [])
                if message["user"] not in reply_users:
                    reply_users.append(message["user"])
        self.messages.append(message)
        self._by_channel.setdefault(channel, []).append(message)
        self._by_key[(channel, ts)] = message
        return message

    # -- functions: runs of the app's Workflow Builder steps ---------------------------------

    def execute_function(
        self, callback_id: str, inputs: Json, *, workflow: str = "Wf0FAKE0001"
    ) -> Json:
        """Start a run of the app's step `callback_id` with `inputs`, as a workflow reaching
        it does: returns the `function_executed` event to deliver (in an event_callback).
        Its `bot_access_token` works until the run is completed or failed."""
        with self._changed:
            execution_id = self._new_id("Fx")
            token = f"xwfp-{self.team_id}-{execution_id}"
            self.function_executions[execution_id] = {
                "callback_id": callback_id,
                "inputs": inputs,
                "token": token,
                "state": "running",
                "outputs": None,
                "error": None,
            }
            function_id = self._new_id("Fn")
            workflow_execution_id = self._new_id("Wx")
        return {
            "type": "function_executed",
            "function": {
                "id": function_id,
                "callback_id": callback_id,
                "title": callback_id,
                "type": "app",
                "app_id": self.app_id,
            },
            "inputs": inputs,
            "function_execution_id": execution_id,
            "workflow_execution_id": workflow_execution_id,
            "workflow_id": workflow,
            "event_ts": self._next_ts(),
            "bot_access_token": token,
        }

    def wait_for_function(self, execution_id: str, timeout: float = 15.0) -> Json:
        """Block until the run `execution_id` is completed or failed; returns its record."""
        with self._changed:
            run = self.function_executions[execution_id]
            if not self._changed.wait_for(lambda: run["state"] != "running", timeout):
                raise TimeoutError(f"step run {execution_id} still running")
            return dict(run)

    def _function_token_open(self, token: str) -> bool:
        with self._lock:
            return any(
                r["token"] == token and r["state"] == "running"
                for r in self.function_executions.values()
            )

    def _function_run(self, p: Json, token: str) -> Json:
        run = self.function_executions.get(str(p.get("function_execution_id") or ""))
        if run is None:
            raise _ApiError("function_execution_not_found")
        if token.startswith("xwfp-") and token != run["token"]:
            raise _ApiError("invalid_auth")
        if run["state"] != "running":
            raise _ApiError("execution_not_in_running_state")
        return run

    def _functions_complete_success(self, p: Json, token: str) -> Json:
        run = self._function_run(p, token)
        outputs = p.get("outputs")
        if isinstance(outputs, str):
            try:
                outputs = json.loads(outputs)
            except ValueError:
                outputs = None
        if not isinstance(outputs, dict):
            raise _ApiError("parameter_validation_failed", errors=["outputs must be an object"])
        run.update(state="completed", outputs=outputs)
        self._changed.notify_all()
        return {}

    def _functions_complete_error(self, p: Json, token: str) -> Json:
        run = self._function_run(p, token)
        error = p.get("error")
        if not isinstance(error, str) or not error.strip():
            raise _invalid_arguments(["missing required field: error [json-pointer:/error]"])
        run.update(state="failed", error=error)
        self._changed.notify_all()
        return {}

    def _next_ts(self) -> str:
        # Real time, so an app's "oldest = a week ago" still finds these; strictly increasing.
        with self._lock:
            us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
            self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            self._serial += 1
            return f"{prefix}{self._serial:09d}"


# -- request parsing -------------------------------------------------------------------------


def _reply(
    status: int, headers: dict[str, str], payload: Json
) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return status, {"Content-Type": "application/json; charset=utf-8", **headers}, body


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def _parse_params(query: str, content_type: str, body: bytes) -> Json:
    params: Json = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if body:
        if kind == "application/json":
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("a JSON body must be an object")
            params.update(data)
        elif kind == "multipart/form-data":
            params.update(_parse_multipart(body, content_type))
        else:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    for key in _JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
            # Left as a string if it does not parse: validation then reports the bad format.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params


def _parse_multipart(body: bytes, content_type: str) -> Json:
    """Form fields as str, file parts as bytes."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: Json = {}
    if not message.is_multipart():
        return fields
    for part in message.get_payload():
        if not isinstance(part, email.message.Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        payload = data if isinstance(data, bytes) else b""
        is_file = part.get_filename() is not None
        fields[name] = payload if is_file else payload.decode("utf-8", "replace")
    return fields


def _with_locale(user: Json, p: Json) -> Json:
    """The user as a method answers: `locale` only when asked for with include_locale."""
    if _flag(p.get("include_locale")):
        return user
    return {k: v for k, v in user.items() if k != "locale"}


def _flag(value: Any) -> bool:
    return value is True or value == 1 or (isinstance(value, str) and value in ("1", "true"))


def _float(value: Any, default: float) -> float:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _invalid_arguments([f"not a timestamp: {value!r}"]) from None


def _within(ts: float, oldest: float, latest: float, inclusive: bool) -> bool:
    if inclusive:
        return oldest <= ts <= latest
    return oldest < ts < latest


def _paginate(items: list[Any], p: Json, *, default: int, maximum: int) -> tuple[list[Any], str]:
    try:
        limit = int(p.get("limit") or default)
    except (TypeError, ValueError):
        raise _ApiError("invalid_limit") from None
    limit = default if limit <= 0 else min(limit, maximum)
    offset = 0
    cursor = p.get("cursor")
    if cursor:
        try:
            kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
            offset = int(number)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _ApiError("invalid_cursor") from None
        if kind != "next" or offset < 0:
            raise _ApiError("invalid_cursor")
    end = offset + limit
    more = end < len(items)
    next_cursor = base64.b64encode(f"next:{end}".encode()).decode() if more else ""
    return items[offset:end], next_cursor


def _public(message: Json, with_metadata: bool) -> Json:
    """A stored message as Slack shows it: no channel, no empty or absent fields."""
    shown = {k: v for k, v in message.items() if v is not None and k != "channel"}
    if not shown.get("reactions"):
        shown.pop("reactions", None)
    if not with_metadata:
        shown.pop("metadata", None)
    return shown


# -- Block Kit validation --------------------------------------------------------------------


def _invalid_arguments(errors: list[str]) -> _ApiError:
    messages = [f"[ERROR] {e}" for e in errors]
    return _ApiError("invalid_arguments", errors=errors, response_metadata={"messages": messages})


# Past this many remembered verdicts a workspace starts afresh.
_MAX_VERDICTS = 4096


def _block_errors(
    blocks: Any, limit: int, pointer: str, verdicts: dict[str, str] | None = None
) -> list[str]:
    """What Slack would say about `blocks`; `verdicts` remembers each block's verdict (the
    caller's workspace keeps it: no state at module level), None checks every block afresh."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    if verdicts is None:
        verdicts = {}
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"no more than {limit} items allowed [json-pointer:{pointer}]")
    for i, raw in enumerate(blocks):
        key = json.dumps(raw)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = _block_verdict(raw)
            if len(verdicts) >= _MAX_VERDICTS:
                verdicts.clear()
            verdicts[key] = verdict
        if verdict:
            errors.append(f"{verdict} [json-pointer:{pointer}/{i}]")
    return errors


def _block_verdict(raw: Any) -> str:
    """Why Slack would refuse this block, or "" if it would not."""
    if not isinstance(raw, dict):
        return "must be an object"
    try:
        block = Block.parse(raw)
        if block is None:
            return f"unsupported type: {raw.get('type')!r}"
        block.validate_json()
    except SlackObjectFormationError as e:
        return str(e)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        return f"malformed block ({e})"
    return ""


def _check_message(p: Json, verdicts: dict[str, str] | None = None) -> None:
    blocks, text = p.get("blocks"), p.get("text")
    if blocks not in (None, ""):
        if isinstance(blocks, str):
            raise _ApiError("invalid_blocks_format", errors=["blocks is not valid JSON"])
        errors = _block_errors(blocks, MAX_MESSAGE_BLOCKS, "/blocks", verdicts)
        if errors:
            raise _ApiError("invalid_blocks", errors=errors)
    if isinstance(text, str) and len(text) > MAX_TEXT_LENGTH:
        raise _ApiError("msg_too_long", errors=[f"text is over {MAX_TEXT_LENGTH} characters"])
    if not text and not blocks and not p.get("attachments"):
        raise _ApiError("no_text", errors=["a message needs text or blocks"])


def _check_metadata(metadata: Any) -> Json | None:
    if metadata in (None, ""):
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not metadata["event_type"]
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise _ApiError(
            "invalid_metadata",
            errors=["metadata needs an event_type string and an event_payload object"],
        )
    return metadata


def _check_view(view: Any, kinds: tuple[str, ...], verdicts: dict[str, str] | None = None) -> Json:
    if not isinstance(view, dict):
        raise _invalid_arguments(["view must be a JSON object [json-pointer:/view]"])
    if view.get("type") not in kinds:
        raise _invalid_arguments([f"type must be {' or '.join(kinds)} [json-pointer:/view/type]"])
    errors = _block_errors(view.get("blocks"), MAX_VIEW_BLOCKS, "/view/blocks", verdicts)
    if not errors:
        try:
            View(**view).validate_json()
        except SlackObjectFormationError as e:
            errors.append(f"{e} [json-pointer:/view]")
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            errors.append(f"malformed view ({e}) [json-pointer:/view]")
    if view["type"] == "modal":
        if not view.get("title"):
            errors.append("missing required field: title [json-pointer:/view/title]")
        raw = view.get("blocks")
        blocks: list[Any] = raw if isinstance(raw, list) else []
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and not view.get("submit"):
            errors.append("input blocks need a submit button [json-pointer:/view/submit]")
    if errors:
        raise _invalid_arguments(errors)
    return view
