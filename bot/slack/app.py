"""The app factory: builds the Bolt app and the HTTP routes around explicit services."""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.listener.custom_listener import CustomListener
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot import metrics
from bot.prompts import Catalogues, load_catalogues
from bot.services import Services
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.client import counted_like, make_client
from bot.slack.delivery import make_dispatcher
from bot.slack.home import publish_home
from bot.slack.listeners import register_all
from bot.slack.lookup import make_intake
from bot.slack.replies import actor_of, tell
from storage.db import UNAVAILABLE as DB_UNAVAILABLE
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)

# Listener threads: enough that a new request never queues behind other requests' post-ack
# work (a Slack call, a query) for a thread to run its ack on.
LISTENER_THREADS = 64
# How long a request thread waits for its listener's ack; Bolt's own ack timeout is 3 s and
# its loop takes over from there.
ACK_WAIT_SECONDS = 3.0
# The name of the function Bolt's ThreadListenerRunner submits to run a listener: a Bolt
# internal, pinned by tests/architecture/test_bolt_internals.py.
BOLT_ACK_FUNCTION = "run_ack_function_asynchronously"
# Said with the 503 of an event that could not be stored. Slack retries a failed event on
# its own schedule (at once, after a minute, after five minutes) whatever it is told.
EVENT_RETRY_AFTER_SECONDS = 5


class _AckSignal(threading.local):
    acked: threading.Event | None = None


_ack_signal = _AckSignal()


def _signal_ack() -> None:
    event = _ack_signal.acked
    if event is not None:
        event.set()


class AckFirstExecutor(ThreadPoolExecutor):
    """Hands the request thread its ack as soon as the listener calls ack().

    Bolt's ThreadListenerRunner submits the listener here and then polls for the ack every
    10 ms (`time.sleep(0.01)`): at least that long per request, and under load fifty sleeping
    request threads waking up a hundred times a second to fight for the GIL. Here the submit
    itself returns once the listener has acked (or ended), so Bolt's loop finds the ack at once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._running: set[Future[Any]] = set()
        self._running_lock = threading.Lock()

    def idle(self, timeout: float) -> bool:
        """Wait until every listener submitted so far has ended, work after its ack included
        (the simulated workspace waits so before it moves its clock on); False on time-out."""
        with self._running_lock:
            running = list(self._running)
        return not wait(running, timeout).not_done

    def _track(self, future: Future[Any]) -> Future[Any]:
        with self._running_lock:
            self._running.add(future)

        def done(_: Future[Any]) -> None:
            with self._running_lock:
                self._running.discard(future)

        future.add_done_callback(done)
        return future

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if getattr(fn, "__name__", "") != BOLT_ACK_FUNCTION:
            # Lazy listeners: nobody waits.
            return self._track(super().submit(fn, *args, **kwargs))
        acked = threading.Event()

        def run() -> Any:
            _ack_signal.acked = acked
            try:
                return fn(*args, **kwargs)
            finally:
                _ack_signal.acked = None
                acked.set()

        future = self._track(super().submit(run))
        acked.wait(ACK_WAIT_SECONDS)
        return future


class _SignallingAck:
    """The listener's ack(); once it has answered, the waiting request thread is told."""

    def __init__(self, ack: Ack) -> None:
        self._ack = ack

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return self._ack(*args, **kwargs)
        finally:
            _signal_ack()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ack, name)


class CoachbotApp(App):
    """Bolt's App, timing each request from its arrival to its acknowledgement: both the
    HTTP adapter and Socket Mode call `dispatch`, which returns once the listener acked."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        started = time.perf_counter()
        try:
            return super().dispatch(req)
        finally:
            metrics.slack_request(time.perf_counter() - started)


def _count_slack_calls(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Listeners' own `client` (Bolt makes one per request) counts its Web API calls too."""
    if context.client is not None:
        context["client"] = counted_like(context.client)
    return next()


def create_app(
    settings: Settings,
    db: Database,
    client: WebClient | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    catalogues: Catalogues | None = None,
) -> tuple[App, Services]:
    """The Bolt app with every listener registered, and the services it shares."""
    if client is None:
        client = make_client(settings.slack_bot_token, settings.slack_api_url)
    if catalogues is None:
        catalogues = load_catalogues(
            settings.prompts_file or None, default_locale=settings.default_locale
        )
    services = Services(
        settings=settings,
        db=db,
        client=client,
        catalogues=catalogues,
        publish_home=publish_home,
        intake=make_intake(settings, db, client, clock=clock),
        clock=clock,
    )
    services.deliver_now = make_dispatcher(
        settings, db, client, services.catalogues, clock=clock
    ).deliver
    app = CoachbotApp(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        # Socket Mode has no signing secret: its traffic arrives over the authenticated socket.
        request_verification_enabled=bool(settings.slack_signing_secret),
        token_verification_enabled=False,
        ignoring_self_events_enabled=True,
        logger=logging.getLogger("bot.bolt"),
        listener_executor=AckFirstExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="listener"
        ),
    )
    app.use(_count_slack_calls)
    register_all(app, services)
    _guard_after_ack(app, services)
    app.error(_answer_failures(services))
    return app, services


def _guard_after_ack(app: App, services: Services) -> None:
    """Catch what a listener raises after its ack() itself.

    Bolt resets the ack when a listener raises after acknowledging, so a fast failure (the
    database refusing at once) turned an acknowledged slash command or click into a 404
    "unhandled request" three seconds later. Failures before the ack still go to the error
    handler below, which answers 200 with a message.
    """
    for listener in app._listeners:
        if not isinstance(listener, CustomListener):
            continue
        if listener.auto_acknowledgement:
            if "ack" in listener.arg_names:
                _ack_once_stored(listener)
            else:
                listener.ack_function = _acked_on_entry(listener.ack_function)
            continue
        original = listener.ack_function
        # A bound method's `self` is already bound; Bolt lists it among the names all the same.
        names = [name for name in listener.arg_names if name not in ("self", "cls")]

        def guarded(
            _f: Callable[..., Any] = original, _names: list[str] = names, **kwargs: Any
        ) -> Any:
            given = {k: v for k, v in kwargs.items() if k in _names}
            if "ack" in given:
                given["ack"] = _SignallingAck(given["ack"])
            try:
                return _f(**given)
            except Exception as error:
                ack = kwargs.get("ack")
                if ack is None or ack.response is None:
                    raise
                body = kwargs.get("body") or {}
                reference = uuid.uuid4().hex[:12]
                log.error(
                    "listener.failed_after_ack kind=%s error=%s reference=%s",
                    body.get("type") or ("command" if body.get("command") else "unknown"),
                    type(error).__name__,
                    reference,
                    exc_info=error,
                )
                if body.get("type") != "view_submission":
                    _tell_later(services, body, _error_text(services, body))
                return None

        listener.ack_function = guarded
        listener.arg_names = sorted({*names, "ack", "body"})


def _ack_once_stored(listener: CustomListener) -> None:
    """An event listener that takes `ack` acknowledges the event itself, once it has stored
    it, and does its slow work (a Slack call) after: an event that could not be stored (the
    database unreachable) is then not acknowledged as handled, and Slack sends it again
    (`_answer_failures` answers it 503; Socket Mode sends no ack at all).

    Bolt acknowledges events before their listener starts; here it waits for the listener's
    ack like it does for a command's. A listener that returns without calling ack() (an
    event it ignores, or one whose whole work is storing) is acknowledged when it returns.
    """
    original = listener.ack_function
    names = [name for name in listener.arg_names if name not in ("self", "cls")]

    def stored_first(
        _f: Callable[..., Any] = original, _names: list[str] = names, **kwargs: Any
    ) -> Any:
        ack = _SignallingAck(kwargs["ack"])
        given = {k: v for k, v in kwargs.items() if k in _names}
        given["ack"] = ack
        try:
            result = _f(**given)
        except Exception as error:
            if kwargs["ack"].response is None:
                raise  # not stored, not acknowledged: the error handler answers
            log.error(
                "listener.failed_after_ack kind=event_callback error=%s",
                type(error).__name__,
                exc_info=error,
            )
            return None
        if kwargs["ack"].response is None:
            ack()
        return result

    listener.auto_acknowledgement = False
    listener.ack_function = stored_first
    listener.arg_names = sorted({*names, "ack"})


def _acked_on_entry(function: Callable[..., Any]) -> Callable[..., Any]:
    """Events are acknowledged by Bolt before their listener starts: nothing to wait for."""

    @functools.wraps(function)
    def signalled(*args: Any, **kwargs: Any) -> Any:
        _signal_ack()
        return function(*args, **kwargs)

    return signalled


def _answer_failures(services: Services) -> Callable[..., BoltResponse | None]:
    """A listener that failed (the database briefly down, a bug) still answers Slack with 200
    and tells the person to try again, instead of Bolt's 500 or silence."""

    def on_error(error: Exception, body: dict[str, Any], request: BoltRequest) -> Any:
        reference = uuid.uuid4().hex[:12]
        kind = body.get("type") or ("command" if body.get("command") else "unknown")
        acked = request.context.ack is not None and request.context.ack.response is not None
        if not acked and kind == "event_callback" and isinstance(error, DB_UNAVAILABLE):
            # Not stored: not acknowledged either, so Slack sends the event again. Expected
            # while the database restarts, so one line, not a traceback per event.
            log.warning(
                "event.not_stored event=%s error=%s", body.get("event_id"), type(error).__name__
            )
            return BoltResponse(
                status=503, body="", headers={"Retry-After": str(EVENT_RETRY_AFTER_SECONDS)}
            )
        log.error(
            "listener.failed kind=%s error=%s reference=%s",
            kind,
            type(error).__name__,
            reference,
            exc_info=error,
        )
        text = _error_text(services, body)
        if not acked and kind == "event_callback":
            return BoltResponse(status=200, body="")  # a bug: sending it again would not help
        if not acked:
            # Bolt would answer 500 here; Slack would show the person a generic failure.
            if body.get("command"):
                return BoltResponse(status=200, body=text)
            if kind == "view_submission":
                # Keep the modal and what they typed: an error under the first input.
                values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
                first = next(iter(values), None)
                answer: dict[str, Any] = (
                    {"response_action": "errors", "errors": {first: text}}
                    if first
                    else {
                        "response_action": "update",
                        "view": blocks.notice_modal(
                            services.prompts_for(actor_of(body)), lines=[text]
                        ),
                    }
                )
                return BoltResponse(
                    status=200,
                    body=json.dumps(answer),
                    headers={"content-type": "application/json;charset=utf-8"},
                )
            _tell_later(services, body, text)
            return BoltResponse(status=200, body="")
        if kind in ("block_actions", "view_submission") or body.get("command"):
            _tell_later(services, body, text)
        return None

    return on_error


def _error_text(services: Services, body: dict[str, Any]) -> str:
    return services.prompts_for(actor_of(body)).text("ephemeral.error")


def _tell_later(services: Services, body: dict[str, Any], text: str) -> None:
    """An ephemeral notice by response_url when there is one, else where they clicked."""
    url = body.get("response_url") or next(
        (r.get("response_url") for r in body.get("response_urls") or []), None
    )
    try:
        if url:
            WebhookClient(url, timeout=5).send(text=text, response_type="ephemeral")
        elif body.get("type") != "view_submission":
            tell(services.client, body, text, services.prompts_for(actor_of(body)))
    except Exception:
        log.warning("listener.failure_notice_failed", exc_info=True)
