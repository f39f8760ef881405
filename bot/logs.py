"""Logging: one line per event, `key=value` pairs, and no secret ever printed."""

from __future__ import annotations

import logging
import os
import re
import sys

# Slack tokens and bearer secrets, wherever they might slip into a message or a traceback.
SECRET_RE = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|Bearer\s+\S+)")


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return SECRET_RE.sub("[redacted]", super().format(record))


def setup_logging(level: str | None = None) -> None:
    root = logging.getLogger()
    if getattr(root, "_coachbot", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO").upper())
    # The Slack SDK logs request bodies at DEBUG, and they carry what people wrote.
    for noisy in ("slack_sdk", "slack_bolt", "apscheduler", "waitress", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._coachbot = True  # type: ignore[attr-defined]
