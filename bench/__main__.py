"""`python -m bench` (`make bench`): Coachbot at the scale of a 50,000-person organisation.

Prints one table: measurement, database, result, target, met?. `--quick` runs small sizes
as a smoke test; `--markdown FILE` also writes the table, machine and query plans there.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sqlite3
import sys
import time
from pathlib import Path

from bench import cases
from bench.common import PG_ADMIN_URL, Row, pg_available


def machine() -> list[str]:
    lines = [
        f"cores (nproc): {os.cpu_count()}",
        f"python: {platform.python_version()} ({platform.machine()}, {platform.system()})",
        f"sqlite: {sqlite3.sqlite_version}",
    ]
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        lines.append(f"memory: {kb / 1024 / 1024:.1f} GiB")
    except OSError:
        pass
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            lines.append(f"postgresql: {version[0] if version else '?'}")
    except Exception:
        lines.append("postgresql: not reachable (its rows are skipped)")
    return lines


def table(rows: list[Row]) -> str:
    head = ("measurement", "database", "result", "target", "met?")
    data = [(r.measurement, r.database, r.result, r.target, r.verdict) for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *data]) for i in range(5)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(d, widths, strict=True)) for d in data]
    return "\n".join(out)


def markdown(rows: list[Row]) -> str:
    out = ["| measurement | database | result | target | met? |", "|---|---|---|---|---|"]
    out += [
        f"| {r.measurement.strip()} | {r.database} | {r.result} | {r.target} | {r.verdict} |"
        for r in rows
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--markdown", help="also write the table and query plans to this file")
    parser.add_argument(
        "--only",
        choices=("big", "dispatch", "bundles", "apscheduler", "idle", "rush"),
        action="append",
        help="run only these parts (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("scheduler").setLevel(logging.ERROR)
    logging.getLogger("bot").setLevel(logging.ERROR)
    sizes = cases.Sizes.quick() if args.quick else cases.Sizes.full()
    kinds = ["sqlite"] + (["postgres"] if pg_available() else [])
    parts = set(args.only or ("big", "dispatch", "bundles", "apscheduler", "idle", "rush"))
    rows: list[Row] = []
    started = time.perf_counter()

    def step(name: str, fn, *a) -> None:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        rows.extend(fn(*a))
        print(f"bench: {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    for kind in kinds:
        if "big" in parts:
            step(f"import, tick, summary, acks, memory on {kind}", cases.big_scenario, kind, sizes)
        if "idle" in parts:
            step(f"idle memory on {kind}", lambda k: [cases.idle_rss(k)], kind)
        if "dispatch" in parts:
            for latency in (0, 20):
                step(
                    f"dispatch at {latency} ms on {kind}", cases.dispatch_rows, kind, sizes, latency
                )
        if "bundles" in parts:
            step(f"the day's message on {kind}", cases.bundle_rows, kind, sizes)
        if "apscheduler" in parts:
            step(f"APScheduler job store on {kind}", cases.apscheduler_rows, kind, sizes)
    if "rush" in parts:
        # Once, on the database a large organisation runs on: it measures Slack's limits
        # and the dispatcher's answer to them, not the engine.
        rush_on = kinds[-1]
        step(f"the Monday rush on {rush_on}", cases.monday_rush_rows, rush_on, sizes)
    order = {"SQLite": 0, "PostgreSQL": 1}
    rows.sort(key=lambda r: order.get(r.database, 2))
    elapsed = time.perf_counter() - started
    print()
    print("\n".join(machine()))
    print(f"sizes: {sizes}; whole run {elapsed:.0f} s")
    print()
    print(table(rows))
    if args.markdown:
        text = [
            "## Machine",
            "",
            *[f"- {line}" for line in machine()],
            f"- sizes: `{sizes}`; whole run {elapsed:.0f} s",
            "",
            "## Table",
            "",
            markdown(rows),
            "",
            "## Query plans",
            "",
            *cases.NOTES,
        ]
        Path(args.markdown).write_text("\n".join(text) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
