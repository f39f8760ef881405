"""Plain HTTP to a learning system's REST API (urllib3), with its failures sorted in two:
worth retrying (it is down, slow, rate-limiting, or the token is being fixed) or final.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import urllib3

log = logging.getLogger(__name__)

TIMEOUT = urllib3.Timeout(connect=5.0, read=20.0)
MAX_ANSWER_BYTES = 10 * 1024 * 1024  # a profile or a course is a few KB; a feed a few MB
# Statuses that say "later": the service is down or busy, or the credentials are wrong
# (an admin fixes them, and the events waiting are then applied: nothing is lost).
RETRY_STATUSES = frozenset({401, 403, 408, 425, 429, 500, 502, 503, 504})


class LmsUnavailable(Exception):
    """The system did not answer usefully now; try again (not before `retry_after` seconds,
    when it said so)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LmsRefused(Exception):
    """The system answered, and the answer means it never will (404: no such user)."""


def pool() -> urllib3.PoolManager:
    """One connection pool for a process's calls to the learning systems: no retries of its
    own (the inbox retries, with its back-off), no redirects followed to other hosts."""
    return urllib3.PoolManager(timeout=TIMEOUT, retries=False, num_pools=8, maxsize=4)


class Answer:
    def __init__(self, status: int, data: bytes, headers: Mapping[str, str]) -> None:
        self.status, self.data, self.headers = status, data, headers

    def json(self, what: str) -> Any:
        try:
            return json.loads(self.data)
        except (ValueError, UnicodeDecodeError):
            # An HTML login page or a proxy's error: a wrong base URL, or the system half up.
            raise LmsUnavailable(f"{what} answered with something other than JSON") from None


def request(
    http: urllib3.PoolManager,
    method: str,
    url: str,
    *,
    what: str,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    form: bool = False,
) -> Answer:
    """One request; a status worth retrying raises LmsUnavailable, any other error status
    LmsRefused, and a 2xx (or 304) comes back. `what` names the call in messages (never
    the token)."""
    try:
        if form:
            response = http.request(
                method, url, fields=dict(fields or {}), headers=headers, encode_multipart=False
            )
        else:
            response = http.request(method, url, fields=fields, headers=headers)
    except urllib3.exceptions.HTTPError as error:
        # Refused, reset, timed out, a name that does not resolve, TLS: all "not now".
        raise LmsUnavailable(f"{what}: {type(error).__name__}") from None
    data = response.data[:MAX_ANSWER_BYTES] if response.data else b""
    status = response.status
    answer_headers = {k.lower(): v for k, v in response.headers.items()}
    if status in RETRY_STATUSES:
        hint = " (check the token)" if status in (401, 403) else ""
        raise LmsUnavailable(
            f"{what}: HTTP {status}{hint}", retry_after=_seconds(answer_headers.get("retry-after"))
        )
    if status >= 400:
        raise LmsRefused(f"{what}: HTTP {status}")
    return Answer(status, data, answer_headers)


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the back-off applies instead
