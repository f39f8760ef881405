"""The core's PeopleLookup over Slack's Web API: Slack's failures become LookupUnavailable."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.enrollment import Intake
from bot.core.lookup import LookupUnavailable
from bot.settings import Settings
from bot.slack.client import slack_error
from bot.slack.replies import failure_reason
from storage.db import Database
from storage.models import utcnow

NOBODY = ("users_not_found", "user_not_found")


class SlackPeopleLookup:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def user(self, ref: str) -> Mapping[str, Any] | None:
        try:
            if "@" in ref:
                return self.client.users_lookupByEmail(email=ref).get("user")
            return self.client.users_info(user=ref, include_locale=True).get("user")
        except SlackApiError as exc:
            if slack_error(exc) in NOBODY:
                return None
            raise LookupUnavailable(failure_reason(exc)) from exc
        except (SlackClientError, OSError) as exc:
            raise LookupUnavailable(failure_reason(exc)) from exc

    def profile(self, slack_id: str) -> Mapping[str, Any] | None:
        try:
            return self.client.users_profile_get(user=slack_id).get("profile") or {}
        except SlackApiError:
            return None  # not allowed or not there: the manager stays unknown, as before
        except (SlackClientError, OSError) as exc:
            raise LookupUnavailable(failure_reason(exc)) from exc


def make_intake(
    settings: Settings,
    db: Database,
    client: WebClient | None,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Intake:
    """The intake every door uses (the app, the webhook, the CSV import); without a client
    it looks nobody up in Slack."""
    return Intake(
        db,
        rules=settings.rules,
        default_tz=settings.default_timezone,
        people=SlackPeopleLookup(client) if client is not None else None,
        manager_field_id=settings.slack_manager_field_id,
        clock=clock,
    )
