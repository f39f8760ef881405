"""A PostgreSQL restart under a running bot: the server of the test's own is stopped for ten
seconds while two `coachbot worker` processes dispatch 200 nudges and an LMS and Slack keep
posting to `coachbot run --http`. Every DM goes out exactly once, the webhook answers 503
with Retry-After while the database is down (and so do Slack's events, which Slack then
sends again), and everything recovers without restarting a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select
from support import PgCluster, eventually, free_port, throwaway_cluster, zone_in_window_now

from bot.sim.driver import SlackDriver
from bot.sim.fakeslack import FakeSlack
from bot.slack.ids import NUDGE_EVENT_TYPE
from scheduler.nudges import nudge_key
from scheduler.planning import Rules
from storage.db import Database
from storage.models import Enrollment, Nudge, Person, Training

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
NUDGES = 200
OUTAGE_SECONDS = 10
SIGNING_SECRET = "restart-signing-secret"
TOKEN = "restart-webhook-token"
LEARNERS = 40  # the LMS stream enrolls these, again and again, in new trainings
WATCHED = 10  # people whose Slack status keeps changing (user_change events)


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    yield from throwaway_cluster()


def seed(db: Database, due: list[datetime], tz: str) -> None:
    """One goal invite per person, due at `due[i]`, inserted in bulk."""
    now = datetime.now(UTC)
    tables = {name: sa.table(name, sa.column("id")) for name in ("person", "enrollment")}
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Training.__table__).values(id=1, name="Restart", created_at=now))  # type: ignore[attr-defined]
        people = [
            {
                "id": i + 1,
                "slack_id": f"UN{i:03d}",
                "tz": tz,
                "active": True,
                "share_goals": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(len(due))
        ]
        conn.execute(sa.insert(Person.__table__), people)  # type: ignore[attr-defined]
        enrollments = [
            {
                "id": i + 1,
                "learner_id": i + 1,
                "training_id": 1,
                "starts_on": date.today() + timedelta(days=90),
                "ends_on": date.today() + timedelta(days=90),
                "status": "enrolled",
                "source": "csv",
                "generation": 0,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(len(due))
        ]
        conn.execute(sa.insert(Enrollment.__table__), enrollments)  # type: ignore[attr-defined]
        nudges = [
            {
                "enrollment_id": i + 1,
                "kind": "goal_invite",
                "recipient_id": i + 1,
                "due_at": at,
                "status": "pending",
                "attempts": 0,
                "deliveries": 0,
                "ooo_deferrals": 0,
                "idempotency_key": nudge_key(i + 1, 0, "goal_invite"),
                "created_at": now,
                "updated_at": now,
            }
            for i, at in enumerate(due)
        ]
        conn.execute(sa.insert(Nudge.__table__), nudges)  # type: ignore[attr-defined]
        for name in tables:
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 100000)")
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('training', 'id'), 100000)")


@dataclass
class Stream:
    """Posts one request after another until stopped, each retried while it gets a 5xx (as an
    LMS does after Retry-After, and as Slack does with an event it got no 2xx for)."""

    name: str
    send: Any  # (i) -> (status, headers)
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[tuple[int, int, str | None]] = field(default_factory=list)  # i, status, RA
    done: list[int] = field(default_factory=list)  # i whose final answer was a 2xx
    errors: list[BaseException] = field(default_factory=list)

    def run(self) -> None:
        i = 0
        try:
            while not self.stop.is_set():
                for _attempt in range(120):
                    status, headers = self.send(i)
                    self.answers.append((i, status, headers.get("Retry-After")))
                    if status < 500:
                        break
                    time.sleep(0.5)  # Retry-After says 5; the test has no time to lose
                if status < 300:
                    self.done.append(i)
                i += 1
                time.sleep(0.1)
        except BaseException as exc:
            self.errors.append(exc)

    def statuses(self) -> Counter[int]:
        return Counter(status for _, status, _ in self.answers)


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{url} exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


def test_a_database_restart_mid_dispatch_loses_nothing_and_needs_no_restart(
    cluster: PgCluster, tmp_path: Path
) -> None:
    url = cluster.create_database("coachbot")
    db = Database(url)
    db.upgrade()
    rules = Rules(
        delivery_time=dtime(0, 0), delivery_end=dtime(23, 59), delivery_days=frozenset(range(7))
    )
    tz = zone_in_window_now(rules, minutes=5)
    fake = FakeSlack(latency=0.02).start()  # some DMs are in flight when the server stops
    for i in range(NUDGES):
        fake.add_user(f"UN{i:03d}", tz=tz)
    for i in range(LEARNERS):
        fake.add_user(f"US{i:03d}", email=f"s{i}@example.org", real_name=f"S{i}", tz=tz)
    for i in range(WATCHED):
        fake.add_user(f"UE{i:03d}", email=f"e{i}@example.org", real_name=f"E{i}", tz=tz)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "ENROLLMENT_WEBHOOK_TOKEN": TOKEN,
        "DISPATCH_INTERVAL_SECONDS": "1",
        "DELIVERY_TIME": "00:00",
        "DELIVERY_END": "23:59",
        "DELIVERY_DAYS": "mon-sun",
        "DEFAULT_TIMEZONE": tz,
    }
    env.pop("SLACK_APP_TOKEN", None)

    logs: list[Path] = []

    def start(*args: str) -> subprocess.Popen[str]:
        # To files: a pipe nobody reads fills up with the outage's log lines, and then the
        # process blocks on its next one.
        logs.append(tmp_path / f"{len(logs)}-{args[0]}.log")
        with logs[-1].open("w") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", *args],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )

    # 200 goal invites falling due over 16 seconds, from once the processes are up: a
    # steady flow to dispatch. Seeded first, before the workers' directory sync.
    first = datetime.now(UTC) + timedelta(seconds=5)
    seed(db, [first + timedelta(seconds=0.08 * i) for i in range(NUDGES)], tz)
    web = start("run", "--http", "--no-scheduler", "--port", str(port))
    workers = [start("worker"), start("worker")]
    processes = [web, *workers]
    base = f"http://127.0.0.1:{port}"
    streams: list[Stream] = []
    try:
        wait_healthy(base, web)
        slack = SlackDriver(base, SIGNING_SECRET, fake, webhook_token=TOKEN)
        lms = SlackDriver(base, SIGNING_SECRET, fake, webhook_token=TOKEN)
        starts = str(date.today() + timedelta(days=60))  # nothing of theirs is due today

        def enroll(i: int) -> tuple[int, dict[str, str]]:
            body = {
                "external_id": f"stream-{i}",
                "learner_email": f"s{i % LEARNERS}@example.org",
                "training": f"Stream {i}",
                "starts_on": starts,
                "ends_on": starts,
            }
            answer = lms.webhook(body)
            return answer.status, answer.headers

        def status_change(i: int) -> tuple[int, dict[str, str]]:
            who = f"UE{i % WATCHED:03d}"
            fake.set_status(who, f"Focus {i}", ":headphones:")
            user = json.loads(json.dumps(fake.users[who]))
            answer = slack.event({"type": "user_change", "user": user}, event_id=f"EvS{i}")
            return answer.status, answer.headers

        streams = [Stream("webhook", enroll), Stream("events", status_change)]
        threads = [threading.Thread(target=s.run, daemon=True) for s in streams]
        for thread in threads:
            thread.start()

        fake.wait_for_calls("chat.postMessage", 50, timeout=30)

        cluster.stop()  # fast shutdown: every session is cut, new ones are refused
        posted_before = fake.count("chat.postMessage")
        time.sleep(OUTAGE_SECONDS)
        down = {s.name: s.statuses() for s in streams}
        cluster.start()

        def all_sent() -> bool:
            with db.session() as s:
                rows = s.exec(select(Nudge.status).where(Nudge.enrollment_id <= NUDGES)).all()
            return len(rows) == NUDGES and set(rows) == {"sent"}

        eventually(all_sent, timeout=90)
        time.sleep(2)  # two more ticks of each worker: nothing else may go out
        for stream in streams:
            stream.stop.set()
        for thread in threads:
            thread.join(timeout=60)

        # Every DM exactly once, some before the outage and the rest after it.
        assert 0 < posted_before < NUDGES
        posted = Counter(
            m["metadata"]["event_payload"]["nudge_id"]
            for m in list(fake.messages)
            if (m.get("metadata") or {}).get("event_type") == NUDGE_EVENT_TYPE
        )
        assert sorted(posted.values()) == [1] * NUDGES, "each nudge posted exactly once"
        assert fake.count("chat.postMessage") == NUDGES
        with db.session() as s:
            seeded = s.exec(select(Nudge).where(Nudge.enrollment_id <= NUDGES)).all()
            assert all(n.ts and n.channel for n in seeded)
            # The LMS's enrollments planned nudges for their trainings, none due today.
            later = s.exec(select(Nudge).where(Nudge.enrollment_id > NUDGES)).all()
            assert later and {n.status for n in later} == {"pending"}

        # While it was down: 503 with Retry-After to the LMS and to Slack, never a 500.
        for stream in streams:
            assert not stream.errors, stream.errors
            assert down[stream.name][503] > 0, (stream.name, down[stream.name])
            assert 500 not in stream.statuses(), (stream.name, stream.statuses())
            assert all(ra for _, status, ra in stream.answers if status == 503)
            assert len(stream.done) > 5 and stream.done == sorted(set(stream.done))
        webhook, events = streams
        with db.session() as s:
            stored = Counter(
                e.external_id
                for e in s.exec(select(Enrollment)).all()
                if (e.external_id or "").startswith("stream-")
            )
            statuses = {
                p.slack_id: p.status_text
                for p in s.exec(select(Person)).all()
                if (p.slack_id or "").startswith("UE")
            }
        # Each enrollment stored exactly once (a retry of one that did get in is a duplicate).
        assert stored == Counter({f"stream-{i}": 1 for i in webhook.done})
        # Each person's status is the last one Slack sent; none lost while it was down.
        last = {f"UE{i % WATCHED:03d}": f"Focus {i}" for i in sorted(events.done)}
        assert {k: statuses.get(k) for k in last} == last

        # The same processes, still serving: nothing was restarted.
        assert [p.poll() for p in processes] == [None, None, None]
        with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:
            assert answer.status == 200
    finally:
        for stream in streams:
            stream.stop.set()
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        fake.stop()
        db.dispose()
    outputs = [log.read_text()[-3000:] for log in logs]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
