"""The Slack Web API client: honours SLACK_API_URL, retries rate limits and server errors."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

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


def make_client(
    token: str, base_url: str, *, timeout: int = 10, rate_limit_retries: int = 3
) -> WebClient:
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
        ServerErrorRetryHandler(max_retry_count=2),
    ]
    return client


def slack_error(exc: SlackApiError) -> str:
    """The short error code Slack answered with, such as `user_not_found`."""
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return f"http_{getattr(exc.response, 'status_code', 'error')}"


def is_permanent(exc: SlackApiError) -> bool:
    return slack_error(exc) in PERMANENT_ERRORS
