"""The Block Kit primitives every surface is built from, and Slack's limits on them."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from bot.core.limits import PERSON_NAME_MAX

# The mrkdwn text helpers live below the domain, which fills prompts with user text too.
from bot.mrkdwn import Mrkdwn, clip, escape, user_text
from bot.prompts import Prompts
from bot.slack.ids import INPUT_ACTION, Action, Block, View

# Slack's limits (https://api.slack.com/reference/block-kit).
SECTION_TEXT_MAX = 3000
CONTEXT_TEXT_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
SECTION_FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
OPTION_TEXT_MAX = 75
OPTIONS_MAX = 100
LABEL_MAX = 2000
HINT_MAX = 2000
PLACEHOLDER_MAX = 150
INPUT_VALUE_MAX = 3000
TITLE_MAX = 24
SUBMIT_MAX = 24
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
PRIVATE_METADATA_MAX = 3000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
FALLBACK_MAX = 3000
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
Json = dict[str, Any]


def _value(item: str | enum.Enum) -> str:
    # Enum members and their str values are both accepted wherever a kind or outcome is.
    return str(item.value) if isinstance(item, enum.Enum) else str(item)


def clip_mrkdwn(text: str, limit: int) -> str:
    """Like `clip`, but never leaves half an `&amp;` entity or half a `<…>` mention or link."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp >= len(cut) - 6 and ";" not in cut[amp:]:
        cut = cut[:amp]
    bracket = cut.rfind("<")
    if bracket >= len(cut) - 300 and bracket != -1 and ">" not in cut[bracket:]:
        cut = cut[:bracket]
    return cut.rstrip() + "…"


def mention(slack_id: str | None, name: str | None, fallback: str = "someone") -> Mrkdwn:
    """`<@U…>` when the Slack id is known, else the escaped name."""
    if slack_id and _SLACK_USER_ID.match(slack_id):
        return Mrkdwn(f"<@{slack_id}>")
    return user_text(name or fallback, PERSON_NAME_MAX)


def _quote(text: str) -> str:
    # A mrkdwn quote only covers one line, so quote every line.
    return "\n".join(f">{line}" for line in text.split("\n"))


def _plain(text: str, limit: int) -> Json:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def _md(text: str, limit: int = SECTION_TEXT_MAX) -> Json:
    return {"type": "mrkdwn", "text": clip_mrkdwn(text, limit) or " "}


def _section(text: str, accessory: Json | None = None) -> Json:
    block: Json = {"type": "section", "text": _md(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _fields(pairs: Sequence[str]) -> Json:
    return {
        "type": "section",
        "fields": [_md(text, FIELD_TEXT_MAX) for text in pairs[:SECTION_FIELDS_MAX]],
    }


def _header(text: str) -> Json:
    return {"type": "header", "text": _plain(text, HEADER_MAX)}


def _context(*texts: str) -> Json:
    return {
        "type": "context",
        "elements": [_md(text, CONTEXT_TEXT_MAX) for text in texts[:CONTEXT_ELEMENTS_MAX]],
    }


def _divider() -> Json:
    return {"type": "divider"}


def _button(
    text: str,
    action_id: Action,
    value: str,
    *,
    style: str | None = None,
    confirm: Json | None = None,
) -> Json:
    button: Json = {
        "type": "button",
        "action_id": str(action_id),
        "text": _plain(text, BUTTON_TEXT_MAX),
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _actions(*elements: Json) -> Json:
    return {"type": "actions", "elements": list(elements)}


def _option(text: str, value: str) -> Json:
    return {"text": _plain(text, OPTION_TEXT_MAX), "value": value}


def _input(
    block_id: Block,
    label: str,
    element: Json,
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Json:
    block: Json = {
        "type": "input",
        "block_id": str(block_id),
        "label": _plain(label, LABEL_MAX),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, HINT_MAX)
    return block


def _text_input(
    *,
    multiline: bool = True,
    placeholder: str | None = None,
    initial: str = "",
    max_length: int = INPUT_VALUE_MAX,
) -> Json:
    element: Json = {
        "type": "plain_text_input",
        "action_id": INPUT_ACTION,
        "multiline": multiline,
        "max_length": max_length,
    }
    if placeholder:
        element["placeholder"] = _plain(placeholder, PLACEHOLDER_MAX)
    if initial:
        # Cut hard, no ellipsis: the text is the user's own and must fit max_length.
        element["initial_value"] = initial[: min(max_length, INPUT_VALUE_MAX)]
    return element


def _datepicker(initial: date | None = None) -> Json:
    element: Json = {"type": "datepicker", "action_id": INPUT_ACTION}
    if initial is not None:
        element["initial_date"] = initial.isoformat()
    return element


def _modal(
    callback_id: View,
    title: str,
    blocks: list[Json],
    private_metadata: str,
    prompts: Prompts,
    *,
    submit: str | None = None,
    close: str | None = None,
) -> Json:
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        raise ValueError(f"private_metadata is {len(private_metadata)} characters, max 3000")
    view: Json = {
        "type": "modal",
        "callback_id": str(callback_id),
        "title": _plain(title, TITLE_MAX),
        "submit": _plain(submit or prompts.text("modals.submit"), SUBMIT_MAX),
        "close": _plain(close or prompts.text("modals.close"), SUBMIT_MAX),
        "blocks": blocks[:VIEW_BLOCKS_MAX],
    }
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def _message(fallback: str, blocks: list[Json]) -> Json:
    return {"text": clip_mrkdwn(fallback, FALLBACK_MAX), "blocks": blocks[:MESSAGE_BLOCKS_MAX]}


def _and_more(count: int, prompts: Prompts, key: str = "format.and_more") -> Json:
    return _context(prompts.text(key, count=count))


def ephemeral_text(key: str, prompts: Prompts, **values: object) -> str:
    """A short answer from [ephemeral]; str values are escaped unless they are Mrkdwn.

    Pass mentions as `mention(slack_id, name)` so they stay clickable.
    """
    safe = {
        name: value if isinstance(value, Mrkdwn) or not isinstance(value, str) else escape(value)
        for name, value in values.items()
    }
    full_key = key if key.startswith("ephemeral.") else f"ephemeral.{key}"
    return prompts.text(full_key, **safe)


def notice_modal(prompts: Prompts, *, lines: Sequence[str], title: str | None = None) -> Json:
    """A modal that only tells what happened (after a submission); `lines` are mrkdwn."""
    view: Json = {
        "type": "modal",
        "callback_id": str(View.NOTICE),
        "title": _plain(title or prompts.text("modals.notice_title"), TITLE_MAX),
        "close": _plain(prompts.text("modals.done"), SUBMIT_MAX),
        "blocks": [_section(line) for line in lines[:VIEW_BLOCKS_MAX]],
    }
    return view
