"""What the commands share: exit codes, the usage error, the database, the stop signal.

The command modules import this, never `bot.cli` itself: the package imports them to build
its table, so an import the other way would be a cycle.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]
"""One command: its parsed arguments in, its exit code out."""


class UsageError(Exception):
    """Bad usage or configuration: printed without a traceback, exit code 2."""


def open_database(settings: Settings) -> Database:
    """The database, migrated to the newest revision (a new SQLite file is created here)."""
    # storage.db brings SQLAlchemy and Alembic (half a second); `coachbot --help`,
    # `manifest` and a usage error do without them.
    from storage.db import Database

    db = Database(settings.database_url)
    db.upgrade()
    return db


def require_token(settings: Settings) -> None:
    if not settings.slack_bot_token:
        raise UsageError(
            "SLACK_BOT_TOKEN is missing: the Bot User OAuth Token (xoxb-...) under "
            "OAuth & Permissions of your app at https://api.slack.com/apps"
        )


def stop_event() -> threading.Event:
    """Set by SIGTERM or SIGINT: long-running commands stop cleanly when it is."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("process.stopping signal=%s", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
    return stop
