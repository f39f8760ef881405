"""Socket Mode against a local WebSocket server: envelopes are acked and handled, a dropped
connection comes back, a redelivered envelope is recorded once, and the watchdog replaces a
connection that looks connected but is dead.

The server is a small stdlib WebSocket endpoint on 127.0.0.1 standing in for Slack's socket;
the fake Web API hands its ws:// URL out from apps.connections.open. Bolt's SocketModeHandler
(slack_sdk's builtin client) and the real app talk to both, as in production.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from slack_bolt.adapter.socket_mode import SocketModeHandler
from sqlmodel import select
from support import Bot, ada_and_grace, dispatch_due, eventually

from bot.slack.app import create_app
from bot.slack.client import make_client
from bot.slack.socket import SocketWatchdog
from storage.models import Note

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture
def db_url(tmp_path: Any) -> Iterator[str]:
    # The socket is what is under test here; the database side runs on both engines elsewhere.
    yield f"sqlite:///{tmp_path / 'coachbot.db'}"


class _Conn:
    """One accepted WebSocket connection (the server side)."""

    def __init__(self, sock: socket.socket, *, silent: bool) -> None:
        self.sock = sock
        self.silent = silent  # neither answers pings nor gets envelopes: dead but open
        self.closed = False
        self.lock = threading.Lock()

    def send(self, opcode: int, data: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(data)
        if n < 126:
            header += bytes([n])
        elif n < 65536:
            header += bytes([126]) + struct.pack("!H", n)
        else:
            header += bytes([127]) + struct.pack("!Q", n)
        with self.lock:
            self.sock.sendall(header + data)

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class SocketServer:
    """Slack's side of Socket Mode: hands envelopes out, collects acks, answers pings."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[_Conn] = []
        self.acks: list[dict[str, Any]] = []
        self.pings = 0
        self.silent_next = False
        self._changed = threading.Condition()
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test"

    def _accept(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                request += chunk
            headers = dict(
                line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line
            )
            key = headers.get("Sec-WebSocket-Key", "").strip()
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            sock.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            with self._changed:
                conn = _Conn(sock, silent=self.silent_next)
                self.silent_next = False
                self.conns.append(conn)
                self._changed.notify_all()
            conn.send(0x1, json.dumps({"type": "hello", "num_connections": 1}).encode())
            while True:
                first, second = _recv_exact(sock, 2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", _recv_exact(sock, 2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", _recv_exact(sock, 8))
                mask = _recv_exact(sock, 4) if second & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(_recv_exact(sock, length)))
                if opcode == 0x9:  # ping
                    with self._changed:
                        self.pings += 1
                    if not conn.silent:
                        conn.send(0xA, data)
                elif opcode == 0x1:
                    with self._changed:
                        self.acks.append(json.loads(data))
                        self._changed.notify_all()
                elif opcode == 0x8:
                    return
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            sock.close()

    def live(self) -> _Conn | None:
        with self._changed:
            for conn in reversed(self.conns):
                if not conn.closed and not conn.silent:
                    return conn
            return None

    def wait_for_connections(self, n: int, timeout: float = 8.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.conns) >= n, timeout):
                raise TimeoutError(f"{len(self.conns)} connections, wanted {n}")

    def deliver(self, envelope: dict[str, Any], timeout: float = 8.0) -> None:
        """Send on the newest healthy connection, waiting for one to exist."""
        conn = eventually(self.live, timeout)
        conn.send(0x1, json.dumps(envelope).encode())

    def wait_for_ack(self, envelope_id: str, timeout: float = 8.0) -> dict[str, Any]:
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((a for a in self.acks if a.get("envelope_id") == envelope_id), None),
                timeout,
            )
        assert found, f"envelope {envelope_id} was never acknowledged"
        return found

    def deliver_acked(self, envelope: dict[str, Any], timeout: float = 8.0) -> dict[str, Any]:
        """`deliver` (waiting up to `timeout` for a connection), then the client's ack."""
        self.deliver(envelope, timeout)
        return self.wait_for_ack(envelope["envelope_id"])

    def drop(self) -> None:
        """The TCP connection dies under the client, without a close frame."""
        with self._changed:
            conns = [c for c in self.conns if not c.closed]
        for conn in conns:
            conn.close()

    def stop(self) -> None:
        self._stopping = True
        self.listener.close()
        self.drop()


@pytest.fixture
def ws() -> Iterator[SocketServer]:
    server = SocketServer()
    yield server
    server.stop()


def _prompt_dm(bot: Bot) -> dict[str, Any]:
    ada_and_grace(bot)
    bot.clock.set(datetime(2026, 12, 3, 9, 31, tzinfo=UTC))
    dispatch_due(bot)
    return [m for m in bot.fake.dms_to("UGRACE") if not m.get("thread_ts")][-1]


def _reply_envelope(
    bot: Bot, dm: dict[str, Any], text: str, *, event_id: str, retry: int = 0
) -> dict[str, Any]:
    ts = f"{1800000000 + abs(hash(event_id)) % 100000}.000100"
    reply = {
        "type": "message",
        "channel_type": "im",
        "channel": dm["channel"],
        "user": "UGRACE",
        "text": text,
        "ts": ts,
        "thread_ts": dm["ts"],
    }
    return {
        "type": "events_api",
        "envelope_id": str(uuid.uuid4()),
        "accepts_response_payload": False,
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
        "payload": bot.event_callback(reply, event_id=event_id),
    }


def _notes(bot: Bot) -> list[str]:
    with bot.db.session() as s:
        return [n.text for n in s.exec(select(Note)).all()]


@pytest.fixture
def socket_app(bot: Bot, ws: SocketServer) -> Iterator[SocketModeHandler]:
    """The real app in Socket Mode (no signing secret), on the same database and fake Slack."""
    bot.fake.socket_url = ws.url
    settings = replace(bot.settings, slack_signing_secret="", slack_app_token="xapp-test")
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    app, _ = create_app(settings, bot.db, client, clock=bot.clock)
    handler = SocketModeHandler(app, settings.slack_app_token, ping_interval=0.5)
    handler.connect()
    yield handler
    # Drop the server side first: closing a client blocked in recv() otherwise waits out
    # slack_sdk's 3-second receive timeout.
    handler.client.auto_reconnect_enabled = False
    ws.drop()
    handler.close()


def test_an_envelope_is_acked_and_handled(
    bot: Bot, ws: SocketServer, socket_app: SocketModeHandler
) -> None:
    dm = _prompt_dm(bot)
    envelope = _reply_envelope(bot, dm, "We talked on Monday", event_id="Ev1")
    assert ws.deliver_acked(envelope) == {"envelope_id": envelope["envelope_id"]}
    assert eventually(lambda: _notes(bot)) == ["We talked on Monday"]
    bot.fake.wait_for_calls("reactions.add")  # the reply got its :memo:


def test_a_dropped_connection_reconnects_and_handles_the_next_envelope(
    bot: Bot, ws: SocketServer, socket_app: SocketModeHandler
) -> None:
    dm = _prompt_dm(bot)
    ws.deliver_acked(_reply_envelope(bot, dm, "before the drop", event_id="Ev1"))
    opened = bot.fake.count("apps.connections.open")

    ws.drop()
    ws.wait_for_connections(2)  # slack_sdk noticed and opened a fresh connection by itself
    assert bot.fake.count("apps.connections.open") > opened  # a new URL, as Slack requires
    ws.deliver_acked(_reply_envelope(bot, dm, "after the drop", event_id="Ev2"))
    assert sorted(eventually(lambda: len(_notes(bot)) == 2 and _notes(bot))) == [
        "after the drop",
        "before the drop",
    ]


def test_an_envelope_delivered_twice_is_recorded_once(
    bot: Bot, ws: SocketServer, socket_app: SocketModeHandler
) -> None:
    dm = _prompt_dm(bot)
    ws.deliver_acked(_reply_envelope(bot, dm, "Only once, please", event_id="EvSame"))
    eventually(lambda: _notes(bot))
    # Slack did not see the ack in time and sends the same event again, in a new envelope.
    again = _reply_envelope(bot, dm, "Only once, please", event_id="EvSame", retry=1)
    ws.deliver_acked(again)  # acked, so Slack stops retrying
    time.sleep(0.3)  # give a duplicate every chance to be written
    assert _notes(bot) == ["Only once, please"]
    assert len(bot.fake.calls_to("reactions.add")) == 1


def test_an_envelope_the_database_cannot_take_is_not_acked_and_is_stored_when_resent(
    bot: Bot, ws: SocketServer, socket_app: SocketModeHandler
) -> None:
    """With the database unreachable the envelope gets no ack, so Slack sends it again;
    the copy that arrives once the database answers is stored, and acked."""
    dm = _prompt_dm(bot)
    real = bot.db.session

    def unreachable() -> Any:
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    bot.db.session = unreachable  # type: ignore[method-assign]
    try:
        lost = _reply_envelope(bot, dm, "Said while the database was down", event_id="EvDown")
        ws.deliver(lost)
        with pytest.raises(AssertionError, match="never acknowledged"):
            ws.wait_for_ack(lost["envelope_id"], timeout=1.5)
    finally:
        bot.db.session = real  # type: ignore[method-assign]
    assert _notes(bot) == []
    again = _reply_envelope(bot, dm, "Said while the database was down", event_id="EvDown", retry=1)
    ws.deliver(again)
    ws.wait_for_ack(again["envelope_id"])
    assert _notes(bot) == ["Said while the database was down"]  # stored before the ack
    bot.fake.wait_for_calls("reactions.add")


def test_the_watchdog_replaces_a_connection_that_looks_connected_but_is_dead(
    bot: Bot, ws: SocketServer, socket_app: SocketModeHandler
) -> None:
    """The idle-reconnect failure: a new session opens, but no pong and no event ever arrives
    on it. slack_sdk only judges staleness after a first pong, so it keeps that session."""
    dm = _prompt_dm(bot)
    ws.deliver_acked(_reply_envelope(bot, dm, "before", event_id="Ev1"))

    stop = threading.Event()
    watchdog = SocketWatchdog(socket_app, stop=stop, interval=0.2, stale_after=1.5)
    watchdog.start()
    try:
        ws.silent_next = True  # the next connection will be dead but open
        ws.drop()
        ws.wait_for_connections(2)
        assert socket_app.client.is_connected()  # the client believes all is well
        second = _reply_envelope(bot, dm, "after", event_id="Ev2")
        ws.deliver_acked(second, timeout=10.0)  # only a healthy connection can carry it
        assert eventually(lambda: "after" in _notes(bot) and _notes(bot))
        assert watchdog.reconnects >= 1
        assert len(ws.conns) >= 3
    finally:
        stop.set()
        watchdog.join(timeout=2)


def test_the_watchdog_leaves_a_healthy_connection_alone(
    bot: Bot, ws: SocketServer, socket_app: SocketModeHandler
) -> None:
    stop = threading.Event()
    watchdog = SocketWatchdog(socket_app, stop=stop, interval=0.1, stale_after=0.6)
    watchdog.start()
    time.sleep(1.5)  # well past stale_after: only answered probes keep it from reconnecting
    stop.set()
    watchdog.join(timeout=2)
    assert watchdog.reconnects == 0
    assert len(ws.conns) == 1
