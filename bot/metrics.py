"""Prometheus metrics: what an operator watches (nudges due and sent, Slack's answers, acks).

The metric objects are made on first use, so that `use_multiprocess` can switch
prometheus-client to its multiprocess mode before any exists: under `run --http --workers N`
every process writes its values to files in one temporary folder, and the parent, which
serves `/metrics`, adds them up. The nudges due are counted in the database at each scrape,
so they are right whichever process sent what.

The domain never imports this module: the dispatcher and the intake are handed the small
recording functions below as callbacks (wired in `runtime` and `services`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.exposition import make_wsgi_app
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from storage import crud
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Sent minus due: one dispatch interval (30 s by default) is normal; hours mean trouble.
LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
# Time to acknowledge Slack: milliseconds are the aim, Slack gives up at 3 seconds.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry | None  # None in multiprocess mode: the files are the registry
    nudges_sent: Counter
    nudges_failed: Counter
    nudges_retried: Counter
    nudges_skipped: Counter
    dispatch_lag: Histogram
    slack_api_calls: Counter
    enrollments: Counter
    slack_request: Histogram


_current: Metrics | None = None
_lock = threading.Lock()


def metrics() -> Metrics:
    """The process's metric objects, made on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = _build(None if multiprocess_dir() else CollectorRegistry())
        return _current


def _build(registry: CollectorRegistry | None) -> Metrics:
    def counter(name: str, doc: str, labels: list[str]) -> Counter:
        return Counter(name, doc, labels, registry=registry)

    return Metrics(
        registry=registry,
        nudges_sent=counter("coachbot_nudges_sent", "Nudges sent as a Slack DM", ["kind"]),
        nudges_failed=counter(
            "coachbot_nudges_failed", "Nudges given up for good (Slack refused them)", ["kind"]
        ),
        nudges_retried=counter(
            "coachbot_nudges_retried",
            "Nudge sends that met a passing fault (429, 5xx, time-out) and wait to be retried",
            ["kind"],
        ),
        nudges_skipped=counter(
            "coachbot_nudges_skipped",
            "Nudges not sent, with a reason (cancelled, too late, away too long, deactivated)",
            ["kind"],
        ),
        dispatch_lag=Histogram(
            "coachbot_dispatch_lag_seconds",
            "Seconds from a nudge's due time to its sending",
            buckets=LAG_BUCKETS,
            registry=registry,
        ),
        slack_api_calls=counter(
            "coachbot_slack_api_calls",
            "Slack Web API calls by method and outcome: ok, Slack's error code, "
            "server_error or network_error",
            ["method", "outcome"],
        ),
        enrollments=counter(
            "coachbot_enrollments",
            "Enrollments received, by source (slack, webhook, workflow, csv, xapi, calendar, "
            "canvas, moodle) and result (created, updated, duplicate, stale, ignored, refused)",
            ["source", "result"],
        ),
        slack_request=Histogram(
            "coachbot_slack_request_seconds",
            "Seconds to acknowledge a request from Slack (command, click, event, step)",
            buckets=ACK_BUCKETS,
            registry=registry,
        ),
    )


# -- what the rest of the code calls ---------------------------------------------------------


def nudge_recorded(kind: str, outcome: str, lag_seconds: float | None) -> None:
    """The dispatcher stored an outcome: sent, failed, retried, skipped or deferred."""
    m = metrics()
    counter = {
        "sent": m.nudges_sent,
        "failed": m.nudges_failed,
        "retried": m.nudges_retried,
        "skipped": m.nudges_skipped,
    }.get(outcome)
    if counter is not None:
        counter.labels(kind=kind).inc()
    if outcome == "sent" and lag_seconds is not None:
        m.dispatch_lag.observe(max(0.0, lag_seconds))


def slack_call(method: str, outcome: str) -> None:
    metrics().slack_api_calls.labels(method=method, outcome=outcome).inc()


def enrollment(source: str, result: str) -> None:
    """A door of the intake answered: created, updated, duplicate or refused."""
    metrics().enrollments.labels(source=source, result=result).inc()


def slack_request(seconds: float) -> None:
    metrics().slack_request.observe(seconds)


# -- several processes -------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def use_multiprocess() -> str | None:
    """Switch this process (and the workers it forks) to multiprocess mode, in a new
    temporary folder; call before any metric is recorded. Returns the folder to remove at
    the end, or None when the environment already names one (it is the operator's then)."""
    with _lock:
        if multiprocess_dir():
            return None
        if _current is not None:
            raise RuntimeError("metrics were recorded before multiprocess mode was chosen")
        folder = tempfile.mkdtemp(prefix="coachbot-metrics-")
        os.environ[MULTIPROC_ENV] = folder
        # prometheus-client picks its value class when first imported; it was, without the
        # variable, so pick again (as its own multiprocess tests do).
        values.ValueClass = values.MultiProcessValue()
        return folder


def end_multiprocess(folder: str) -> None:
    os.environ.pop(MULTIPROC_ENV, None)
    shutil.rmtree(folder, ignore_errors=True)


# -- serving /metrics ------------------------------------------------------------------------


class DueNudges:
    """`coachbot_nudges_due`, read from the database at each scrape (one indexed query)."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "coachbot_database_up", "1 when the database answered the last scrape, else 0"
        )
        now = self.clock()
        try:
            with self.db.session() as session:
                count, oldest = crud.due_not_sent(session, now=now)
                waiting = crud.inbox_counts(session).get("pending", 0)
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("metrics.database_unavailable error=%s", type(exc).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        due = GaugeMetricFamily(
            "coachbot_nudges_due", "Nudges due and not sent yet (waiting or being sent)"
        )
        due.add_metric([], count)
        age = GaugeMetricFamily(
            "coachbot_nudges_due_oldest_seconds",
            "Seconds since the earliest due time of the nudges due and not sent (0: none)",
        )
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        pending = GaugeMetricFamily(
            "coachbot_source_events_pending",
            "Events from Canvas or Moodle kept until that system gives their details",
        )
        pending.add_metric([], waiting)
        return [up, due, age, pending]


class _Together:
    """Several collectors served as one."""

    def __init__(self, collectors: list[Collector]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def collectors(db: Database, *, clock: Callable[[], datetime] = utcnow) -> Collector:
    """Everything `/metrics` shows: this process's metrics (or, in multiprocess mode, every
    process's, summed), the nudges due, and this process's memory and CPU."""
    folder = multiprocess_dir()
    parts: list[Collector] = [DueNudges(db, clock)]
    if folder:
        parts.insert(0, MultiProcessCollector(None, path=folder))  # type: ignore[arg-type]
    else:
        registry = metrics().registry
        assert registry is not None
        parts.insert(0, registry)
    own = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=own)
    PlatformCollector(registry=own)
    parts.append(own)
    return _Together(parts)


StartResponse = Callable[..., Any]


def metrics_app(
    db: Database, *, clock: Callable[[], datetime] = utcnow
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app of METRICS_PORT: Prometheus text at `/metrics`, 404 elsewhere."""
    exposition = make_wsgi_app(collectors(db, clock=clock))  # type: ignore[arg-type]

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            body = b"not found: metrics are at /metrics\n"
            start_response(
                "404 Not Found",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return exposition(environ, start_response)  # type: ignore[no-any-return]

    return app
