"""Engines and sessions for SQLite and PostgreSQL, and applying migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from storage.urls import PREPARE_THRESHOLD, prepare_threshold

log = logging.getLogger(__name__)

# The database could not be reached or did not answer in time (refused, terminated, locked
# past the busy timeout, the pool's TimeoutError): a passing fault, nothing was stored, and
# the same work may simply be tried again, unlike a constraint or a bug.
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_SECONDS = 5
BULK_CACHE_MB = 64


def normalize_url(url: str) -> str:
    """`postgresql://` means the psycopg 3 driver that ships with the package."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if PREPARE_THRESHOLD in parsed.query:
        # SQLAlchemy would hand psycopg the query's string; psycopg wants an int or None.
        value = parsed.query[PREPARE_THRESHOLD]
        value = value[-1] if isinstance(value, tuple) else value
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args["prepare_threshold"] = prepare_threshold(value)
        kwargs["connect_args"] = connect_args
        url = parsed.difference_update_query([PREPARE_THRESHOLD]).render_as_string(
            hide_password=False
        )
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    if "connect_timeout" not in make_url(url).query:
        # libpq waits for ever by default: a server that drops packets (a failover, a
        # partition) would hold a request until TCP gives up, minutes later. Refused
        # connections (a restart) fail at once either way.
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", PG_CONNECT_TIMEOUT_SECONDS)
        kwargs["connect_args"] = connect_args
    return sa.create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling never emits BEGIN IMMEDIATE; take it over so the
    # dispatcher's claim can lock the database for writing from its first statement.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # IMMEDIATE by default: in WAL mode a deferred transaction that read first and then
        # writes fails at once with "database is locked" when another writer got in between,
        # busy timeout or not. Taking the write lock up front makes writers queue instead.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """The engine and a way to open one session per unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(url, **engine_kwargs)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def bulk_session(self) -> Iterator[Session]:
        """`session()` for writing many rows at once.

        On SQLite its connection gets a page cache of BULK_CACHE_MB while the block runs:
        with the default 2 MB, inserting into a large table's indexes rereads their pages
        from the file for nearly every row (the import of 100,000 enrollments: ~20 % faster).
        Set back before the connection returns to the pool, so no other work keeps it.
        """
        with self.session() as session:
            if not is_sqlite(self.engine):
                yield session
                return
            conn = session.connection()
            before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
            conn.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_MB * 1024}")
            try:
                yield session
            finally:
                conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")

    def upgrade(self) -> None:
        upgrade(self.engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Apply every pending migration; safe to run from several processes at once on PostgreSQL."""
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a column by rebuilding its table (copy, drop, rename), and with
            # foreign keys on, dropping the old table deletes every row that references it
            # (ON DELETE CASCADE: an enrollment's nudges). The pragma only takes effect
            # outside a transaction, so it is set on the driver's connection before BEGIN.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                if not sqlite:
                    # Several replicas starting together would otherwise race to create tables.
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(746574)")
                before = MigrationContext.configure(conn).get_current_revision()
                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                after = MigrationContext.configure(conn).get_current_revision()
                if sqlite and after != before:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"a migration left a dangling reference: {broken}")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    # The console shows Alembic's own INFO lines only at LOG_LEVEL=DEBUG; this one always.
    if after != before:
        log.info("db.upgraded from=%s to=%s", before or "empty", after)
