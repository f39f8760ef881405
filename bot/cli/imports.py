"""`coachbot import people|enrollments FILE.csv` and `coachbot import calendar FILE.ics`: a file
in, what it created and updated out, with one line per row (or event) refused or skipped.

The domain modules (SQLModel) and the Slack client are imported inside each command, for
the start-up time of the commands that need neither (see bot/cli/commands.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import EXIT_FAILURE, EXIT_OK, UsageError, open_database
from bot.settings import load_settings


def import_people(args: argparse.Namespace) -> int:
    text = _read_csv(args.file)
    settings = load_settings()
    db = open_database(settings)
    from bot.core.directory import import_people as import_rows

    report = import_rows(db, text, rules=settings.rules, default_tz=settings.default_timezone)
    for line in report.lines("people"):
        print(line)
    return EXIT_OK if report.ok else EXIT_FAILURE


def import_enrollments(args: argparse.Namespace) -> int:
    text = _read_csv(args.file)
    settings = load_settings()
    db = open_database(settings)
    from bot.slack.client import make_client
    from bot.slack.lookup import make_intake

    # Without a token the rows still import; a learner or manager is then found only in
    # the directory, not looked up in Slack by email.
    client = (
        make_client(settings.slack_bot_token, settings.slack_api_url)
        if settings.slack_bot_token
        else None
    )
    report = make_intake(settings, db, client).import_csv(text)
    for line in report.lines("enrollments"):
        print(line)
    return EXIT_OK if report.ok else EXIT_FAILURE


def import_calendar(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    data = path.read_bytes()
    settings = load_settings()
    db = open_database(settings)
    from bot import metrics
    from bot.core.sources import SourceError
    from bot.core.sources.service import Sources
    from bot.slack.client import make_client
    from bot.slack.lookup import make_intake
    from storage.models import utcnow

    client = (
        make_client(settings.slack_bot_token, settings.slack_api_url)
        if settings.slack_bot_token
        else None
    )
    sources = Sources(
        settings, make_intake(settings, db, client), clock=utcnow, on_outcome=metrics.enrollment
    )
    try:
        report = sources.import_calendar(data)
    except SourceError as exc:
        print(f"coachbot: {path} {exc.message}")
        return EXIT_FAILURE
    for line in report.lines():
        print(line)
    return EXIT_OK if report.ok else EXIT_FAILURE


def _read_csv(name: str) -> str:
    path = Path(name)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; save it as CSV UTF-8 and try again") from None
