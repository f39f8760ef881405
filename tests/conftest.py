"""Shared fixtures: real databases (a SQLite file and a throwaway PostgreSQL database), the
fake Slack Web API on an ephemeral port, and the real app served over HTTP by waitress."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from support import PG_ADMIN_URL, PG_PROBLEM, Bot, Clock, PgBouncer, start_bot, throwaway_pg

from bot.sim.fakeslack import FakeSlack
from storage.db import Database


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh database URL: a real SQLite file, then a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coachbot.db'}"
    else:
        yield from throwaway_pg()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from throwaway_pg()


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    """PgBouncer in transaction pooling in front of the tests' PostgreSQL server, with fewer
    server connections than the bot opens, as in production; started once, when first used."""
    for _ in throwaway_pg():  # skips (or fails under CI) when PostgreSQL is unreachable
        pass
    bouncer = PgBouncer(PG_ADMIN_URL)
    yield bouncer
    bouncer.close()


@pytest.fixture
def bounced_pg_url(pgbouncer: PgBouncer) -> Iterator[str]:
    """A throwaway PostgreSQL database reached through PgBouncer, as README says to set it."""
    for url in throwaway_pg():
        yield pgbouncer.url_for(url)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    # Monday 2026-11-23, 10:00 UTC: inside the default window in UTC and Europe/London.
    return Clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))


@pytest.fixture
def bot(fake: FakeSlack, db: Database, clock: Clock, db_url: str) -> Iterator[Bot]:
    instance, server = start_bot(fake, db, clock, db_url)
    yield instance
    server.close()


def pytest_report_header() -> str:
    return f"postgresql: {PG_PROBLEM or 'reachable, storage tests run on it too'}"
