"""`coachbot summary [--week YYYY-Www] [--csv FILE]`: the L&D summary in a terminal.

The reporting module (SQLModel) is imported inside `print_summary`, for the start-up time of
the commands that do not need it (see bot/cli/commands.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_OK, UsageError, open_database
from bot.prompts import load_catalogues
from bot.settings import Settings, load_settings

if TYPE_CHECKING:
    from storage.db import Database


def summary(args: argparse.Namespace) -> int:
    settings = load_settings()
    return print_summary(settings, open_database(settings), week=args.week, csv_path=args.csv)


def print_summary(
    settings: Settings,
    db: Database,
    *,
    week: str | None = None,
    csv_path: str | None = None,
    clock: Callable[[], datetime] = partial(datetime.now, UTC),
) -> int:
    """Print the week's summary (this week by default); with `csv_path`, write the CSV too."""
    from bot.core.reporting import (
        WeekArgumentError,
        build_csv,
        build_summary,
        parse_request,
        summary_text,
    )

    now = clock()
    try:
        request = parse_request(week or "", now, settings.default_timezone)
    except WeekArgumentError as exc:
        raise UsageError(f"--week must be an ISO week such as 2026-W48 or 'last' ({exc})") from None
    if request.csv_only:
        raise UsageError("--week takes an ISO week such as 2026-W48 or 'last'; use --csv FILE")
    # The L&D summary's language, as the digest in LD_CHANNEL.
    catalogues = load_catalogues(
        settings.prompts_file or None, default_locale=settings.default_locale
    )
    prompts = catalogues.for_locale(settings.ld_locale)
    print(summary_text(build_summary(db, settings, request.week, now), prompts))
    if csv_path:
        path = Path(csv_path)
        if path.parent and not path.parent.is_dir():
            raise UsageError(f"--csv: the folder {path.parent} does not exist")
        text = build_csv(db, settings, request.week, now)
        path.write_text(text, encoding="utf-8")
        print(f"\nWrote {text.count(chr(10)) - 1} enrollments to {path}")
    return EXIT_OK
