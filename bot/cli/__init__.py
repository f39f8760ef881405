"""`coachbot`: the parser, the table of commands, and `main`, which maps an outcome to an
exit code: 0 success, 2 bad usage or configuration (with what to fix), 1 any other failure.

One function per command, in bot/cli/commands.py, imports.py and summary.py.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.cli import commands, imports, summary
from bot.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Handler, UsageError
from bot.logs import setup_logging
from bot.prompts import PromptsError
from bot.settings import ConfigError, load_log_level

__all__ = ["COMMANDS", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "UsageError", "main"]

if TYPE_CHECKING:  # generic in typeshed only
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

log = logging.getLogger(__name__)

# Every command the parser knows, by its words on the command line.
COMMANDS: Mapping[str, Handler] = {
    "run": commands.run,
    "worker": commands.worker,
    "dispatch": commands.dispatch,
    "db upgrade": commands.db_upgrade,
    "import people": imports.import_people,
    "import enrollments": imports.import_enrollments,
    "import calendar": imports.import_calendar,
    "sync": commands.sync,
    "summary": summary.summary,
    "forget": commands.forget,
    "manifest": commands.manifest,
    "demo": commands.demo,
}

# The demo's transcript is its output, and INFO lines would bury it; LOG_LEVEL still wins.
QUIET_COMMANDS = frozenset({"demo"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coachbot",
        description="Coachbot: makes managers talk with their people before and after training.",
    )
    sub = _subcommands(parser, "COMMAND")

    run = _command(sub, "run", "run the bot (Socket Mode or HTTP) and its scheduler")
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

    _command(sub, "worker", "the scheduler alone: dispatch, digest, directory sync")
    _command(sub, "dispatch", "send every nudge due now, then exit")

    db = _subcommands(sub.add_parser("db", help="database maintenance"), "ACTION")
    _command(db, "db upgrade", "apply pending migrations")

    imp = _subcommands(
        sub.add_parser("import", help="import people, enrollments or a calendar"), "WHAT"
    )
    _command(imp, "import people", "columns email,manager_email[,name][,slack_id]").add_argument(
        "file"
    )
    _command(
        imp,
        "import enrollments",
        "columns learner_email,training,starts_on,ends_on[,manager_email][,external_id]"
        "[,status][,completed_on]",
    ).add_argument("file")
    _command(
        imp, "import calendar", "training sessions from an iCalendar (.ics) file"
    ).add_argument("file")

    _command(sub, "sync", "read the people directory from Slack now (users.list)")

    report = _command(sub, "summary", "the L&D summary in the terminal")
    report.add_argument("--week", help="ISO week such as 2026-W48, or 'last' (default: this week)")
    report.add_argument("--from", dest="from_", metavar="DATE", help="first day, YYYY-MM-DD")
    report.add_argument("--to", metavar="DATE", help="last day, YYYY-MM-DD (with --from)")
    report.add_argument("--training", metavar="NAME", help="only this training")
    report.add_argument(
        "--csv",
        help="also write per-enrollment rows to this CSV file, and every figure beside it"
        " (FILE-figures.csv)",
    )

    forget = _command(sub, "forget", "delete a person's personal data")
    forget.add_argument("who", metavar="EMAIL_OR_SLACK_ID")

    man = _command(sub, "manifest", "print the Slack app manifest")
    man.add_argument(
        "--url", help="public https URL of an HTTP-mode bot (default: a Socket Mode manifest)"
    )

    demo = _command(sub, "demo", "a simulated workspace on a virtual clock, no Slack needed")
    demo.add_argument("--fast", action="store_true", help="no pauses, plain output (for tests)")
    demo.add_argument("--out", default="demo-output", help="folder for the database, chart, CSV")
    return parser


def _subcommands(parser: argparse.ArgumentParser, metavar: str) -> Subcommands:
    sub = parser.add_subparsers(metavar=metavar)
    sub.required = True
    return sub


def _command(sub: Subcommands, words: str, help: str) -> argparse.ArgumentParser:
    """The parser of one command; `words` is its key in COMMANDS ("db upgrade")."""
    parser = sub.add_parser(words.split()[-1], help=help)
    parser.set_defaults(command=words)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        level = load_log_level()
        setup_logging(level or ("WARNING" if args.command in QUIET_COMMANDS else "INFO"))
        return COMMANDS[args.command](args)
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
