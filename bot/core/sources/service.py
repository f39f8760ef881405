"""The learning systems, wired from the settings: what the HTTP routes, the scheduler's jobs
and `coachbot import calendar` call.

Authentication that needs only the settings (bearer tokens, the Moodle token, xAPI's Basic
credentials) is the routes' business; Canvas's signed payloads are checked here, against a
key set fetched from `CANVAS_JWKS_URL` and kept for an hour.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.enrollment import Intake
from bot.core.sources import canvas, moodle
from bot.core.sources.apply import OnOutcome
from bot.core.sources.canvas import CanvasDetails, verify_signed_event
from bot.core.sources.event import SourceError
from bot.core.sources.ics import CalendarFeeds, CalendarImporter, CalendarReport
from bot.core.sources.inbox import Details, Inbox, WorkReport
from bot.core.sources.moodle import MoodleDetails
from bot.core.sources.rest import LmsUnavailable, pool, request
from bot.core.sources.statements import StatementStore
from bot.settings import Settings
from scheduler.nudges import last_nudge_days
from scheduler.planning import zone

log = logging.getLogger(__name__)

JWKS_SECONDS = 3600  # Instructure rotates its keys monthly and publishes the next one early
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


class SourceOff(Exception):
    """The source is not configured (its URL and token are unset): the message says which."""


class Unauthorized(Exception):
    """Missing or wrong credentials: the message says which."""


@dataclass(frozen=True)
class Received:
    """What a route answers for an event: `accepted` (kept, applied in the background),
    `duplicate` (received already: a no-op) or `ignored` (not one Coachbot acts on)."""

    result: str
    event_id: str | None = None


class Sources:
    def __init__(
        self,
        settings: Settings,
        intake: Intake,
        *,
        clock: Callable[[], datetime],
        on_outcome: OnOutcome,
        http: Any = None,
    ) -> None:
        self.settings = settings
        self.http = http or pool()
        details: dict[str, Details] = {}
        if settings.canvas_url:
            details[canvas.SOURCE] = CanvasDetails(
                settings.canvas_url, settings.canvas_token, self.http
            )
        if settings.moodle_url:
            details[moodle.SOURCE] = MoodleDetails(
                settings.moodle_url,
                settings.moodle_token,
                self.http,
                zone=zone(None, settings.default_timezone),
            )
        self.inbox = Inbox(
            intake,
            details,
            clock=clock,
            on_outcome=on_outcome,
            default_tz=settings.default_timezone,
        )
        self.statements = StatementStore(intake, on_outcome=on_outcome)
        self.calendar = CalendarImporter(
            intake, on_outcome=on_outcome, horizon_days=last_nudge_days(settings.rules)
        )
        self.feeds = CalendarFeeds(settings.ics_feed_urls, self.calendar, self.http)
        self._jwks: tuple[float, Mapping[str, Any]] | None = None
        self._jwks_lock = threading.Lock()

    # -- the jobs ------------------------------------------------------------------------

    def retry_due(self) -> WorkReport:
        """The `source_retry` job: events whose details are due to be asked for again."""
        return self.inbox.work()

    def poll_feeds(self) -> dict[str, CalendarReport | str]:
        """The `ics_poll` job: every feed of ICS_FEED_URLS once."""
        return self.feeds.poll()

    def import_calendar(self, text: str | bytes) -> CalendarReport:
        return self.calendar.import_text(text)

    # -- xAPI ----------------------------------------------------------------------------

    def check_xapi_credentials(self, authorization: str) -> None:
        key, secret = self.settings.xapi_key, self.settings.xapi_secret
        if not (key and secret):
            raise Unauthorized("the xAPI endpoint is off: set XAPI_KEY and XAPI_SECRET")
        scheme, _, encoded = authorization.strip().partition(" ")
        try:
            given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            given = ""
        expected = f"{key}:{secret}"
        if scheme.lower() != "basic" or not hmac.compare_digest(
            given.encode("utf-8"), expected.encode("utf-8")
        ):
            raise Unauthorized("missing or wrong credentials (HTTP Basic: XAPI_KEY:XAPI_SECRET)")

    def post_statements(self, body: Any, version: str | None) -> list[str]:
        return self.statements.post(body, version)

    # -- Canvas --------------------------------------------------------------------------

    def canvas_event(self, raw: bytes, token: str | None) -> Received:
        """A Live Event as Canvas's HTTPS delivery posts it: JSON with `?token=` in the URL,
        or, with "Sign Payload" on, a JWT signed by a key of CANVAS_JWKS_URL."""
        if canvas.SOURCE not in self.inbox.details:
            raise SourceOff("the Canvas source is off: set CANVAS_URL and CANVAS_TOKEN")
        text = raw.decode("utf-8", errors="replace").strip()
        if text.startswith("{"):
            if not _same(token, self.settings.enrollment_webhook_token):
                raise Unauthorized(
                    "missing or wrong token: an unsigned delivery goes to "
                    "/api/lms/canvas?token=<ENROLLMENT_WEBHOOK_TOKEN>"
                )
            payload = _json_object(text)
        elif _JWT.match(text):
            payload = self._verified(text)
        else:
            raise SourceError("body", "is neither a Live Event (JSON) nor a signed one (a JWT)")
        return self._receive(canvas.SOURCE, payload)

    def _verified(self, token: str) -> dict[str, Any]:
        for refresh in (False, True):
            jwks = self._key_set(refresh=refresh)
            try:
                return verify_signed_event(token, jwks)
            except SourceError as error:
                # A key newer than the cached set: fetch the set again, once.
                if refresh or "not in the key set" not in error.message:
                    raise Unauthorized(f"signed Live Event refused: {error.message}") from None
        raise AssertionError("unreachable")

    def _key_set(self, *, refresh: bool) -> Mapping[str, Any]:
        with self._jwks_lock:
            if (
                not refresh
                and self._jwks is not None
                and time.monotonic() - self._jwks[0] < JWKS_SECONDS
            ):
                return self._jwks[1]
            url = self.settings.canvas_jwks_url or canvas.JWKS_URL
            answer = request(self.http, "GET", url, what="Canvas's key set (CANVAS_JWKS_URL)")
            keys = answer.json("Canvas's key set")
            if not isinstance(keys, Mapping) or not isinstance(keys.get("keys"), list):
                raise LmsUnavailable("Canvas's key set is not a JWKS ({'keys': [...]})")
            self._jwks = (time.monotonic(), keys)
            return keys

    # -- Moodle --------------------------------------------------------------------------

    def moodle_event(self, raw: bytes) -> Received:
        """An event as Moodle's local_webhooks plugin posts it, its `token` field the secret."""
        if moodle.SOURCE not in self.inbox.details:
            raise SourceOff("the Moodle source is off: set MOODLE_URL and MOODLE_TOKEN")
        payload = _json_object(raw.decode("utf-8", errors="replace"))
        if not moodle.token_matches(payload, self.settings.enrollment_webhook_token):
            raise Unauthorized(
                'missing or wrong "token": set the plugin\'s token to ENROLLMENT_WEBHOOK_TOKEN'
            )
        # The secret is not kept with the event.
        kept = {name: value for name, value in payload.items() if name != "token"}
        return self._receive(moodle.SOURCE, kept)

    # -- both ----------------------------------------------------------------------------

    def _receive(self, source: str, payload: Mapping[str, Any]) -> Received:
        details = self.inbox.details[source]
        found = details.key(payload)
        if found is None:
            return Received("ignored")
        event_id, key = found
        if not self.inbox.accept(source, event_id, key, payload):
            return Received("duplicate", event_id)
        self.inbox.kick()
        return Received("accepted", event_id)


def _same(given: str | None, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(
        (given or "").strip().encode("utf-8"), expected.encode("utf-8")
    )


def _json_object(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text or "null")
    except ValueError:
        raise SourceError("body", "is not valid JSON") from None
    if not isinstance(payload, dict):
        raise SourceError("body", "must be a JSON object")
    return payload
