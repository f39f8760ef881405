"""Answers only the actor sees, wherever they clicked: a DM, a modal or the Home tab."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlmodel import Session

from bot.core.answers import Answered, Refusal, RefusalReason
from bot.prompts import Prompts
from bot.slack import blocks
from bot.slack.delivery import dm_after_change, nudge_context
from storage.models import Nudge

log = logging.getLogger(__name__)

# What a Web API call raises when Slack fails: an error answer (SlackApiError, also after the
# client's own retries ran out) or no answer at all (a time-out or a dropped connection reach
# us from urllib as OSError). Catching only SlackApiError lets a time-out escape.
SLACK_FAILURES: tuple[type[Exception], ...] = (SlackClientError, OSError)


def failure_reason(exc: BaseException) -> str:
    """A short, loggable reason: Slack's error code, or the kind of transport failure."""
    if isinstance(exc, SlackApiError):
        data = getattr(exc.response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
        return f"http_{getattr(exc.response, 'status_code', 'error')}"
    return type(exc).__name__


def actor_of(body: dict[str, Any]) -> str:
    """Who sent a command, click, submission or event: the reader of what answers them,
    whose stored locale (`Services.prompts_for`) picks its language."""
    for user in (body.get("user"), body.get("user_id"), (body.get("event") or {}).get("user")):
        if isinstance(user, dict):
            user = user.get("id")
        if isinstance(user, str) and user:
            return user
    return ""


def tell(client: WebClient, body: dict[str, Any], text: str, prompts: Prompts) -> None:
    """Ephemeral in the conversation clicked in; from App Home, a small modal instead."""
    user = str((body.get("user") or {}).get("id") or body.get("user_id") or "")
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        elif body.get("trigger_id"):
            client.views_open(
                trigger_id=body["trigger_id"], view=blocks.notice_modal(prompts, lines=[text])
            )
    except SLACK_FAILURES as exc:
        log.warning("tell.failed error=%s", failure_reason(exc))


def open_modal(
    client: WebClient, body: dict[str, Any], view: dict[str, Any], prompts: Prompts
) -> bool:
    """Open a modal on the click's trigger; if Slack fails, say so instead of going silent.

    A trigger_id lives three seconds, so waiting out a Retry-After and asking again would be
    refused anyway: the person clicks again instead.
    """
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
        return True
    except SLACK_FAILURES as exc:
        log.warning(
            "modal.open_failed view=%s error=%s", view.get("callback_id"), failure_reason(exc)
        )
        tell_fallback = dict(body)
        tell_fallback.pop("trigger_id", None)  # spent: a notice modal would fail the same way
        tell(client, tell_fallback, prompts.text("ephemeral.error"), prompts)
        return False


def clicked_message(body: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, ts) of the message whose button was clicked, if it was a message."""
    container = body.get("container") or {}
    if container.get("type") == "message" and container.get("channel_id"):
        return container["channel_id"], container["message_ts"]
    return None


def refusal_text(exc: Refusal, prompts: Prompts) -> str:
    """What a person is told when they click someone else's prompt, or one already answered."""
    if exc.reason is RefusalReason.NOT_YOURS:
        owner = blocks.mention(exc.owner_slack_id, exc.owner_name)
        return blocks.ephemeral_text("not_your_prompt", prompts, owner=owner)
    return prompts.text("ephemeral.already_answered")


def answered_dm(
    session: Session, done: Answered, prompts: Prompts, default_tz: str = "UTC"
) -> dict[str, Any]:
    """The prompt's DM once answered: what was recorded in place of the buttons (in a day's
    message about several, in that learner's part)."""
    bundle = dm_after_change(session, done.nudge, prompts, default_tz)
    if bundle is not None:
        return bundle
    ctx = nudge_context(session, done.nudge)
    lines = blocks.record_lines(done.record, prompts, ctx)
    return blocks.answered_message(ctx, prompts, lines, done.actor.slack_id, done.record.outcome)


def update_dm(
    client: WebClient,
    nudge: Nudge,
    message: dict[str, Any],
    *,
    also: tuple[str, str] | None = None,
) -> None:
    """Replace the prompt's DM (and the message clicked, if another) in place."""
    targets = []
    if nudge.channel and nudge.ts:
        targets.append((nudge.channel, nudge.ts))
    if also and also not in targets:
        targets.append(also)
    for channel, ts in targets:
        try:
            client.chat_update(
                channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
            )
        except SLACK_FAILURES as exc:
            # The record is stored either way (and must not roll back because Slack timed
            # out); a stale DM only shows buttons that now refuse.
            log.warning("dm.update_failed nudge=%s error=%s", nudge.id, failure_reason(exc))
