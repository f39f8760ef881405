"""The markup every prompt is written in (Slack's mrkdwn) and how user text is made inert in it.

Below both the domain and the Slack adapter: the summary's text lines (core) and the Block Kit
builders (bot.slack.blocks) fill the same prompts with the same escaped user text.
"""

from __future__ import annotations


class Mrkdwn(str):
    """Text already safe inside mrkdwn (escaped user text, mentions), inserted as is."""


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def escape(text: str) -> Mrkdwn:
    """User text made inert in mrkdwn: Slack's three control characters, nothing else."""
    return Mrkdwn(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def user_text(text: str, limit: int) -> Mrkdwn:
    """User text clipped to `limit` characters (before escaping), then escaped."""
    return escape(clip(text, limit))
