"""Logging: one line per event, `key=value` pairs, and no secret ever printed."""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import TextIO

# Slack tokens and bearer secrets, wherever they might slip into a message or a traceback.
SECRET_RE = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|Bearer\s+\S+)")


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return SECRET_RE.sub("[redacted]", super().format(record))


def setup_logging(
    level: str | None = None, *, stream: TextIO | None = None, force: bool = False
) -> logging.Handler:
    root = logging.getLogger()
    existing = getattr(root, "_coachbot", None)
    if existing is not None and not force:
        return existing  # type: ignore[no-any-return]
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO").upper())
    # The Slack SDK logs request bodies at DEBUG, and they carry what people wrote.
    for noisy in ("slack_sdk", "slack_bolt", "apscheduler", "waitress", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Alembic says fifteen INFO lines on every start ("setup plugin ...", "Context impl ...")
    # that matter only to whoever debugs a migration; storage.db logs the one line that counts.
    debugging = root.getEffectiveLevel() <= logging.DEBUG
    logging.getLogger("alembic").setLevel(logging.NOTSET if debugging else logging.WARNING)
    root._coachbot = handler  # type: ignore[attr-defined]
    return handler


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is logged, not to the one of set-up
    time, which may have been replaced (and closed) since, as pytest's capture does."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass
