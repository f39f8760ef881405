"""Where a process starts: wires the app, the dispatcher and the scheduler together."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot import metrics
from bot.core.digest import CHECK_SECONDS, Digest
from bot.core.privacy import apply_retention
from bot.core.sources.service import Sources
from bot.prompts import Catalogues, load_catalogues
from bot.settings import Settings
from bot.slack.app import create_app
from bot.slack.client import RateLimiter, make_client
from bot.slack.delivery import make_dispatcher
from bot.slack.directory_sync import sync_from_slack
from bot.slack.lookup import make_intake
from bot.slack.summary import SlackDigestPoster
from bot.web import HttpServer, create_web, fork_workers, listening_sockets, make_server, supervise
from scheduler.dispatcher import TickReport
from scheduler.jobs import Job, build_scheduler
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)

DIRECTORY_SYNC_SECONDS = 6 * 3600
RETENTION_SECONDS = 6 * 3600
# Events waiting for an LMS's details are looked at this often; each one's own back-off
# (5 s doubling up to an hour) says whether it is due.
SOURCE_RETRY_SECONDS = 15
# Socket Mode: slack_sdk pings every SOCKET_PING_SECONDS; the watchdog probes on its own every
# SOCKET_CHECK_SECONDS and replaces a connection whose pongs stopped for SOCKET_STALE_SECONDS.
SOCKET_PING_SECONDS = 10.0
SOCKET_CHECK_SECONDS = 10.0
SOCKET_STALE_SECONDS = 35.0


def settings_catalogues(settings: Settings) -> Catalogues:
    """Every language's texts with PROMPTS_FILE's overrides, DEFAULT_LOCALE the fallback."""
    return load_catalogues(settings.prompts_file or None, default_locale=settings.default_locale)


def dispatch_client(settings: Settings, *, like: WebClient | None = None) -> WebClient:
    """The dispatcher's own client: a 429 goes back to the row with its Retry-After instead
    of a sleep inside the SDK, so one rate-limited DM does not hold up the batch.

    It shares the rate limiter of `like` (the process's other client), so a 429 met by
    either pauses that method for every sender of the process.
    """
    limiter = getattr(like, "limiter", None)
    return make_client(
        settings.slack_bot_token,
        settings.slack_api_url,
        rate_limit_retries=0,
        limiter=limiter if isinstance(limiter, RateLimiter) else None,
    )


def make_digest(
    settings: Settings,
    db: Database,
    client: WebClient,
    catalogues: Catalogues,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Digest:
    """The weekly digest, handed the Slack poster that delivers it."""
    return Digest(settings, db, SlackDigestPoster(client), catalogues, clock=clock)


def digest_job(
    settings: Settings,
    db: Database,
    client: WebClient,
    catalogues: Catalogues,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Job:
    digest = make_digest(settings, db, client, catalogues, clock=clock)
    return Job("digest", digest.tick, CHECK_SECONDS)


def make_sources(
    settings: Settings,
    db: Database,
    client: WebClient | None,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Sources:
    """The learning systems for a process without the HTTP routes (`worker`)."""
    intake = make_intake(settings, db, client, clock=clock)
    return Sources(settings, intake, clock=clock, on_outcome=metrics.enrollment)


def source_jobs(settings: Settings, sources: Sources) -> list[Job]:
    """Retrying the events that wait for an LMS, and reading the iCalendar feeds."""
    jobs = [Job("source_retry", sources.retry_due, SOURCE_RETRY_SECONDS)]
    if settings.ics_feed_urls:
        jobs.append(Job("ics_poll", sources.poll_feeds, settings.ics_poll_minutes * 60))
    return jobs


def scheduler_jobs(
    settings: Settings,
    db: Database,
    client: WebClient,
    catalogues: Catalogues,
    *,
    clock: Callable[[], datetime] = utcnow,
    sources: Sources | None = None,
) -> list[Job]:
    dispatcher = make_dispatcher(
        settings, db, dispatch_client(settings, like=client), catalogues, clock=clock
    )
    jobs = [Job("dispatch", dispatcher.tick, settings.dispatch_interval_seconds)]
    jobs.append(
        Job(
            "directory_sync",
            lambda: sync_directory(settings, db, client=client),
            DIRECTORY_SYNC_SECONDS,
        )
    )
    jobs.append(digest_job(settings, db, client, catalogues, clock=clock))
    if settings.retention_days:
        days = settings.retention_days
        jobs.append(
            Job("retention", lambda: apply_retention(db, days, now=clock()), RETENTION_SECONDS)
        )
    jobs += source_jobs(settings, sources or make_sources(settings, db, client, clock=clock))
    return jobs


def dispatch_once(
    settings: Settings, db: Database, *, clock: Callable[[], datetime] = utcnow
) -> TickReport:
    catalogues = settings_catalogues(settings)
    return make_dispatcher(settings, db, dispatch_client(settings), catalogues, clock=clock).tick()


def sync_directory(settings: Settings, db: Database, *, client: WebClient | None = None) -> int:
    client = client or make_client(settings.slack_bot_token, settings.slack_api_url)
    return sync_from_slack(
        db,
        client,
        rules=settings.rules,
        default_tz=settings.default_timezone,
        manager_field_id=settings.slack_manager_field_id,
    )


def serve_metrics(
    settings: Settings, db: Database, *, clock: Callable[[], datetime] = utcnow
) -> HttpServer | None:
    """Prometheus's `/metrics` on METRICS_PORT, when it is set."""
    if settings.metrics_port is None:
        return None
    server = make_server(
        metrics.metrics_app(db, clock=clock), port=settings.metrics_port, host="0.0.0.0", threads=2
    )
    log.info("metrics.listening port=%s", server.effective_port)
    return server


def _close(*servers: HttpServer | None) -> None:
    for server in servers:
        if server is not None:
            server.close()


def run_worker(settings: Settings, db: Database, *, stop: threading.Event) -> int:
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    scheduler = build_scheduler(scheduler_jobs(settings, db, client, settings_catalogues(settings)))
    scheduler.start()
    metrics_server = serve_metrics(settings, db)
    log.info("worker.started")
    stop.wait()
    _close(metrics_server)
    scheduler.shutdown(wait=True)
    return 0


def run_bot(
    settings: Settings,
    db: Database,
    *,
    http: bool,
    port: int,
    scheduler: bool,
    stop: threading.Event,
    workers: int = 1,
) -> int:
    if http and workers > 1:
        # Forked first, before this process starts a thread: each worker builds its own app.
        def serve(sock: socket.socket) -> int:
            db.engine.dispose(close=False)  # pooled connections stay this parent's
            app, services = create_app(settings, db)
            server = make_server(create_web(settings, app, services, http=True), port=0, sock=sock)
            stop.wait()
            server.close()
            return 0

        # Every process counts into files of one folder; the parent serves their sum.
        folder = metrics.use_multiprocess() if settings.metrics_port else None
        pids = fork_workers(listening_sockets("0.0.0.0", port, workers), serve)
        metrics_server = serve_metrics(settings, db)
        background = None
        if scheduler:
            _app, services = create_app(settings, db)
            background = build_scheduler(
                scheduler_jobs(settings, db, services.client, services.catalogues)
            )
            background.start()
        log.info("http.listening port=%s workers=%s", port, workers)
        code = supervise(pids, stop=stop)
        _close(metrics_server)
        if background is not None:
            background.shutdown(wait=True)
        if folder:
            metrics.end_multiprocess(folder)
        return code
    app, services = create_app(settings, db)
    web = create_web(settings, app, services, http=http)
    background = None
    if scheduler:
        background = build_scheduler(
            scheduler_jobs(settings, db, services.client, services.catalogues, sources=web.sources)
        )
        background.start()
    server = make_server(web, port=port, host="0.0.0.0")
    metrics_server = serve_metrics(settings, db)
    socket_handler = None
    if not http:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        from bot.slack.socket import SocketWatchdog

        socket_handler = SocketModeHandler(
            app, settings.slack_app_token, ping_interval=SOCKET_PING_SECONDS
        )
        socket_handler.connect()
        SocketWatchdog(
            socket_handler,
            stop=stop,
            interval=SOCKET_CHECK_SECONDS,
            stale_after=SOCKET_STALE_SECONDS,
        ).start()
        log.info("socket_mode.connected http_port=%s", port)
    else:
        log.info("http.listening port=%s", port)
    stop.wait()
    if socket_handler is not None:
        socket_handler.close()
    _close(server, metrics_server)
    if background is not None:
        background.shutdown(wait=True)
    return 0
