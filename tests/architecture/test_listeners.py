"""Listeners stay thin: a listener parses, calls the core, renders and answers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What fits on a screen.
SCREEN = 50


def test_no_listener_function_is_longer_than_a_screen() -> None:
    long = [
        f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in (ROOT / "bot" / "slack" / "listeners").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > SCREEN  # type: ignore[operator]
    ]
    assert long == []
