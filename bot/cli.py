"""`coachbot`: run the bot, the worker or one dispatch, import, report, forget, demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from bot.logs import setup_logging
from bot.prompts import PromptsError
from bot.settings import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or configuration: printed without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coachbot",
        description="Coachbot: makes managers talk with their people before and after training.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the bot (Socket Mode or HTTP) and its scheduler")
    run.add_argument(
        "--http", action="store_true", help="serve HTTP even if SLACK_APP_TOKEN is set"
    )
    run.add_argument("--port", type=int, help="HTTP port (default: PORT, 3000)")
    run.add_argument("--no-scheduler", action="store_true", help="listen only; no dispatch/digest")
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="HTTP mode: worker processes sharing the port, about one per core (default: 1)",
    )

    sub.add_parser("worker", help="the scheduler alone: dispatch, digest, directory sync")
    sub.add_parser("dispatch", help="send every nudge due now, then exit")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_sub.required = True
    db_sub.add_parser("upgrade", help="apply pending migrations")

    imp = sub.add_parser("import", help="import people or enrollments from a CSV file")
    imp_sub = imp.add_subparsers(dest="what", metavar="WHAT")
    imp_sub.required = True
    people = imp_sub.add_parser("people", help="columns email,manager_email[,name][,slack_id]")
    people.add_argument("file")
    enrollments = imp_sub.add_parser(
        "enrollments",
        help="columns learner_email,training,starts_on,ends_on[,manager_email][,external_id]",
    )
    enrollments.add_argument("file")

    sub.add_parser("sync", help="read the people directory from Slack now (users.list)")

    summary = sub.add_parser("summary", help="the L&D summary in the terminal")
    summary.add_argument("--week", help="ISO week such as 2026-W48 (default: this week)")
    summary.add_argument("--csv", help="also write per-enrollment rows to this CSV file")

    forget = sub.add_parser("forget", help="delete a person's personal data")
    forget.add_argument("who", metavar="EMAIL_OR_SLACK_ID")

    man = sub.add_parser("manifest", help="print the Slack app manifest")
    man.add_argument(
        "--url", help="public https URL of an HTTP-mode bot (default: a Socket Mode manifest)"
    )

    demo = sub.add_parser("demo", help="a simulated workspace on a virtual clock, no Slack needed")
    demo.add_argument("--fast", action="store_true", help="no pauses, plain output (for tests)")
    demo.add_argument("--out", default="demo-output", help="folder for the database, chart, CSV")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage
        return EXIT_USAGE if exc.code else EXIT_OK
    # The demo's transcript is the output; its INFO lines would bury it (LOG_LEVEL still wins).
    setup_logging(os.environ.get("LOG_LEVEL") or ("WARNING" if args.command == "demo" else None))
    try:
        if args.command == "manifest":
            from bot.slack.manifest import manifest

            if args.url and not args.url.startswith("https://"):
                raise UsageError("--url must be the bot's public https:// address")
            print(json.dumps(manifest(args.url), indent=2))
            return EXIT_OK
        if args.command == "demo":
            from bot.demo import run_demo

            return run_demo(fast=args.fast, out=Path(args.out))
        settings = load_settings()
        return _dispatch_command(args, settings)
    except (ConfigError, UsageError) as exc:
        print(f"coachbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PromptsError as exc:
        print(f"coachbot: PROMPTS_FILE needs fixing: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        log.exception("cli.error command=%s", args.command)
        print(f"coachbot: {args.command} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _dispatch_command(args: argparse.Namespace, settings: Settings) -> int:

    db = _database(settings)
    if args.command == "db":
        db.upgrade()
        print("Database is up to date.")
        return EXIT_OK
    db.upgrade()
    if args.command == "import":
        return _import(args, settings, db)
    if args.command == "forget":
        from bot.core.privacy import forget_person

        result = forget_person(db, args.who)
        if result is None:
            raise UsageError(f"nobody with email or Slack id {args.who!r} is in the database")
        print(result)
        return EXIT_OK
    if args.command == "summary":
        from bot.reporting_cli import print_summary

        return print_summary(settings, db, week=args.week, csv_path=args.csv)
    if args.command == "dispatch":
        from bot.runtime import dispatch_once

        _require_token(settings)
        report = dispatch_once(settings, db)
        print(
            f"Claimed {report.claimed}: {report.sent} sent, {report.deferred} deferred, "
            f"{report.skipped} skipped, {report.failed} failed, {report.retried} to retry."
        )
        return EXIT_OK
    if args.command == "sync":
        from bot.runtime import sync_directory

        _require_token(settings)
        print(f"Read {sync_directory(settings, db)} people from Slack.")
        return EXIT_OK
    if args.command == "worker":
        from bot.runtime import run_worker

        _require_token(settings)
        return run_worker(settings, db, stop=_stop_event())
    if args.command == "run":
        from bot.runtime import run_bot

        http = args.http or not settings.socket_mode
        missing = settings.missing_slack_credentials(http=http)
        if missing:
            raise UsageError(
                "cannot connect to Slack; missing:\n  - "
                + "\n  - ".join(missing)
                + "\nPut them in .env (see .env.example) or the environment; README.md, "
                "'Connect to Slack', walks through it. To try Coachbot without Slack: make demo"
            )
        port = args.port or settings.port
        if not 1 <= port <= 65535:
            raise UsageError(f"--port must be from 1 to 65535, not {port}")
        if not 1 <= args.workers <= 64:
            raise UsageError(f"--workers must be from 1 to 64, not {args.workers}")
        if args.workers > 1 and not http:
            raise UsageError("--workers needs HTTP mode: add --http (Socket Mode is one process)")
        return run_bot(
            settings,
            db,
            http=http,
            port=port,
            scheduler=not args.no_scheduler,
            stop=_stop_event(),
            workers=args.workers,
        )
    raise UsageError(f"unknown command {args.command}")


def _database(settings: Settings):  # type: ignore[no-untyped-def]
    from storage.db import Database

    return Database(settings.database_url)


def _require_token(settings: Settings) -> None:
    if not settings.slack_bot_token:
        raise UsageError(
            "SLACK_BOT_TOKEN is missing: the Bot User OAuth Token (xoxb-...) under "
            "OAuth & Permissions of your app at https://api.slack.com/apps"
        )


def _import(args: argparse.Namespace, settings: Settings, db) -> int:  # type: ignore[no-untyped-def]
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; save it as CSV UTF-8 and try again") from None
    if args.what == "people":
        from bot.core.directory import import_people

        report = import_people(db, text, rules=settings.rules, default_tz=settings.default_timezone)
        noun = "people"
    else:
        from bot.runtime import make_intake
        from bot.slack.client import make_client

        client = (
            make_client(settings.slack_bot_token, settings.slack_api_url)
            if settings.slack_bot_token
            else None
        )
        report = make_intake(settings, db, client).import_csv(text)
        noun = "enrollments"
    for line in report.lines(noun):
        print(line)
    return EXIT_OK if report.ok else EXIT_FAILURE


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("process.stopping signal=%s", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
    return stop
