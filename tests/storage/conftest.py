"""The storage tests run on every engine Coachbot supports: SQLite, PostgreSQL, and
PostgreSQL behind PgBouncer in transaction pooling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support import throwaway_pg


@pytest.fixture(params=["sqlite", "postgres", "pgbouncer"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coachbot.db'}"
    elif request.param == "postgres":
        yield from throwaway_pg()
    else:
        yield request.getfixturevalue("bounced_pg_url")
