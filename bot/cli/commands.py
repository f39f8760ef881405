"""The processes (`run`, `worker`), the one-shot Slack jobs (`dispatch`, `sync`), and the
small commands: `db upgrade`, `forget`, `manifest`, `demo`.

Each command checks its own configuration before it opens the database, so a command that
cannot work says what is missing and leaves no database file behind. Modules that bring the
Slack SDK, Bolt or matplotlib are imported inside the command that needs them: the start-up
time of `coachbot --help` and `manifest`, not a cycle (tests/bot/test_cli_package.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.cli.common import (
    EXIT_OK,
    UsageError,
    missing_configuration,
    open_database,
    require_token,
    stop_event,
)
from bot.settings import load_settings
from bot.slack.manifest import manifest as slack_manifest

MAX_WORKERS = 64


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    http = args.http or not settings.socket_mode
    missing = settings.missing_slack_credentials(http=http)
    if missing:
        raise missing_configuration(missing, what="cannot connect to Slack")
    port = args.port or settings.port
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be from 1 to 65535, not {port}")
    if not 1 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be from 1 to {MAX_WORKERS}, not {args.workers}")
    if args.workers > 1 and not http:
        raise UsageError("--workers needs HTTP mode: add --http (Socket Mode is one process)")
    db = open_database(settings)
    from bot.runtime import run_bot

    return run_bot(
        settings,
        db,
        http=http,
        port=port,
        scheduler=not args.no_scheduler,
        stop=stop_event(),
        workers=args.workers,
    )


def worker(_args: argparse.Namespace) -> int:
    settings = load_settings()
    require_token(settings, command="worker")
    db = open_database(settings)
    from bot.runtime import run_worker

    return run_worker(settings, db, stop=stop_event())


def dispatch(_args: argparse.Namespace) -> int:
    settings = load_settings()
    require_token(settings, command="dispatch")
    db = open_database(settings)
    from bot.runtime import dispatch_once

    report = dispatch_once(settings, db)
    print(
        f"Claimed {report.claimed}: {report.sent} sent, {report.deferred} deferred, "
        f"{report.skipped} skipped, {report.failed} failed, {report.retried} to retry."
    )
    return EXIT_OK


def sync(_args: argparse.Namespace) -> int:
    settings = load_settings()
    require_token(settings, command="sync")
    db = open_database(settings)
    from bot.runtime import sync_directory

    print(f"Read {sync_directory(settings, db)} people from Slack.")
    return EXIT_OK


def db_upgrade(_args: argparse.Namespace) -> int:
    open_database(load_settings())
    print("Database is up to date.")
    return EXIT_OK


def forget(args: argparse.Namespace) -> int:
    db = open_database(load_settings())
    from bot.core.privacy import forget_person

    result = forget_person(db, args.who)
    if result is None:
        raise UsageError(f"nobody with email or Slack id {args.who!r} is in the database")
    print(result)
    return EXIT_OK


def manifest(args: argparse.Namespace) -> int:
    if args.url and not args.url.startswith("https://"):
        raise UsageError("--url must be the bot's public https:// address")
    print(json.dumps(slack_manifest(args.url), indent=2))
    return EXIT_OK


def demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(fast=args.fast, out=Path(args.out))
