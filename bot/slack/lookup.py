"""The core's PeopleLookup over Slack's Web API: Slack's failures become LookupUnavailable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.lookup import LookupUnavailable
from bot.slack.client import slack_error
from bot.slack.replies import failure_reason

NOBODY = ("users_not_found", "user_not_found")


class SlackPeopleLookup:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def user(self, ref: str) -> Mapping[str, Any] | None:
        try:
            if "@" in ref:
                return self.client.users_lookupByEmail(email=ref).get("user")
            return self.client.users_info(user=ref).get("user")
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
