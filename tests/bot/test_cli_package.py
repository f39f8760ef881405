"""The command line's shape: one table entry per command of the parser, and no import cycle."""

from __future__ import annotations

import argparse
import ast
import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot
from bot.cli import COMMANDS, build_parser

BOT = Path(bot.__file__).parent
CLI = BOT / "cli"


def _leaves(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[str]:
    """Every runnable command of `parser`, as the words typed on the command line."""
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield " ".join(words)
        return
    for name, child in subcommands[0].choices.items():
        yield from _leaves(child, (*words, name))


def test_the_table_has_one_function_for_every_command_of_the_parser() -> None:
    parser = build_parser()
    assert sorted(_leaves(parser)) == sorted(COMMANDS)
    for words, handler in COMMANDS.items():
        assert list(inspect.signature(handler).parameters) in (["args"], ["_args"]), words


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "--http", "--port", "3001"], "run"),
        (["db", "upgrade"], "db upgrade"),
        (["import", "people", "people.csv"], "import people"),
        (["import", "enrollments", "enrollments.csv"], "import enrollments"),
        (["forget", "ada@example.org"], "forget"),
        (["summary", "--week", "last"], "summary"),
    ],
)
def test_what_is_typed_selects_its_entry(argv: list[str], words: str) -> None:
    assert build_parser().parse_args(argv).command == words


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


# The entry points that start the command line: `python -m bot` and `slack run`'s hook.
ENTRY_POINTS = ("__main__.py", "slack_run.py")


def test_nothing_below_the_command_line_imports_it() -> None:
    for path in BOT.rglob("*.py"):
        if CLI in path.parents or path in {BOT / name for name in ENTRY_POINTS}:
            continue
        assert not any(m == "bot.cli" or m.startswith("bot.cli.") for m in _imports(path)), path


def test_the_command_modules_never_import_their_package() -> None:
    # bot/cli/__init__.py imports them to build its table; importing it back is the cycle.
    for path in CLI.glob("*.py"):
        if path.name != "__init__.py":
            assert "bot.cli" not in _imports(path), path


def test_each_command_module_imports_first_on_its_own() -> None:
    for path in sorted(CLI.glob("*.py")):
        module = "bot.cli" if path.name == "__init__.py" else f"bot.cli.{path.stem}"
        result = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=BOT.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr


def test_help_and_manifest_load_no_database_or_slack_library() -> None:
    # The heavy imports sit inside the commands that use them, so these answer at once.
    probe = (
        "import sys, bot.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sqlalchemy', 'sqlmodel', 'alembic', 'slack_sdk', 'slack_bolt', 'matplotlib'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=BOT.parent, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr
