"""Socket Mode watchdog: reconnects a socket that dropped, or that looks connected but is dead.

slack_sdk's client reconnects on its own when the socket closes, and drops a connection whose
pongs stopped, but only once a first pong arrived on it: a connection that never answered a
ping (the known "new session after an idle reconnect, then no events" case in bolt-python and
python-slack-sdk) stays "connected" forever, with no event arriving and no error raised. The
watchdog probes the current connection with its own ping on every check and opens a fresh
connection when no pong came back for longer than `stale_after` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class SocketWatchdog(threading.Thread):
    """Checks `handler.client` (slack_sdk's builtin SocketModeClient) every `interval` seconds.

    `stale_after` must be larger than `interval`: a healthy connection answers each probe within
    milliseconds, so the last pong is never older than one interval plus the round trip.
    """

    def __init__(
        self,
        handler: Any,
        *,
        stop: threading.Event,
        interval: float = 10.0,
        stale_after: float = 35.0,
        clock: Callable[[], float] = time.time,  # slack_sdk stamps pongs with time.time()
    ) -> None:
        super().__init__(name="socket-watchdog", daemon=True)
        if stale_after <= interval:
            raise ValueError("stale_after must be longer than interval")
        self.handler = handler
        self.stop = stop
        self.interval = interval
        self.stale_after = stale_after
        self.clock = clock
        self.reconnects = 0
        self._session: Any = None
        self._session_seen_at = 0.0

    def check(self) -> bool:
        """True when the socket is healthy; otherwise reconnect and return False."""
        client = self.handler.client
        if getattr(client, "closed", False):
            return True  # shutting down: nothing to watch
        try:
            connected = client.is_connected()
        except Exception:
            log.warning("socket_mode.health_check_failed", exc_info=True)
            connected = False
        if not connected:
            return self._reconnect("disconnected")
        session: Any = getattr(client, "current_session", None)
        now = self.clock()
        if session is not self._session:
            # A new connection gets `stale_after` seconds from when we first saw it.
            self._session, self._session_seen_at = session, now
        last_pong = getattr(session, "last_ping_pong_time", None) or 0.0
        heard = max(float(last_pong), self._session_seen_at)
        if now - heard > self.stale_after:
            return self._reconnect(f"no pong for {now - heard:.0f}s")
        try:
            # slack_sdk reads a pong only when its payload is "<session id>:<time sent>".
            session.ping(f"{session.session_id}:{now}")
        except Exception:
            return self._reconnect("ping failed")
        return True

    def _reconnect(self, reason: str) -> bool:
        log.warning("socket_mode.reconnecting reason=%s", reason)
        try:
            self.handler.client.connect_to_new_endpoint(force=True)
            self.reconnects += 1
            log.info("socket_mode.reconnected count=%s", self.reconnects)
        except Exception:
            log.exception("socket_mode.reconnect_failed")
        return False

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watchdog itself must never die
                log.exception("socket_mode.watchdog_error")
