"""The PostgreSQL engine's options: behind PgBouncer in transaction pooling each transaction
may run on another server connection, so psycopg must not prepare statements on its own
(`?prepare_threshold=none`); and a connection attempt gives up in seconds."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from bot.settings import ConfigError, load_settings
from storage.db import Database
from storage.urls import prepare_threshold


def _hammer(db: Database, threads: int = 12, rounds: int = 40) -> list[str]:
    """Many short transactions running the same statements, more at once than PgBouncer
    has server connections: what the dispatcher and the listeners do all day."""
    errors: list[str] = []

    def work() -> None:
        for i in range(rounds):
            try:
                with db.engine.begin() as conn:
                    conn.execute(sa.text("SELECT :x + 1"), {"x": i}).scalar_one()
            except sa.exc.DBAPIError as exc:
                errors.append(f"{type(exc.orig).__name__}: {str(exc.orig).splitlines()[0]}")
                return

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return errors


@pytest.mark.postgres
def test_behind_pgbouncer_statements_are_not_prepared_and_transactions_share_servers(
    bounced_pg_url: str,
) -> None:
    db = Database(bounced_pg_url)
    try:
        with db.engine.connect() as conn:
            assert conn.connection.dbapi_connection.prepare_threshold is None  # type: ignore[union-attr]
        assert _hammer(db) == []
    finally:
        db.dispose()
    # Without the option, psycopg prepares each statement after five runs on a connection,
    # and PgBouncer 1.18 hands the next transaction another server (or that name to another
    # client): "prepared statement _pg3_0 already exists", or "does not exist".
    plain = Database(bounced_pg_url.split("?", 1)[0])
    try:
        errors = _hammer(plain)
    finally:
        plain.dispose()
    assert errors, "expected prepared statements to collide behind PgBouncer without the option"
    assert all("prepared statement" in e for e in errors), errors


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("none", None), ("None", None), ("off", None), ("5", 5)]
)
def test_prepare_threshold_reads_never_or_a_number(value: str, expected: Any) -> None:
    assert prepare_threshold(value) == expected


def test_a_bad_prepare_threshold_is_named_with_what_to_set() -> None:
    environ = {"DATABASE_URL": "postgresql://u@h:6432/coachbot?prepare_threshold=never-ever"}
    with pytest.raises(ConfigError, match=r"DATABASE_URL: prepare_threshold=.*none"):
        load_settings(environ, env_file=None)


@pytest.mark.postgres
def test_a_server_that_does_not_answer_fails_a_connection_in_seconds(pg_url: str) -> None:
    """libpq waits for ever by default; a failover that drops packets must not hold a
    request (or a Slack event past its 3 seconds) for minutes."""
    db = Database(pg_url)
    try:
        with db.engine.connect() as conn:
            raw: Any = conn.connection.dbapi_connection
            assert raw.info.get_parameters()["connect_timeout"] == "5"
    finally:
        db.dispose()
    with_own = Database(pg_url + "?connect_timeout=2")
    try:
        with with_own.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw.info.get_parameters()["connect_timeout"] == "2"  # the URL's own wins
    finally:
        with_own.dispose()
