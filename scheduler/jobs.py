"""APScheduler wiring: a few fixed jobs, never one job per nudge.

The job store is in memory on purpose: jobs are re-added with fixed ids at every start, and
all state that matters (nudges, digest weeks) lives in the database rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

# A run missed while the process was busy or paused still runs, up to this late; the
# default of one second would silently drop it.
MISFIRE_GRACE_SECONDS = 300


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    seconds: int
    run_at_start: bool = True


def build_scheduler(jobs: list[Job]) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    for job in jobs:
        extra = {}
        if job.run_at_start:
            # A first run right away, so a restart catches up without waiting an interval;
            # the same job, so max_instances keeps it from overlapping its next run.
            extra["next_run_time"] = datetime.now(UTC)
        scheduler.add_job(
            _guarded(job),
            "interval",
            seconds=job.seconds,
            id=job.id,
            name=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            **extra,
        )
    return scheduler


def _guarded(job: Job) -> Callable[[], None]:
    def run() -> None:
        try:
            job.func()
        except Exception:
            log.exception("job.error job=%s", job.id)

    return run
