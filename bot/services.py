"""What every listener needs, built once per process and handed around explicitly."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlmodel import col

from bot.core.enrollment import Intake
from bot.prompts import Catalogues, Prompts
from bot.settings import Settings
from bot.slack.client import CountedWebClient
from storage.db import Database
from storage.models import Person, utcnow

log = logging.getLogger(__name__)

USERGROUP_CACHE_SECONDS = 300
QUICK_TIMEOUT = 2


@dataclass
class Services:
    settings: Settings
    db: Database
    client: WebClient
    catalogues: Catalogues
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

    @property
    def prompts(self) -> Prompts:
        """DEFAULT_LOCALE's texts: for what nobody in particular reads."""
        return self.catalogues.default

    def prompts_for(self, slack_id: str | None) -> Prompts:
        """The texts and date style of the person with this Slack id: their Slack locale as
        stored (the directory sync and user_change keep it), else DEFAULT_LOCALE.

        A snapshot read of its own, so it may be called while another session of the same
        thread holds SQLite's write lock; it never raises (the database being down must not
        stop a listener from saying so), it falls back to DEFAULT_LOCALE.
        """
        return self.catalogues.for_locale(self._locale_of(slack_id))

    def _locale_of(self, slack_id: str | None) -> str | None:
        if not slack_id:
            return None
        query = sa.select(col(Person.locale)).where(col(Person.slack_id) == slack_id)
        try:
            with self.db.engine.connect() as conn:
                conn = conn.execution_options(sqlite_begin="DEFERRED")
                return conn.execute(query).scalar_one_or_none()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("locale.read_failed user=%s error=%s", slack_id, type(exc).__name__)
            return None

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
