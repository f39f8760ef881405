"""What every measurement shares: throwaway databases, bulk seeding, the fake Slack in a
process of its own, and the result rows of the table."""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from bot.settings import Settings
from storage.db import Database

PG_ADMIN_URL = os.environ.get("COACHBOT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "bench-signing-secret"
WEBHOOK_TOKEN = "bench-webhook-token"


@dataclass
class Row:
    measurement: str
    database: str
    result: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("yes" if self.met else "NO")


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def database(kind: str) -> Iterator[Database]:
    """A fresh, migrated database of `kind` ("sqlite" or "postgres"), dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="coachbot-bench-") as tmp:
            db = Database(f"sqlite:///{tmp}/bench.db")
            db.upgrade()
            try:
                yield db
            finally:
                db.dispose()
        return
    name = f"coachbot_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        db.upgrade()
        yield db
    finally:
        db.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(db: Database, api_url: str, **overrides: Any) -> Settings:
    """Every day, all day, UTC: the benchmark's nudges are always inside the window."""
    base = Settings(
        slack_bot_token="xoxb-bench-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api_url,
        database_url=db.url,
        enrollment_webhook_token=WEBHOOK_TOKEN,
        default_timezone="UTC",
        delivery_time=clock_time(0, 0),
        delivery_end=clock_time(23, 59),
        delivery_days=frozenset(range(7)),
        ld_leads=frozenset({"ULEAD"}),
    )
    return replace(base, **overrides)


def slack_id(i: int) -> str:
    return f"UB{i:07d}"


def email(i: int) -> str:
    return f"p{i}@bench.example.org"


def seed_people(db: Database, n: int, *, per_manager: int = 8, tz: str | None = None) -> None:
    """`n` people with Slack ids; person i is managed by person (i // per_manager) (none for 0).
    Their zones go round four continents, unless `tz` puts everyone in one."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": i + 1,
            "slack_id": slack_id(i),
            "email": email(i),
            "name": f"Person {i}",
            "tz": tz or ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")[i % 4],
            "manager_id": (i // per_manager) + 1 if i else None,
            "active": True,
            "share_goals": True,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    insert_rows(db, "person", rows)


def insert_rows(db: Database, table: str, rows: list[dict[str, Any]], chunk: int = 20_000) -> None:
    """Seeding, not what is measured: Core executemany (insertmanyvalues), or COPY on PG."""
    if not rows:
        return
    meta = sa.MetaData()
    tbl = sa.Table(table, meta, autoload_with=db.engine)
    if db.engine.dialect.name == "postgresql":
        columns = list(rows[0])
        with db.engine.begin() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row([row[c] for c in columns])
            if "id" in columns:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        return
    with db.engine.begin() as conn:
        for i in range(0, len(rows), chunk):
            conn.execute(tbl.insert(), rows[i : i + chunk])


def analyze(db: Database) -> None:
    """Planner statistics after bulk seeding. On PostgreSQL also a VACUUM, as autovacuum
    would soon run on a live database: without it the visibility map of freshly written
    tables is empty and no index-only scan can be used."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
        return
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Any, repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- the fake Slack, in a process of its own --------------------------------------------------


def _serve_fake(conn: Any, latency: float, users: int, post_limits: Any = None) -> None:
    from bot.sim.fakeslack import FakeSlack
    from bot.slack.ids import NUDGE_EVENT_TYPE

    fake = FakeSlack(latency=latency, post_limits=post_limits)
    for i in range(users):
        fake.add_user(slack_id(i), email=email(i), tz="UTC")
    fake.add_user("ULEAD", email="lead@bench.example.org", tz="UTC")
    fake.start()
    conn.send(fake.api_url)
    while True:
        command = conn.recv()
        if command == "counts":
            with fake._lock:
                conn.send({m: len(c) for m, c in fake._calls_by_method.items()})
        elif command == "nudges":
            # How many nudge DMs Slack holds, and for how many nudges; the 429s it answered.
            with fake._lock:
                ids = [
                    m["metadata"]["event_payload"]["nudge_id"]
                    for m in fake.messages
                    if (m.get("metadata") or {}).get("event_type") == NUDGE_EVENT_TYPE
                ]
                conn.send((len(ids), len(set(ids)), fake.rate_limited))
        elif command == "reset":
            fake.reset_calls()
            with fake._lock:
                fake.messages.clear()
                fake._by_channel.clear()
                fake._by_key.clear()
                fake._replies.clear()
            conn.send(True)
        else:
            fake.stop()
            conn.send(True)
            return


class FakeSlackProcess:
    """bot.sim.fakeslack.FakeSlack served by another process, so its ~1 ms of Python per call
    does not compete with the code being measured for this process's GIL."""

    def __init__(self, latency: float = 0.0, users: int = 0, post_limits: Any = None) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve_fake, args=(child, latency, users, post_limits), daemon=True
        )
        self._proc.start()
        self.api_url: str = self._conn.recv()
        # Where the app's answers to commands and clicks go (response_url) in that workspace.
        self.url = self.api_url.removesuffix("/api/")

    def counts(self) -> dict[str, int]:
        self._conn.send("counts")
        return dict(self._conn.recv())

    def nudges(self) -> tuple[int, int, int]:
        """(nudge DMs posted, distinct nudges among them, posts Slack answered 429)."""
        self._conn.send("nudges")
        total, distinct, limited = self._conn.recv()
        return int(total), int(distinct), int(limited)

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def close(self) -> None:
        try:
            self._conn.send("stop")
            self._conn.recv()
        except (OSError, EOFError):
            pass
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()

    def __enter__(self) -> FakeSlackProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
