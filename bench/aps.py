"""The obvious alternative: one APScheduler job per nudge in SQLAlchemyJobStore.

Run as a child process so its memory is its own:
`python -m bench.aps schedule URL N` and `python -m bench.aps start URL`; prints JSON.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bench.common import rss_mb
from storage.db import normalize_url

KINDS = ("goal_invite", "pre_training", "debrief", "follow_up", "learner_follow_up")


def send_nudge(enrollment: int, kind: str) -> None:
    """What each job would call; never runs here (every job is in the future)."""


def _scheduler(url: str) -> BackgroundScheduler:
    store = SQLAlchemyJobStore(url=normalize_url(url))
    return BackgroundScheduler(jobstores={"default": store}, timezone="UTC")


def schedule(url: str, n: int) -> dict[str, float]:
    scheduler = _scheduler(url)
    scheduler.start(paused=True)  # added jobs go straight to the store, as in production
    base = datetime.now(UTC) + timedelta(days=30)
    t0 = time.perf_counter()
    for i in range(n):
        scheduler.add_job(
            send_nudge,
            "date",
            run_date=base + timedelta(minutes=i % 500_000),
            args=[i // len(KINDS), KINDS[i % len(KINDS)]],
            id=f"nudge-{i}",
            misfire_grace_time=300,
        )
    seconds = time.perf_counter() - t0
    scheduler.shutdown(wait=False)
    return {"jobs": n, "seconds": seconds, "rss_mb": rss_mb_self()}


def start(url: str) -> dict[str, float]:
    scheduler = _scheduler(url)
    t0 = time.perf_counter()
    scheduler.start()
    started = time.perf_counter() - t0
    rss_started = rss_mb_self()
    t0 = time.perf_counter()
    jobs = scheduler.get_jobs()  # what listing, rescheduling or cancelling jobs has to load
    loaded = time.perf_counter() - t0
    out = {
        "start_seconds": started,
        "rss_after_start_mb": rss_started,
        "get_jobs_seconds": loaded,
        "jobs": len(jobs),
        "rss_after_get_jobs_mb": rss_mb_self(),
    }
    scheduler.shutdown(wait=False)
    return out


def rss_mb_self() -> float:
    import os

    return rss_mb(os.getpid())


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    mode, url = sys.argv[1], sys.argv[2]
    result = schedule(url, int(sys.argv[3])) if mode == "schedule" else start(url)
    print(json.dumps(result))
