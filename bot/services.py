"""What every listener needs, built once per process and handed around explicitly."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.enrollment import Intake
from bot.prompts import Prompts
from bot.settings import Settings
from bot.slack.client import CountedWebClient
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)

USERGROUP_CACHE_SECONDS = 300
QUICK_TIMEOUT = 2


@dataclass
class Services:
    settings: Settings
    db: Database
    client: WebClient
    prompts: Prompts
    # The Home tab's publisher, handed in by the Slack adapter that builds the tab (wired in
    # bot.slack.app), so that this bag never imports the builder that reads it.
    publish_home: Callable[[Services, str], None]
    intake: Intake
    clock: Callable[[], datetime] = utcnow
    # Sends these nudges now if they are due (a goal just shared), as the dispatcher would;
    # wired by create_app.
    deliver_now: Callable[[Sequence[int]], object] = lambda _ids: None
    _group: frozenset[str] = field(default=frozenset(), init=False)
    _group_read_at: float = field(default=-1e9, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _quick: WebClient | None = field(default=None, init=False)

    def is_ld_lead(self, user_id: str) -> bool:
        """LD_LEADS, plus the members of LD_USERGROUP (read at most every five minutes)."""
        if user_id in self.settings.ld_leads:
            return True
        if not self.settings.ld_usergroup:
            return False
        with self._lock:
            if time.monotonic() - self._group_read_at > USERGROUP_CACHE_SECONDS:
                try:
                    users = (
                        self._quick_client()
                        .usergroups_users_list(usergroup=self.settings.ld_usergroup)
                        .get("users")
                    )
                    self._group = frozenset(users or ())
                    self._group_read_at = time.monotonic()
                except (SlackClientError, OSError) as exc:
                    # Slack failed or timed out: keep the last known members (LD_LEADS still
                    # count), and ask again on the next check rather than in five minutes.
                    reason = (
                        exc.response.get("error")
                        if isinstance(exc, SlackApiError)
                        else type(exc).__name__
                    )
                    log.warning("ld_usergroup.read_failed error=%s", reason)
            return user_id in self._group

    def _quick_client(self) -> WebClient:
        """For reads made before a listener's ack: one try, two seconds at most, so a slow or
        failing Slack cannot push the ack past Slack's three seconds (retries with backoff
        could; Bolt then answers 404)."""
        if self._quick is None:
            self._quick = CountedWebClient(
                token=self.client.token, base_url=self.client.base_url, timeout=QUICK_TIMEOUT
            )
            self._quick.retry_handlers = []
        return self._quick

    def refresh_home(self, user_id: str) -> None:
        """Re-publish a user's Home tab after they acted, so it never shows stale buttons."""
        try:
            self.publish_home(self, user_id)
        except Exception:
            log.warning("home.refresh_failed user=%s", user_id, exc_info=True)
