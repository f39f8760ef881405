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
from pathlib import Path
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
    """The database, migrated to the newest revision (a new SQLite file is created here).

    Commands that need Slack check their credentials before they call this, so a first run
    without configuration leaves nothing behind."""
    # storage.db brings SQLAlchemy and Alembic (half a second); `coachbot --help`,
    # `manifest` and a usage error do without them.
    from storage.db import Database

    db = Database(settings.database_url)
    db.upgrade()
    return db


def missing_configuration(missing: list[str], *, what: str) -> UsageError:
    """The error for `what` when `missing` (each 'NAME: where to find it') is not set."""
    env = Path(".env")
    where = (
        f"in {env.resolve()} or in the environment"
        if env.is_file()
        else f"in the environment, or in a .env file in {Path.cwd()} (there is none yet: "
        "start from .env.example, `cp .env.example .env`)"
    )
    return UsageError(
        f"{what}; missing:\n  - "
        + "\n  - ".join(missing)
        + f"\nSet {'it' if len(missing) == 1 else 'them'} {where}."
        "\nREADME.md, 'Connect to Slack', walks through it. To try Coachbot without Slack: "
        "coachbot demo"
    )


def require_token(settings: Settings, *, command: str) -> None:
    missing = settings.missing_slack_credentials(http=False)
    token_only = [line for line in missing if line.startswith("SLACK_BOT_TOKEN")]
    if token_only:
        raise missing_configuration(token_only, what=f"{command} needs to call Slack")


def stop_event() -> threading.Event:
    """Set by SIGTERM or SIGINT: long-running commands stop cleanly when it is."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("process.stopping signal=%s", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
    return stop
