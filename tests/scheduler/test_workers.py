"""Several dispatchers on one PostgreSQL database share the work: 1,000 due nudges, each
delivered exactly once, by two threads and by two `coachbot dispatch` processes, straight to
PostgreSQL and through PgBouncer in transaction pooling."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from nudge_world import World
from support import Clock, throwaway_pg

from bot.sim.fakeslack import FakeSlack
from scheduler.nudges import nudge_key
from scheduler.planning import Rules, in_window
from storage.db import Database
from storage.models import Enrollment, Nudge, Person, Training

N = 1000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["postgres", "pgbouncer"])
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """PostgreSQL straight, then behind PgBouncer (transaction pooling)."""
    if request.param == "pgbouncer":
        yield request.getfixturevalue("bounced_pg_url")
    else:
        yield from throwaway_pg()


def seed(db: Database, fake: FakeSlack, due_at: datetime, tz: str, managers: int = 0) -> None:
    """N learners, each with one goal invite due now; inserted in bulk to keep this quick.
    With `managers`: the learners' pre-training prompts instead, spread over that many
    managers (people N+1, N+2...)."""
    for i in range(N + managers):
        fake.add_user(f"UW{i:05d}", tz=tz)
    now = datetime.now(UTC)
    kind = "pre_training" if managers else "goal_invite"
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Training.__table__).values(id=1, name="Scale", created_at=now))  # type: ignore[attr-defined]
        conn.execute(
            sa.insert(Person.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": i + 1,
                    "slack_id": f"UW{i:05d}",
                    "tz": tz,
                    "active": True,
                    "share_goals": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(N + managers)
            ],
        )
        conn.execute(
            sa.insert(Enrollment.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": i + 1,
                    "learner_id": i + 1,
                    "manager_id": N + 1 + i % managers if managers else None,
                    "training_id": 1,
                    "starts_on": date(2030, 1, 7),
                    "ends_on": date(2030, 1, 7),
                    "status": "enrolled",
                    "source": "csv",
                    "generation": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(N)
            ],
        )
        conn.execute(
            sa.insert(Nudge.__table__),  # type: ignore[attr-defined]
            [
                {
                    "enrollment_id": i + 1,
                    "kind": kind,
                    "recipient_id": N + 1 + i % managers if managers else i + 1,
                    "due_at": due_at,
                    "status": "pending",
                    "attempts": 0,
                    "deliveries": 0,
                    "ooo_deferrals": 0,
                    "idempotency_key": nudge_key(i + 1, 0, kind),
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(N)
            ],
        )
        if conn.dialect.name == "postgresql":
            for table in ("person", "enrollment", "training"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100000)"
                )


def assert_each_delivered_once(world: World) -> None:
    per_nudge = Counter(m["metadata"]["event_payload"]["nudge_id"] for m in world.posts())
    assert len(per_nudge) == N
    assert set(per_nudge.values()) == {1}
    assert world.fake.count("chat.postMessage") == N
    with world.db.session() as session:
        statuses = Counter(session.exec(sa.select(Nudge.status)).scalars())  # type: ignore[call-overload]
    assert statuses == {"sent": N}


def test_two_dispatchers_in_threads_deliver_each_nudge_once(
    pg_url: str, fake: FakeSlack, clock: Clock
) -> None:
    db = Database(pg_url)
    db.upgrade()
    try:
        world = World(db, fake, clock)
        seed(db, fake, clock(), "UTC")
        # Each worker has its own client and limiter, as separate processes would.
        workers = [world.dispatcher(client=world.make_client(), batch_size=50) for _ in range(2)]
        reports: list[Any] = []
        errors: list[BaseException] = []

        def run(dispatcher: Any) -> None:
            try:
                reports.append(dispatcher.tick())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        assert sorted(r.sent for r in reports)[0] > 0, "both workers should have taken a share"
        assert sum(r.sent for r in reports) == N
        assert_each_delivered_once(world)
    finally:
        db.dispose()


def test_two_dispatchers_never_split_one_managers_day_between_them(
    pg_url: str, fake: FakeSlack, clock: Clock
) -> None:
    """1,000 prompts over 100 managers, claimed in batches of 7 by two dispatchers at once:
    each manager still gets one message, whichever dispatcher claimed it."""
    db = Database(pg_url)
    db.upgrade()
    try:
        world = World(db, fake, clock)
        seed(db, fake, clock(), "UTC", managers=100)
        workers = [world.dispatcher(client=world.make_client(), batch_size=7) for _ in range(2)]
        threads = [threading.Thread(target=w.tick) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        per_manager = Counter(c.params["channel"] for c in fake.calls_to("chat.postMessage"))
        assert len(per_manager) == 100 and set(per_manager.values()) == {1}
        with world.db.session() as session:
            prompts = sa.select(Nudge.status).where(Nudge.kind == "pre_training")
            statuses = Counter(session.exec(prompts).scalars())  # type: ignore[call-overload]
        assert statuses == {"sent": N}
    finally:
        db.dispose()


def test_a_claim_under_way_keeps_its_people_from_another(
    pg_url: str, fake: FakeSlack, clock: Clock
) -> None:
    """A claim takes every due row of the people it takes, and while its transaction is
    open, another dispatcher's claim leaves those people alone instead of taking the rest."""
    db = Database(pg_url)
    db.upgrade()
    try:
        world = World(db, fake, clock)
        seed(db, fake, clock(), "UTC", managers=1)  # all N prompts due for one manager
        first, second = world.dispatcher(), world.dispatcher()
        with db.engine.connect() as conn:
            under_way = conn.begin()
            assert len(conn.execute(first.claim_statement(clock(), 7)).all()) == N
            assert second.claim(clock(), 7) == []
            under_way.rollback()
        assert len(second.claim(clock(), 7)) == N
    finally:
        db.dispose()


def test_two_dispatch_processes_deliver_each_nudge_once(
    pg_url: str, fake: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    db = Database(pg_url)
    db.upgrade()
    try:
        # These processes run on the real clock: pick a zone where it is working hours now.
        rules = Rules(delivery_days=frozenset(range(7)))
        now = datetime.now(UTC)
        tz = next(
            name
            for name in (
                "UTC",
                "Asia/Tokyo",
                "America/New_York",
                "Asia/Kolkata",
                "Pacific/Auckland",
            )
            if in_window(now, ZoneInfo(name), rules)
            and in_window(now + timedelta(minutes=2), ZoneInfo(name), rules)
        )
        world = World(db, fake, clock)
        seed(db, fake, now - timedelta(minutes=1), tz)
        env = {
            **os.environ,
            "DATABASE_URL": pg_url,
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_API_URL": fake.api_url,
            "DELIVERY_DAYS": "mon-sun",
        }
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "bot", "dispatch"],
                cwd=tmp_path,
                env={**env, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=90) for p in processes]
        assert [p.returncode for p in processes] == [0, 0], outputs
        assert_each_delivered_once(world)
    finally:
        db.dispose()
