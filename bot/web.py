"""HTTP routes: Slack's one URL, the LMS webhook and the health check, served by waitress."""

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

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackClientError

from bot import metrics
from bot.core.enrollment import IntakeError, input_from_webhook
from bot.core.lookup import LookupUnavailable
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
UNAVAILABLE = (*DB_UNAVAILABLE, LookupUnavailable, SlackClientError, OSError)
RETRY_AFTER_SECONDS = 5


def _json(
    start_response: StartResponse,
    status: str,
    body: dict[str, Any],
    *,
    retry_after: int | None = None,
) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    start_response(status, headers)
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
    """A WSGI application: three routes, each small enough not to need a framework."""

    def __init__(self, services: Services, bolt: App | None) -> None:
        self.services = services
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
            "status": enrollment.status,
            "result": result.outcome,
            "manager_known": not result.no_manager,
        }
        return _json(start_response, "201 Created" if result.created else "200 OK", answer)


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


def create_web(settings: Settings, app: App, services: Services, *, http: bool) -> WebApp:
    """The WSGI routes; Slack's route only in HTTP mode, where requests are signed."""
    return WebApp(services, app if http and settings.slack_signing_secret else None)
