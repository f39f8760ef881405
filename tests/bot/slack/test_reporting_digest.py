"""The weekly digest: once per week through restarts and racing workers, late rather than
never within the same week, and never for a week before the first start."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from reporting_seed import seed
from support import LEAD, Clock, make_settings

from bot.core.digest import CHECK_SECONDS, Digest
from bot.prompts import load_catalogues, load_prompts
from bot.runtime import digest_job, make_digest
from bot.sim.fakeslack import FakeSlack
from bot.slack.client import make_client
from storage.db import Database

MON_0800 = datetime(2026, 11, 23, 8, tzinfo=UTC)  # week 48; the digest is due Monday 09:00
MON_0900 = datetime(2026, 11, 23, 9, 0, 5, tzinfo=UTC)
NEXT_MON_0900 = datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC)
PROMPTS = load_prompts()


def _digest(fake: FakeSlack, db: Database, clock: Clock, **overrides: Any) -> Digest:
    """A fresh Digest, as a newly started process would build it."""
    settings = make_settings(fake, db.url, **overrides)
    client = make_client(settings.slack_bot_token, settings.slack_api_url, rate_limit_retries=0)
    return make_digest(settings, db, client, load_catalogues(None), clock=clock)


def _lead_dms(fake: FakeSlack, lead: str = LEAD) -> list[dict[str, Any]]:
    return [m for m in fake.dms_to(lead) if not m.get("files")]


def test_once_per_week_through_restarts_and_two_racing_workers(
    fake: FakeSlack, db: Database
) -> None:
    fake.add_user(LEAD)
    with db.session() as s:
        seed(s)
    clock = Clock(MON_0800)
    first = _digest(fake, db, clock)
    assert first.tick() is None  # the process starts before 09:00: nothing yet

    clock.set(MON_0900)
    workers = [_digest(fake, db, clock), _digest(fake, db, clock)]
    results: list[str | None] = []
    barrier = threading.Barrier(len(workers))

    def run(worker: Digest) -> None:
        barrier.wait()
        results.append(worker.tick())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results, key=str) == ["2026-W48", None]
    assert len(_lead_dms(fake)) == 1 and len(fake.files) == 3  # chart, enrollments, figures
    assert "Weekly training digest: week 2026-W47" in str(_lead_dms(fake)[0]["blocks"])

    clock.set(datetime(2026, 11, 24, 10, tzinfo=UTC))  # restarted the next day
    assert _digest(fake, db, clock).tick() is None
    assert len(_lead_dms(fake)) == 1

    clock.set(NEXT_MON_0900)  # the next week has a digest of its own, once
    assert first.tick() == "2026-W49"
    assert workers[0].tick() is None
    assert len(_lead_dms(fake)) == 2
    assert "before the training:* 50% (2 of 4)" in str(_lead_dms(fake)[1]["blocks"])


def test_a_digest_missed_while_down_goes_out_at_the_next_start_that_week(
    fake: FakeSlack, db: Database
) -> None:
    fake.add_user(LEAD)
    clock = Clock(datetime(2026, 11, 18, 12, tzinfo=UTC))  # first started in week 47
    assert _digest(fake, db, clock).tick() is None  # week 47's digest was due before that
    clock.set(datetime(2026, 11, 25, 14, tzinfo=UTC))  # down all Monday; back on Wednesday
    job = digest_job(
        make_settings(fake, db.url),
        db,
        make_client("xoxb-t", fake.api_url),
        load_catalogues(None),
        clock=clock,
    )
    assert job.run_at_start and job.seconds <= 60  # runs at start, then every 30 s
    assert job.func() == "2026-W48"
    assert len(_lead_dms(fake)) == 1
    # An empty week is posted all the same.
    assert "A quiet week" in str(_lead_dms(fake)[0]["blocks"])
    # Down for all of week 49: its digest is not posted in week 50.
    clock.set(datetime(2026, 12, 7, 8, tzinfo=UTC))
    assert job.func() is None
    assert CHECK_SECONDS <= 60


def test_never_for_a_week_before_the_first_start(fake: FakeSlack, db: Database) -> None:
    fake.add_user(LEAD)
    clock = Clock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))  # first start: after Monday 09:00
    digest = _digest(fake, db, clock)
    assert digest.tick() is None
    clock.set(datetime(2026, 11, 26, 9, tzinfo=UTC))
    assert _digest(fake, db, clock).tick() is None
    assert fake.count("chat.postMessage") == 0
    clock.set(NEXT_MON_0900)
    assert digest.tick() == "2026-W49"


def test_to_the_channel_only_when_set(fake: FakeSlack, db: Database) -> None:
    fake.add_user(LEAD)
    clock = Clock(MON_0800)
    digest = _digest(fake, db, clock, ld_channel="C0LDCHANNEL")
    digest.tick()
    clock.set(MON_0900)
    assert digest.tick() == "2026-W48"
    summary, files = fake.messages_in("C0LDCHANNEL")
    # One post in the channel; its chart and CSVs in the post's thread.
    assert summary.get("thread_ts") in (None, summary["ts"])
    assert files["thread_ts"] == summary["ts"] and len(files["files"]) == 3
    assert fake.dms_to(LEAD) == []


def test_each_lead_gets_it_by_dm_and_a_failure_is_retried(fake: FakeSlack, db: Database) -> None:
    for lead in ("ULEADA", "ULEADB"):
        fake.add_user(lead)
    clock = Clock(MON_0800)
    digest = _digest(fake, db, clock, ld_leads=frozenset({"ULEADA", "ULEADB"}))
    digest.tick()
    clock.set(MON_0900)
    fake.fail_next("conversations.open", error="internal_error", count=2)
    assert digest.tick() is None  # Slack failed for everyone: not marked as posted
    clock.set(datetime(2026, 11, 23, 9, 1, tzinfo=UTC))
    assert digest.tick() == "2026-W48"
    assert [len(_lead_dms(fake, lead)) for lead in ("ULEADA", "ULEADB")] == [1, 1]
    assert digest.tick() is None
