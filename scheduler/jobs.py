"""APScheduler wiring: a few fixed jobs, never one job per nudge.

The job store is in memory on purpose: jobs are re-added with fixed ids at every start, and
all state that matters (nudges, digest weeks) lives in the database rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

# A run missed while the process was busy or paused still runs, up to this late; the
# default of one second would silently drop it.
MISFIRE_GRACE_SECONDS = 300
# A run that asks to come back sooner (see `wake_early`) comes back no sooner than this.
MIN_WAKE_SECONDS = 0.25


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
    scheduler.add_listener(lambda event: wake_early(scheduler, event), EVENT_JOB_EXECUTED)
    return scheduler


def wake_early(scheduler: Any, event: JobExecutionEvent) -> None:
    """A run whose result has a `wake_at` (the dispatcher's soonest retry: a 429's
    Retry-After, a back-off of a few seconds) is run again then, not a whole interval later.

    Done from the executed event, which APScheduler sends once the run no longer counts
    against `max_instances` (moved from inside the run, the next one could fire while this
    one still counts, and be skipped). And from a thread of its own: a run that ended before
    the scheduler finished submitting it has its event sent from the scheduler's own loop,
    which then sets the job's next run time, over ours; the thread waits for that loop's
    lock, so it moves the next run once the loop has set it.
    """
    wake_at = getattr(event.retval, "wake_at", None)
    if isinstance(wake_at, datetime):
        threading.Thread(
            target=_move_next_run, args=(scheduler, event.job_id, wake_at), daemon=True
        ).start()


def _move_next_run(scheduler: Any, job_id: str, wake_at: datetime) -> None:
    try:
        job = scheduler.get_job(job_id)
        if job is None or job.next_run_time is None:
            return
        wake_at = max(wake_at, datetime.now(UTC) + timedelta(seconds=MIN_WAKE_SECONDS))
        if wake_at < job.next_run_time:
            scheduler.modify_job(job_id, next_run_time=wake_at)
            log.info("job.wake_early job=%s at=%s", job_id, wake_at.isoformat())
    except Exception:  # shutting down, or the job was removed meanwhile
        log.debug("job.wake_early_failed job=%s", job_id, exc_info=True)


def _guarded(job: Job) -> Callable[[], object]:
    def run() -> object:
        try:
            return job.func()
        except Exception:
            log.exception("job.error job=%s", job.id)
            return None

    return run
