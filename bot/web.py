"""HTTP routes: Slack's one URL, the LMS webhook, the learning systems' own formats (xAPI,
Canvas, Moodle) and the health check, served by waitress."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, cast
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackClientError

from bot import metrics
from bot.core.enrollment import IntakeError, input_from_webhook
from bot.core.lookup import LookupUnavailable
from bot.core.sources import SourceError
from bot.core.sources.rest import LmsUnavailable
from bot.core.sources.service import Received, SourceOff, Sources, Unauthorized
from bot.core.sources.xapi import VERSION_HEADER
from bot.services import Services
from bot.settings import Settings
from storage.db import UNAVAILABLE as DB_UNAVAILABLE
from storage.models import Source

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # Slack's payloads and an enrollment are a few KB
StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


# A database that cannot be reached (OperationalError: refused, terminated, locked past the
# busy timeout; the pool's TimeoutError) or Slack not answering a lookup: a 503 with
# Retry-After, which an LMS retries, rather than a 500 that reads like a bug.
UNAVAILABLE = (*DB_UNAVAILABLE, LookupUnavailable, SlackClientError, OSError, LmsUnavailable)
RETRY_AFTER_SECONDS = 5


# The xAPI version this endpoint answers in (an LRS sends its own in every answer).
XAPI_VERSION = "1.0.3"
XAPI_PATH = "/api/xapi/statements"
LMS_PATHS = {"/api/lms/canvas": "canvas", "/api/lms/moodle": "moodle"}


def _json(
    start_response: StartResponse,
    status: str,
    body: Any,
    *,
    retry_after: int | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    data = json.dumps(body).encode()
    sent = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if retry_after is not None:
        sent.append(("Retry-After", str(retry_after)))
    sent.extend(headers)
    start_response(status, sent)
    return [data]


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or None when it is larger than we accept."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return None
    data = environ["wsgi.input"].read(length) if length else b""
    return data


class WebApp:
    """A WSGI application: a few routes, each small enough not to need a framework."""

    def __init__(self, services: Services, bolt: App | None, sources: Sources) -> None:
        self.services = services
        self.sources = sources
        # Without a signing secret (Socket Mode) Slack's route is not mounted at all, so
        # nothing unsigned can ever reach the listeners over HTTP.
        self.slack = SlackRequestHandler(bolt) if bolt is not None else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path == "/healthz" and method in ("GET", "HEAD"):
                return self.health(start_response)
            if path == "/api/enrollments":
                if method != "POST":
                    return _json(start_response, "405 Method Not Allowed", {"error": "use POST"})
                return self.enrollment(environ, start_response)
            if path == XAPI_PATH or path in LMS_PATHS:
                if method != "POST":
                    return _json(start_response, "405 Method Not Allowed", {"error": "use POST"})
                if path == XAPI_PATH:
                    return self.xapi(environ, start_response)
                return self.lms(LMS_PATHS[path], environ, start_response)
            if path == "/api/xapi/about" and method in ("GET", "HEAD"):
                versions = {"version": [XAPI_VERSION, "2.0.0"]}
                return _json(start_response, "200 OK", versions, headers=_xapi_headers())
            if path == "/slack/events" and self.slack is not None:
                if method != "POST":
                    return _json(start_response, "405 Method Not Allowed", {"error": "use POST"})
                if int(environ.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
                    return _json(start_response, "413 Payload Too Large", {"error": "too large"})
                return self.slack(environ, start_response)
            return _json(start_response, "404 Not Found", {"error": "not found"})
        except UNAVAILABLE as exc:
            # Nothing was stored (the transaction rolled back): the caller may simply retry.
            log.warning("http.unavailable path=%s error=%s", path, type(exc).__name__)
            what = "the database" if isinstance(exc, DB_UNAVAILABLE) else "Slack"
            if isinstance(exc, LmsUnavailable):
                what = "Canvas's key set (CANVAS_JWKS_URL)"
            return _json(
                start_response,
                "503 Service Unavailable",
                {"error": f"{what} is not answering right now; nothing was stored, retry shortly"},
                retry_after=RETRY_AFTER_SECONDS,
            )
        except Exception:
            request_id = uuid.uuid4().hex[:12]
            log.exception("http.error path=%s request=%s", path, request_id)
            return _json(
                start_response,
                "500 Internal Server Error",
                {"error": f"internal error, reference {request_id}"},
            )

    def health(self, start_response: StartResponse) -> list[bytes]:
        if self.services.db.ping():
            return _json(start_response, "200 OK", {"ok": True, "database": "ok"})
        return _json(start_response, "503 Service Unavailable", {"ok": False, "database": "down"})

    def enrollment(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        expected = self.services.settings.enrollment_webhook_token
        given = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = given.partition(" ")
        if (
            not expected
            or scheme.lower() != "bearer"
            or not hmac.compare_digest(token.strip().encode(), expected.encode())
        ):
            return _json(
                start_response,
                "401 Unauthorized",
                {"error": "missing or wrong bearer token (Authorization: Bearer <token>)"},
            )
        raw = _read_body(environ)
        if raw is None:
            return _json(
                start_response, "413 Payload Too Large", {"error": "body larger than 256 KB"}
            )
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            return _json(start_response, "400 Bad Request", {"error": "body is not valid JSON"})
        try:
            result = self.services.intake.enroll_one(input_from_webhook(body))
        except IntakeError as exc:
            metrics.enrollment(Source.WEBHOOK, "refused")
            message = exc.message if exc.field in exc.message else f"{exc.field}: {exc.message}"
            return _json(start_response, "400 Bad Request", {"error": message, "field": exc.field})
        metrics.enrollment(Source.WEBHOOK, result.outcome)
        enrollment = result.enrollment
        answer = {
            "id": enrollment.id,
            "external_id": enrollment.external_id,
            "status": result.status,
            "result": result.outcome,
            "manager_known": not result.no_manager,
        }
        return _json(start_response, "201 Created" if result.created else "200 OK", answer)

    # -- the learning systems' own formats (README, "Learning systems") -------------------

    def xapi(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """xAPI statements, as a Learning Record Store forwards them."""
        try:
            self.sources.check_xapi_credentials(environ.get("HTTP_AUTHORIZATION", ""))
        except Unauthorized as exc:
            return _json(
                start_response,
                "401 Unauthorized",
                {"error": str(exc)},
                headers=[("WWW-Authenticate", 'Basic realm="coachbot xAPI"'), *_xapi_headers()],
            )
        raw = _read_body(environ)
        if raw is None:
            return _json(
                start_response, "413 Payload Too Large", {"error": "body larger than 256 KB"}
            )
        try:
            try:
                body = json.loads(raw or b"null")
            except (ValueError, UnicodeDecodeError):
                raise SourceError("body", "is not valid JSON") from None
            ids = self.sources.post_statements(body, environ.get("HTTP_X_EXPERIENCE_API_VERSION"))
        except SourceError as exc:
            metrics.enrollment(Source.XAPI, "refused")
            return _bad_source_input(start_response, exc, _xapi_headers())
        return _json(start_response, "200 OK", ids, headers=_xapi_headers())

    def lms(
        self, source: str, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        """A Canvas Live Event or a Moodle event: kept at once (202), its details asked of the
        LMS in the background, and again with back-off while it does not answer."""
        raw = _read_body(environ)
        if raw is None:
            return _json(
                start_response, "413 Payload Too Large", {"error": "body larger than 256 KB"}
            )
        try:
            if source == "canvas":
                token = parse_qs(environ.get("QUERY_STRING", "")).get("token", [None])[0]
                received = self.sources.canvas_event(raw, token)
            else:
                received = self.sources.moodle_event(raw)
        except SourceOff as exc:
            return _json(start_response, "404 Not Found", {"error": str(exc)})
        except Unauthorized as exc:
            return _json(start_response, "401 Unauthorized", {"error": str(exc)})
        except SourceError as exc:
            metrics.enrollment(source, "refused")
            return _bad_source_input(start_response, exc)
        return _received(start_response, received)


def _xapi_headers() -> list[tuple[str, str]]:
    return [(VERSION_HEADER, XAPI_VERSION)]


def _bad_source_input(
    start_response: StartResponse, exc: SourceError, headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    return _json(
        start_response,
        "400 Bad Request",
        {"error": f"{exc.field}: {exc.message}", "field": exc.field},
        headers=headers,
    )


def _received(start_response: StartResponse, received: Received) -> list[bytes]:
    body = {"result": received.result, "event_id": received.event_id}
    if received.result == "accepted":
        return _json(start_response, "202 Accepted", body)
    return _json(start_response, "200 OK", body)


class HttpServer:
    """waitress (a production WSGI server) in a background thread, stopped cleanly.

    Closing waitress's sockets while its loop waits in select() makes that wait fail with a
    bad file descriptor; that one error, during a stop we asked for, is the stop itself.
    """

    def __init__(
        self,
        wsgi: Wsgi,
        *,
        port: int,
        host: str = "127.0.0.1",
        threads: int = 8,
        sock: socket.socket | None = None,
    ) -> None:
        from waitress.server import create_server

        # One host and port (or one socket already listening on them, when several worker
        # processes share the port), so a single-socket server: one with `effective_port`.
        where: dict[str, Any] = {"host": host, "port": port}
        if sock is not None:
            where = {"sockets": [sock]}
        self.server: Any = cast(Any, create_server)(
            wsgi,
            **where,
            threads=threads,
            max_request_body_size=MAX_BODY_BYTES,
            clear_untrusted_proxy_headers=True,
            ident="coachbot",
        )
        self.effective_port: int = self.server.effective_port
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except OSError:
            if not self._stopping.is_set():
                raise

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self.server.close()
        self._thread.join(timeout=5)


def make_server(
    wsgi: Wsgi,
    *,
    port: int,
    host: str = "127.0.0.1",
    threads: int = 8,
    sock: socket.socket | None = None,
) -> HttpServer:
    """The app's HTTP server, started: `.effective_port` to reach it, `.close()` to stop."""
    return HttpServer(wsgi, port=port, host=host, threads=threads, sock=sock).start()


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets listening on one port (SO_REUSEPORT): the kernel spreads new
    connections over them evenly, one socket per worker process."""
    sockets: list[socket.socket] = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        port = sock.getsockname()[1]  # port 0: every later socket joins the first's port
        sock.listen(1024)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def fork_workers(sockets: list[socket.socket], serve: Callable[[socket.socket], int]) -> list[int]:
    """Fork one worker process per socket, each running `serve(its socket)` until SIGTERM.

    One Python process answers Slack on one core at a time (the GIL); several share the port
    and the machine's cores. Call this before starting any thread or opening any connection
    in this process: a forked child gets neither.
    """
    pids: list[int] = []
    for i, sock in enumerate(sockets):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for other in sockets:
                    if other is not sock:
                        other.close()
                code = serve(sock)
            except BaseException:
                log.exception("http.worker_failed worker=%s", i)
            finally:
                logging.shutdown()
                os._exit(code)
        pids.append(pid)
    for sock in sockets:
        sock.close()
    log.info("http.workers_started workers=%s", len(pids))
    return pids


def supervise(pids: list[int], *, stop: threading.Event) -> int:
    """Wait for `stop`, then stop the workers. If one dies first, the others are stopped too
    and the exit code says so: the process manager restarts the whole set rather than
    leaving a silently shrunken one."""
    alive, failed = set(pids), False
    while alive and not failed and not stop.wait(0.5):
        for pid in list(alive):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                alive.discard(pid)
                failed = True
                log.error("http.worker_exited pid=%s status=%s", pid, status)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in alive:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return 1 if failed else 0


def make_sources(settings: Settings, services: Services) -> Sources:
    """The learning systems, over the intake every other door uses."""
    return Sources(settings, services.intake, clock=services.clock, on_outcome=metrics.enrollment)


def create_web(
    settings: Settings,
    app: App,
    services: Services,
    *,
    http: bool,
    sources: Sources | None = None,
) -> WebApp:
    """The WSGI routes; Slack's route only in HTTP mode, where requests are signed."""
    return WebApp(
        services,
        app if http and settings.slack_signing_secret else None,
        sources or make_sources(settings, services),
    )
