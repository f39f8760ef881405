"""`coachbot summary [--week W | --from D --to D] [--training NAME] [--csv FILE]`: the L&D
summary in a terminal.

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
    return print_summary(
        settings,
        open_database(settings),
        week=args.week,
        first=args.from_,
        last=args.to,
        training=args.training,
        csv_path=args.csv,
    )


def print_summary(
    settings: Settings,
    db: Database,
    *,
    week: str | None = None,
    first: str | None = None,
    last: str | None = None,
    training: str | None = None,
    csv_path: str | None = None,
    clock: Callable[[], datetime] = partial(datetime.now, UTC),
) -> int:
    """Print the summary of a week (this week by default) or of `first`..`last`, of one
    `training` if named; with `csv_path`, write the CSVs too."""
    from bot.core.reporting import (
        UnknownTraining,
        WeekArgumentError,
        build_csv,
        build_summary,
        figures_csv,
        find_training,
        parse_period,
        parse_span,
        summary_text,
    )
    from storage.metrics import Period, week_of

    now = clock()
    tz = settings.default_timezone
    if week and (first or last):
        raise UsageError("--week and --from/--to are two ways to choose the period: give one")
    if bool(first) != bool(last):
        raise UsageError("--from and --to go together, e.g. --from 2026-11-01 --to 2026-11-30")
    try:
        period: Period = week_of(now, tz)
        if first and last:
            period = parse_span(first, last, tz)
        elif week:
            period = parse_period(week, now, tz)
    except WeekArgumentError as exc:
        if first:
            raise UsageError(f"--from/--to take dates such as 2026-11-01 ({exc})") from None
        raise UsageError(f"--week must be an ISO week such as 2026-W48 or 'last' ({exc})") from None
    found = None
    if training:
        try:
            found = find_training(db, training)
        except UnknownTraining as exc:
            close = f"; did you mean {', '.join(exc.close)}?" if exc.close else ""
            raise UsageError(f"--training: no training called {exc.name!r}{close}") from None
    # The L&D summary's language, as the digest in LD_CHANNEL.
    catalogues = load_catalogues(
        settings.prompts_file or None, default_locale=settings.default_locale
    )
    prompts = catalogues.for_locale(settings.ld_locale)
    built = build_summary(db, settings, period, now, training=found)
    print(summary_text(built, prompts))
    if csv_path:
        path = Path(csv_path)
        if path.parent and not path.parent.is_dir():
            raise UsageError(f"--csv: the folder {path.parent} does not exist")
        text = build_csv(db, settings, period, now, training_id=found[0] if found else None)
        path.write_text(text, encoding="utf-8")
        figures = path.with_name(f"{path.stem}-figures{path.suffix or '.csv'}")
        figures.write_text(figures_csv(built, prompts), encoding="utf-8")
        print(
            f"\nWrote {text.count(chr(10)) - 1} enrollments to {path}, and the figures to {figures}"
        )
    return EXIT_OK
