"""The arrows point one way: storage <- scheduler <- bot.core <- bot.slack <- web, cli, runtime.

Read from the source with `ast`, imports inside functions included (they are how a circle
hides), so a new import that breaks the house fails here with the edge that broke it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "scheduler", "storage")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports, product modules resolved to the module itself."""
    targets: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
    return targets


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _edges(source: str, *targets: str) -> list[str]:
    return sorted(
        f"{module} -> {target}"
        for module, imported in GRAPH.items()
        if _within(module, source)
        for target in imported
        if any(_within(target, t) for t in targets)
    )


def test_the_graph_sees_the_modules() -> None:
    assert {"bot.core.enrollment", "bot.slack.app", "scheduler.dispatcher", "storage.crud"} <= set(
        GRAPH
    )
    assert "storage.models" in GRAPH["storage.crud"]


def test_storage_imports_nothing_above_it() -> None:
    assert _edges("storage", "scheduler", "bot") == []


def test_scheduler_never_imports_bot() -> None:
    assert _edges("scheduler", "bot") == []


def test_the_core_knows_no_slack() -> None:
    assert _edges("bot.core", "slack_sdk", "slack_bolt", "bot.slack", "bot.sim") == []
    above = ("bot.services", "bot.web", "bot.runtime", "bot.cli", "bot.demo")
    assert _edges("bot.core", *above) == []


def test_the_adapter_stays_below_the_entry_points() -> None:
    assert _edges("bot.slack", "bot.web", "bot.runtime", "bot.cli", "bot.demo") == []


def test_only_the_demo_and_its_command_use_the_fake_slack() -> None:
    users = {edge.split(" -> ")[0] for edge in _edges("bot", "bot.sim")}
    assert {u for u in users if not _within(u, "bot.sim")} <= {"bot.demo", "bot.cli.commands"}


def _cycle() -> list[str] | None:
    """One circle among the product modules, as the list of modules around it."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(module: str) -> list[str] | None:
        path.append(module)
        on_path.add(module)
        for target in sorted(GRAPH[module] & GRAPH.keys()):
            # A package's own __init__ is run by importing any module in it: not an edge back.
            if _within(module, target):
                continue
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and (found := visit(target)):
                return found
        path.pop()
        on_path.discard(module)
        done.add(module)
        return None

    for module in sorted(GRAPH):
        if module not in done and (found := visit(module)):
            return found
    return None


def test_no_import_circles() -> None:
    circle = _cycle()
    assert circle is None, "import circle: " + " -> ".join(circle or [])


@pytest.mark.parametrize("rule", ["storage", "scheduler"])
def test_the_lower_rooms_import_no_slack(rule: str) -> None:
    assert _edges(rule, "slack_sdk", "slack_bolt") == []
