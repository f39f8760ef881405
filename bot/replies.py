"""Answers only the actor sees, wherever they clicked: a DM, a modal or the Home tab."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.prompts import Prompts

log = logging.getLogger(__name__)


def tell(client: WebClient, body: dict[str, Any], text: str, prompts: Prompts) -> None:
    """Ephemeral in the conversation clicked in; from App Home, a small modal instead."""
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        elif body.get("trigger_id"):
            client.views_open(
                trigger_id=body["trigger_id"], view=blocks.notice_modal(prompts, lines=[text])
            )
    except SlackApiError as exc:
        log.warning("tell.failed error=%s", exc.response.get("error"))


def clicked_message(body: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, ts) of the message whose button was clicked, if it was a message."""
    container = body.get("container") or {}
    if container.get("type") == "message" and container.get("channel_id"):
        return container["channel_id"], container["message_ts"]
    return None
