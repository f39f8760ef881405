"""The Slack Web API client: honours SLACK_API_URL, keeps under Slack's per-method rate limits
client-side, retries only what is safe to repeat, and keeps its connections alive."""

from __future__ import annotations

import http.client
import io
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from bot import metrics

log = logging.getLogger(__name__)

# Errors that will not go away by asking again: the nudge is marked failed with the reason.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "channel_not_found",
        "user_not_found",
        "users_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "is_archived",
        "not_in_channel",
        "restricted_action",
        "invalid_blocks",
        "invalid_metadata",
        "msg_too_long",
        "no_text",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "missing_scope",
        "messages_tab_disabled",
    }
)

# A post whose answer was lost (time-out, dropped connection, 5xx) may have reached Slack;
# repeating it blindly could DM someone twice, so only the dispatcher retries it, after
# looking for the message first.
NOT_SAFE_TO_REPEAT = frozenset({"chat.postMessage"})


@dataclass(frozen=True)
class Limit:
    """A token bucket: `per_second` sustained, `burst` at once.

    `per_channel` keeps one bucket per channel (chat.postMessage's limit is per channel).
    A call that would wait longer than `max_wait` seconds is refused at once with a
    client-side `ratelimited` error, shaped like Slack's own 429, so callers handle both alike.
    """

    per_second: float
    burst: float
    per_channel: bool = False
    max_wait: float = 10.0


# Slack's tiers are floors ("100+ per minute"); these stay at or under them. postMessage is
# about 1 per second per channel with short bursts, so different people never slow each
# other down; the workspace-wide bucket only caps a runaway loop.
DEFAULT_LIMITS: dict[str, Limit] = {
    "chat.postMessage": Limit(per_second=1.0, burst=3, per_channel=True),
    "chat.postMessage*": Limit(per_second=1000.0, burst=1000),
    "users.profile.get": Limit(per_second=100 / 60, burst=100, max_wait=0.0),
    "conversations.history": Limit(per_second=50 / 60, burst=50, max_wait=5.0),
}


class ClientRateLimited(SlackApiError):
    """Refused before it was sent: the call would break a rate limit."""


class RateLimiter:
    """Per-method token buckets, shared by every thread using one client."""

    def __init__(
        self,
        limits: dict[str, Limit] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = DEFAULT_LIMITS if limits is None else limits
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (tokens, at)
        self._paused_until: dict[str, float] = {}

    def acquire(self, method: str, channel: str | None = None) -> float:
        """Take one token for `method` (and `channel`), sleeping if need be.

        Returns the seconds slept; raises ClientRateLimited when the wait would exceed the
        method's `max_wait` (nothing is taken then).
        """
        buckets = []
        for name in (method, f"{method}*"):
            limit = self.limits.get(name)
            if limit is not None:
                key = (channel or "") if limit.per_channel else ""
                buckets.append(((name, key), limit))
        with self._lock:
            now = self.clock()
            wait = max(0.0, self._paused_until.get(method, now) - now)
            taken = []
            for bucket, limit in buckets:
                tokens, at = self._tokens.get(bucket, (limit.burst, now))
                tokens = min(limit.burst, tokens + (now - at) * limit.per_second) - 1
                taken.append((bucket, tokens, now))
                if tokens < 0:
                    wait = max(wait, -tokens / limit.per_second)
            max_wait = min((limit.max_wait for _, limit in buckets), default=float("inf"))
            if wait > max_wait + 1e-9:
                raise ClientRateLimited(
                    f"client-side rate limit for {method}", _limited_response(method, wait)
                )
            for bucket, tokens, at in taken:
                self._tokens[bucket] = (tokens, at)
        if wait > 0:
            self.sleep(wait)
        return wait

    def pause(self, method: str, seconds: float) -> None:
        """Slack answered 429 with Retry-After: hold every caller of `method` that long."""
        with self._lock:
            until = self.clock() + max(0.0, seconds)
            self._paused_until[method] = max(self._paused_until.get(method, 0.0), until)

    def wait_out_pause(self, method: str) -> float:
        """Sleep until `method`'s pause ends (no token taken); returns the seconds slept."""
        with self._lock:
            wait = max(0.0, self._paused_until.get(method, 0.0) - self.clock())
        if wait > 0:
            self.sleep(wait)
        return wait


def _limited_response(method: str, wait: float) -> SlackResponse:
    # Our own wait is known to the millisecond: the row it sends back is due exactly then
    # (Slack's own Retry-After is whole seconds).
    return SlackResponse(
        client=None,
        http_verb="POST",
        api_url=method,
        req_args={},
        data={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": f"{max(0.001, math.ceil(wait * 1000) / 1000):g}"},
        status_code=429,
    )


class CountedWebClient(WebClient):
    """A WebClient that counts each Web API call by method and final outcome, retries
    included in the one call (coachbot_slack_api_calls_total)."""

    def api_call(  # type: ignore[override]
        self, api_method: str, *, http_verb: str = "POST", **kwargs: Any
    ) -> SlackResponse:
        try:
            response = super().api_call(api_method, http_verb=http_verb, **kwargs)
        except SlackApiError as exc:
            metrics.slack_call(api_method, call_outcome(exc))
            raise
        except OSError:
            metrics.slack_call(api_method, "network_error")
            raise
        metrics.slack_call(api_method, "ok")
        return response  # type: ignore[no-any-return]


def call_outcome(exc: SlackApiError) -> str:
    """`ratelimited`, `server_error` (5xx) or Slack's own error code, such as `user_not_found`."""
    status = getattr(exc.response, "status_code", None) or 200
    if status == 429:
        return "ratelimited"
    if status >= 500:
        return "server_error"
    return slack_error(exc)


def counted_like(client: WebClient) -> CountedWebClient:
    """The same client (token, URL, time-out, retries), counting its calls: for the client
    Bolt makes for each request, which listeners get as `client`."""
    if isinstance(client, CountedWebClient):
        return client
    return CountedWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=client.headers,
        team_id=client.default_params.get("team_id"),
        logger=client.logger,
        retry_handlers=client.retry_handlers,
    )


class KeepAliveWebClient(CountedWebClient):
    """A WebClient that reuses its HTTP connections.

    slack_sdk's WebClient opens a new connection for every call (urllib); at a few hundred
    DMs a second, connecting costs more than the call itself. This one sends through a
    urllib3 pool shared by every thread using the client, and answers exactly as urllib
    would (an `HTTPError` for a 4xx or 5xx, a `URLError` for a network fault), so the SDK's
    response handling and retry handlers work unchanged.
    """

    pool: urllib3.PoolManager

    def _perform_urllib_http_request_internal(self, url: str, req: urllib.request.Request) -> Any:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)
        try:
            resp = self.pool.request(
                "POST",
                url,
                body=req.data,  # type: ignore[arg-type]
                headers=dict(req.header_items()),
                timeout=urllib3.Timeout(total=self.timeout),
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise TimeoutError(str(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise urllib.error.URLError(exc) from exc
        headers = http.client.HTTPMessage()
        for name, value in resp.headers.items():
            headers[name] = value
        if resp.status >= 400:
            raise urllib.error.HTTPError(
                url, resp.status, resp.reason or "", headers, io.BytesIO(resp.data)
            )
        charset = headers.get_content_charset() or "utf-8"
        body: str | bytes = resp.data
        if headers.get_content_type() != "application/gzip":
            body = resp.data.decode(charset)
        return {"status": resp.status, "headers": headers, "body": body}


def connection_pool(size: int = 16) -> urllib3.PoolManager:
    """Connections to Slack, kept open between calls: `size` per host, shared by threads."""
    return urllib3.PoolManager(num_pools=4, maxsize=size, block=False)


class LimitedWebClient(KeepAliveWebClient):
    """A WebClient whose every call first takes a token from its RateLimiter."""

    limiter: RateLimiter

    def api_call(  # type: ignore[override]
        self, api_method: str, *, http_verb: str = "POST", **kwargs: Any
    ) -> SlackResponse:
        args = kwargs.get("json") or kwargs.get("data") or kwargs.get("params") or {}
        channel = args.get("channel") if isinstance(args, dict) else None
        self.limiter.acquire(api_method, str(channel) if channel else None)
        try:
            return super().api_call(api_method, http_verb=http_verb, **kwargs)
        except SlackApiError as exc:
            if getattr(exc.response, "status_code", None) == 429:
                self.limiter.pause(api_method, retry_after(exc))
            raise


class _WaitOutRateLimit(RetryHandler):
    """A 429: every caller of the method in this process waits exactly Retry-After (the
    limiter's pause), then this call goes again. A 429 means Slack did nothing, so repeating
    any method, chat.postMessage included, is safe.

    slack_sdk's own handler sleeps Retry-After plus up to a second of jitter, and only for
    the caller that met the 429, while the others keep hitting the limit meanwhile.
    """

    def __init__(self, limiter: RateLimiter, max_retry_count: int) -> None:
        super().__init__(max_retry_count)
        self.limiter = limiter

    def __deepcopy__(self, memo: dict[int, Any]) -> _WaitOutRateLimit:
        # Bolt deep-copies each request's context (its client and retry handlers) for lazy
        # listeners; a copy must still share the process's pauses, and a lock cannot be
        # copied anyway.
        return self

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:  # _can_retry let only a 429 through
            raise error or RuntimeError("rate limit retry without a response")
        method = _method_of(request.url)
        self.limiter.pause(method, _header_seconds(response.headers))
        self.limiter.wait_out_pause(method)
        state.next_attempt_requested = True
        state.increment_current_attempt()


def _method_of(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _header_seconds(headers: Any) -> float:
    """Retry-After from a response's headers (values may be lists); 1 s when absent."""
    for name, value in dict(headers or {}).items():
        if name.lower() == "retry-after":
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                break
    return 1.0


class _SafeToRepeat(RetryHandler):
    """Retries a lost or failed answer only for methods that may be called twice."""

    def __init__(self, inner: RetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _method_of(request.url) in NOT_SAFE_TO_REPEAT:
            return False
        return self.inner._can_retry(state=state, request=request, response=response, error=error)


def make_client(
    token: str,
    base_url: str,
    *,
    timeout: int = 10,
    rate_limit_retries: int = 3,
    limiter: RateLimiter | None = None,
    pool: urllib3.PoolManager | None = None,
) -> LimitedWebClient:
    client = LimitedWebClient(token=token, base_url=base_url, timeout=timeout)
    client.limiter = limiter or RateLimiter()
    client.pool = pool or connection_pool()
    handlers: list[RetryHandler] = [
        _SafeToRepeat(ConnectionErrorRetryHandler(max_retry_count=2)),
        _SafeToRepeat(ServerErrorRetryHandler(max_retry_count=2)),
    ]
    if rate_limit_retries:
        handlers.append(_WaitOutRateLimit(client.limiter, max_retry_count=rate_limit_retries))
    client.retry_handlers = handlers
    return client


def slack_error(exc: SlackApiError) -> str:
    """The short error code Slack answered with, such as `user_not_found`."""
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return f"http_{getattr(exc.response, 'status_code', 'error')}"


def retry_after(exc: SlackApiError) -> float:
    """Seconds Slack asked us to wait: 0 when it did not say, except after a 429 (1 s), so
    that a rate limit without the header is still a pause and never a tight loop."""
    headers = getattr(exc.response, "headers", None) or {}
    for name, value in dict(headers).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                break
    return 1.0 if getattr(exc.response, "status_code", None) == 429 else 0.0


def is_rate_limited(exc: SlackApiError) -> bool:
    """Slack's 429 (or our limiter's, shaped alike): nothing was done, so nothing to doubt."""
    return getattr(exc.response, "status_code", None) == 429 or slack_error(exc) == "ratelimited"


def is_permanent(exc: SlackApiError) -> bool:
    return slack_error(exc) in PERMANENT_ERRORS
