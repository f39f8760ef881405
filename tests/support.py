"""Test support: databases, the settable clock, the real app served over HTTP and driven as
Slack drives it (bot.sim.driver), and the story most tests start from."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from bot.settings import Settings
from bot.sim.driver import SlackDriver, buttons, radio_value, text_value
from bot.sim.fakeslack import FakeSlack
from bot.slack.app import create_app
from bot.slack.client import make_client
from bot.web import create_web, make_server
from storage.db import Database, alembic_config

PG_ADMIN_URL = os.environ.get("COACHBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("COACHBOT_REQUIRE_POSTGRES") == "1"
SIGNING_SECRET = "test-signing-secret"
WEBHOOK_TOKEN = "test-webhook-token"
LEAD = "ULEAD0001"


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).strip()[:120]}"


PG_PROBLEM = _pg_reachable()


def throwaway_pg() -> Iterator[str]:
    if PG_PROBLEM:
        if REQUIRE_PG:
            pytest.fail(f"{PG_PROBLEM} (COACHBOT_REQUIRE_POSTGRES=1 makes it mandatory)")
        pytest.skip(PG_PROBLEM)
    name = f"coachbot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_service_user() -> tuple[list[str], str | None]:
    """How to run PostgreSQL's and PgBouncer's binaries: both refuse to run as root, so as
    root (CI) they run as the `postgres` OS user; otherwise as whoever runs the tests."""
    if os.geteuid() != 0:
        return [], None
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--"], "postgres"


def _service_folder(prefix: str) -> Path:
    """A temporary folder the service user owns (pytest's tmp_path is root's, mode 700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    _, user = _as_service_user()
    if user is not None:
        shutil.chown(folder, user, user)
    return folder


def pg_bindir() -> Path | None:
    """Where initdb and pg_ctl are: COACHBOT_PG_BINDIR, PATH (Debian's /usr/local/bin links
    on this machine), or the newest /usr/lib/postgresql/*/bin."""
    candidates = [os.environ.get("COACHBOT_PG_BINDIR", "")]
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name), reverse=True
    )
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


class PgCluster:
    """A PostgreSQL server of the tests' own: initdb in a temporary folder and pg_ctl on a
    free loopback port, so a test may stop it under the bot and start it again."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        if bindir is None:
            _missing("PostgreSQL's initdb and pg_ctl were not found (set COACHBOT_PG_BINDIR)")
        assert bindir is not None
        self.bindir = bindir
        self.prefix, user = _as_service_user()
        if user is not None and shutil.which(self.prefix[0]) is None:
            _missing("running as root, but runuser is missing to run PostgreSQL as postgres")
        self.root = _service_folder("coachbot-pg-")
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [*self.prefix, str(self.bindir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        log = str(self.root / "postgres.log")
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: every session is cut, as a restart does)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def create_database(self, name: str | None = None) -> str:
        name = name or f"coachbot_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _missing(reason: str) -> None:
    if REQUIRE_PG:
        pytest.fail(f"{reason} (COACHBOT_REQUIRE_POSTGRES=1 makes it mandatory)")
    pytest.skip(reason)


def throwaway_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


REQUIRE_PGBOUNCER = os.environ.get("COACHBOT_REQUIRE_PGBOUNCER") == "1"


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )


class PgBouncer:
    """PgBouncer on a free loopback port, pooling transactions in front of the PostgreSQL
    server at `backend_url` (every database on it, under their own names)."""

    def __init__(self, backend_url: str) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            reason = "pgbouncer is not installed (apt-get install pgbouncer)"
            if REQUIRE_PGBOUNCER:
                pytest.fail(f"{reason}; COACHBOT_REQUIRE_PGBOUNCER=1 makes it mandatory")
            pytest.skip(reason)
        assert binary is not None
        backend = urlsplit(backend_url)
        self.user = backend.username or "postgres"
        self.port = free_port()
        self.root = _service_folder("coachbot-pgbouncer-")
        server = f"host={backend.hostname or '127.0.0.1'} port={backend.port or 5432}"
        server += f" user={self.user}"
        if backend.password:
            server += f" password={backend.password}"
        config = self.root / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = {server}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'users.txt'}\n"
            "pool_mode = transaction\n"
            "default_pool_size = 4\n"
            "max_client_conn = 500\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
            f"pidfile = {self.root / 'pgbouncer.pid'}\n"
        )
        (self.root / "users.txt").write_text(f'"{self.user}" ""\n')
        prefix, user = _as_service_user()
        if user is not None:
            for path in self.root.iterdir():
                shutil.chown(path, user, user)
        self.process = subprocess.Popen(
            [*prefix, binary, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not start: {self._log()}") from None
                time.sleep(0.05)

    def _log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "pgbouncer.log").read_text()[-2000:]
        return ""

    def url_for(self, database_url: str) -> str:
        """`database_url` (a database on the backend) reached through PgBouncer, with the
        option Coachbot's README says to set: psycopg prepares no statements."""
        parts = urlsplit(database_url)
        netloc = f"{self.user}@127.0.0.1:{self.port}"
        return parts._replace(netloc=netloc, query="prepare_threshold=none").geturl()

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def _migrating(db: Database) -> Iterator[sa.Connection]:
    """A connection to migrate on, as `storage.db.upgrade` makes one (foreign keys off on
    SQLite while tables are rebuilt)."""
    with db.engine.connect() as conn:
        sqlite = db.engine.dialect.name == "sqlite"
        if sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def migrate(db: Database, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) `db` to `revision`, as `coachbot db upgrade` does."""
    with _migrating(db) as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def count_rows(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


class Clock:
    """A settable clock, injected wherever logic depends on now."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


def make_settings(fake: FakeSlack, db_url: str, **overrides: Any) -> Settings:
    base = Settings(
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.api_url,
        database_url=db_url,
        enrollment_webhook_token=WEBHOOK_TOKEN,
        ld_leads=frozenset({LEAD}),
        default_timezone="UTC",
        # Tests of the other rules pin a calendar without public holidays (Thanksgiving falls
        # in their weeks); the holiday tests ask for HOLIDAYS=auto or country codes.
        holidays="off",
    )
    return replace(base, **overrides)


class Bot(SlackDriver):
    """The real app behind a real HTTP server, driven as Slack drives it (bot.sim.driver),
    with what a test reaches for besides: its settings, database, services and clock."""

    fake: FakeSlack
    web: Any

    def __init__(
        self,
        url: str,
        settings: Settings,
        db: Database,
        fake: FakeSlack,
        services: Any,
        clock: Clock,
    ) -> None:
        super().__init__(
            url,
            settings.slack_signing_secret,
            fake,
            webhook_token=settings.enrollment_webhook_token,
            clock=clock,
        )
        self.settings, self.db, self.services, self.clock = settings, db, services, clock


def start_bot(
    fake: FakeSlack, db: Database, clock: Clock, db_url: str, **overrides: Any
) -> tuple[Bot, Any]:
    settings = make_settings(fake, db_url, **overrides)
    client = make_client(settings.slack_bot_token, settings.slack_api_url, rate_limit_retries=1)
    app, services = create_app(settings, db, client, clock=clock)
    web = create_web(settings, app, services, http=True)
    server = make_server(web, port=0)
    port = server.effective_port
    bot = Bot(f"http://127.0.0.1:{port}", settings, db, fake, services, clock)
    bot.web = web  # its `sources`: the learning systems' inbox, feeds and statements
    return bot, Served(server, app)


class Served:
    """The bot's server; closing it also waits for the work listeners do after their ack
    (a summary still being posted), so none of it outlives the test that started it."""

    def __init__(self, server: Any, app: Any) -> None:
        self.server, self.app = server, app

    def close(self) -> None:
        self.server.close()
        self.app.listener_runner.listener_executor.shutdown(wait=True)


def dispatch_due(bot: Bot) -> Any:
    """One dispatcher tick on the bot's clock, as `coachbot worker` would run it."""
    from bot.runtime import make_dispatcher

    dispatcher = make_dispatcher(
        bot.settings, bot.db, bot.services.client, bot.services.catalogues, clock=bot.clock
    )
    return dispatcher.tick()


def zone_in_window_now(rules: Any, *, minutes: int = 5) -> str:
    """A time zone where the real clock is inside `rules`' delivery window now and for the
    next `minutes`: for tests that run real processes on the real clock."""
    from zoneinfo import ZoneInfo

    from scheduler.planning import in_window

    now = datetime.now(UTC)
    return next(
        name
        for name in ("UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Pacific/Auckland")
        if in_window(now, ZoneInfo(name), rules)
        and in_window(now + timedelta(minutes=minutes), ZoneInfo(name), rules)
    )


def eventually(check: Any, timeout: float = 15.0) -> Any:
    """Wait for work a listener does after its ack; returns the first truthy result."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "the expected effect never happened"
            return result
        time.sleep(0.02)


# The story most tests start from: Ada (learner) and her manager Grace, both in UTC, and Eve,
# who has nothing to do with them; Ada is enrolled by the LMS in a training on 8-9 Dec 2026.
ADA_ENROLLMENT = {
    "external_id": "lms-1",
    "learner_email": "ada@example.org",
    "manager_email": "grace@example.org",
    "training": "Coaching Skills",
    "starts_on": "2026-12-08",
    "ends_on": "2026-12-09",
}


def ada_and_grace(bot: Bot, **changes: Any) -> dict[str, Any]:
    """Add Ada, Grace and Eve to the fake Slack and enroll Ada; returns the webhook body."""
    for uid, name in (("UADA", "Ada"), ("UGRACE", "Grace"), ("UEVE", "Eve")):
        bot.fake.add_user(uid, email=f"{name.lower()}@example.org", real_name=name, tz="UTC")
    body = {**ADA_ENROLLMENT, **changes}
    response = bot.webhook(body)
    assert response.status == 201, response.text
    return body


def goal_talk_and_note(bot: Bot, *, goal: str, what: str, note: str) -> None:
    """After `ada_and_grace`: Ada shares `goal`; Grace logs `what` and replies `note`."""
    from bot.slack.ids import Action, Block

    bot.command("/goal", goal, user="UADA")
    bot.fake.wait_for_responses()
    bot.clock.set(datetime(2026, 12, 3, 9, 31, tzinfo=UTC))
    dispatch_due(bot)
    dm = next(m for m in bot.fake.dms_to("UGRACE") if Action.LOG_CONVERSATION in buttons(m))
    bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE")
    bot.submit(
        bot.opened_view(),
        {Block.WHAT: text_value(what), Block.ORG_IMPORTANCE: radio_value("3")},
        user="UGRACE",
    )
    bot.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": dm["channel"],
            "user": "UGRACE",
            "text": note,
            "ts": "1765000000.000500",
            "thread_ts": dm["ts"],
        }
    )
    bot.fake.wait_for_calls("reactions.add")
