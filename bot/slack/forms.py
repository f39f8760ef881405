"""Reading Slack view submissions: flatten `view.state.values` into plain values."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot.slack.ids import INPUT_ACTION


def state_values(view: dict[str, Any]) -> dict[str, Any]:
    """{block_id: value} for every input in the view, whatever the element type."""
    flat: dict[str, Any] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        element: dict[str, Any] = actions.get(INPUT_ACTION) or next(iter(actions.values()), {})
        kind = element.get("type")
        if kind == "plain_text_input":
            value: Any = element.get("value")
        elif kind == "datepicker":
            value = element.get("selected_date")
        elif kind == "users_select":
            value = element.get("selected_user")
        elif kind == "multi_users_select":
            value = element.get("selected_users") or []
        elif kind in ("static_select", "radio_buttons"):
            value = (element.get("selected_option") or {}).get("value")
        elif kind == "checkboxes":
            value = [o.get("value") for o in element.get("selected_options") or []]
        else:
            value = element.get("value")
        flat[block_id] = value
    return flat


def text(values: dict[str, Any], block_id: str) -> str:
    return (values.get(block_id) or "").strip()


def picked_date(values: dict[str, Any], block_id: str) -> date | None:
    raw = values.get(block_id)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
