"""Socket Mode watchdog: reconnects a socket that went quiet or dropped.

Bolt's built-in client reconnects on its own most of the time, but a connection can be left
half-open after a long idle period, with no events arriving and no error raised. The
watchdog checks the connection on a timer and opens a fresh one when it is not healthy.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class SocketWatchdog(threading.Thread):
    def __init__(self, handler: Any, *, stop: threading.Event, interval: float = 30.0) -> None:
        super().__init__(name="socket-watchdog", daemon=True)
        self.handler = handler
        self.stop = stop
        self.interval = interval
        self.reconnects = 0

    def check(self) -> bool:
        """True when the socket is healthy; otherwise reconnect and return False."""
        client = self.handler.client
        try:
            if client.is_connected():
                return True
        except Exception:
            log.warning("socket_mode.health_check_failed")
        log.warning("socket_mode.reconnecting")
        try:
            client.connect_to_new_endpoint(force=True)
            self.reconnects += 1
        except Exception:
            log.exception("socket_mode.reconnect_failed")
        return False

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.check()
