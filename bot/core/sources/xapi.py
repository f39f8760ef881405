"""xAPI statements (as a Learning Record Store forwards them) to `SourceEvent`s.

Shapes follow the xAPI 1.0.3 specification (adlnet/xAPI-Spec, xAPI-Data.md and
xAPI-Communication.md §3.3) and IEEE 9274.1.1 (xAPI 2.0): one statement or an array, ids
assigned where missing, voiding by a `StatementRef`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.core.sources.event import Action, SourceError, SourceEvent, bounded_key, email_address

SOURCE = "xapi"
VERSION_HEADER = "X-Experience-API-Version"

REGISTERED = "http://adlnet.gov/expapi/verbs/registered"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
UNREGISTERED = "http://id.tincanapi.com/verb/unregistered"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"

VERB_ACTIONS: dict[str, Action] = {
    REGISTERED: "enrolled",
    COMPLETED: "completed",
    PASSED: "completed",
    UNREGISTERED: "cancelled",
}

# The spec makes an LRS accept "1.0" as "1.0.0" and every 1.0.x; 2.0.0 is IEEE 9274.1.1.
_HEADER_RE = re.compile(r"^(1\.0(\.\d+)?|2\.0\.0)$")
_STATEMENT_VERSION_RE = re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True)
class Statement:
    """One statement of a request, in the order it came.

    `id` is the statement's id (assigned here when it had none; the caller answers with
    these). `event` is what it means for an enrollment, None when the verb is not one
    Coachbot acts on. `voids` is the id of the statement a voiding statement undoes.
    """

    id: str
    event: SourceEvent | None
    voids: str | None = None


def check_version(header: str | None) -> str:
    """The version the request declares, or SourceError naming the header."""
    value = (header or "").strip()
    if not value:
        raise SourceError(
            VERSION_HEADER, "the header is required; send 1.0.3 (any 1.0.x works) or 2.0.0"
        )
    if not _HEADER_RE.match(value):
        raise SourceError(
            VERSION_HEADER, f"version {value!r} is not supported; send 1.0.x or 2.0.0"
        )
    return value


def parse_statements(
    body: Any,
    version_header: str | None,
    *,
    today: date,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> list[Statement]:
    """Validate a `POST /statements` request and read each statement.

    `today` dates a statement without `timestamp` (an LRS stamps it on arrival). The whole
    request is refused with SourceError if any statement is malformed, as an LRS refuses it,
    so a forwarding store never sees half a batch accepted.
    """
    check_version(version_header)
    if isinstance(body, Mapping):
        items, prefix = [body], ""
    elif isinstance(body, list):
        items, prefix = body, "statements"
    else:
        raise SourceError("body", "send one statement (a JSON object) or an array of them")
    out: list[Statement] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"{prefix}[{index}]." if prefix else ""
        statement = _statement(item, where, today, new_id)
        if statement.id.lower() in seen:
            raise SourceError(f"{where}id", f"{statement.id} appears twice in this request")
        seen.add(statement.id.lower())
        out.append(statement)
    return out


def _statement(item: Any, where: str, today: date, new_id: Callable[[], str]) -> Statement:
    if not isinstance(item, Mapping):
        raise SourceError(where.rstrip(".") or "body", "a statement is a JSON object")
    statement_id = item.get("id")
    if statement_id is None:
        statement_id = new_id()
    elif not _is_uuid(statement_id):
        raise SourceError(f"{where}id", "must be a UUID such as 3d6f…-…, or left out")
    version = item.get("version")
    if version is not None and not (
        isinstance(version, str) and _STATEMENT_VERSION_RE.match(version)
    ):
        raise SourceError(f"{where}version", "must be 1.0.0 (or 2.0.0), or left out")
    actor = _object(item, "actor", where)
    verb = _object(item, "verb", where)
    target = _object(item, "object", where)
    verb_id = verb.get("id")
    if not isinstance(verb_id, str) or not verb_id:
        raise SourceError(f"{where}verb.id", "is required: the verb's IRI")
    mbox = actor.get("mbox")
    if mbox is not None and not _is_mbox(mbox):
        raise SourceError(f"{where}actor.mbox", "must be mailto: followed by an email address")
    context = item.get("context")
    registration = context.get("registration") if isinstance(context, Mapping) else None
    if registration is not None and not _is_uuid(registration):
        raise SourceError(f"{where}context.registration", "must be a UUID, or left out")
    on = _timestamp(item.get("timestamp"), where, today)

    if verb_id == VOIDED:
        target_id = target.get("id")
        if target.get("objectType") != "StatementRef" or not _is_uuid(target_id):
            raise SourceError(
                f"{where}object",
                'a voiding statement\'s object is {"objectType": "StatementRef", '
                '"id": "<the voided statement\'s id>"}',
            )
        return Statement(id=statement_id, event=None, voids=str(target_id))

    action = VERB_ACTIONS.get(verb_id)
    # A group's statement is about several people at once, so there is no one learner.
    if action is None or actor.get("objectType") == "Group":
        return Statement(id=statement_id, event=None)
    if target.get("objectType", "Activity") != "Activity":
        return Statement(id=statement_id, event=None)
    learner = email_address(mbox)
    if learner is None:
        raise SourceError(
            f"{where}actor.mbox",
            "identify the learner by mbox (mailto:…); account, openid and mbox_sha1sum "
            "cannot be matched to a person in the directory",
        )
    activity = target.get("id")
    if not isinstance(activity, str) or not activity.strip():
        raise SourceError(f"{where}object.id", "is required: the activity's IRI")
    training = _name(target.get("definition"), where)
    if action == "enrolled" and training is None:
        raise SourceError(
            f"{where}object.definition.name",
            'is required to register: a language map such as {"en-US": "Coaching Skills"}',
        )
    parts = [learner, activity.strip()]
    if registration is not None:
        parts.append(str(registration).lower())
    event = SourceEvent(
        key=bounded_key(SOURCE, *parts),
        action=action,
        learner_email=learner,
        training=training,
        starts_on=on if action == "enrolled" else None,
        ends_on=None,  # a registration is self-paced: the completion says when it ended
        completed_on=on if action == "completed" else None,
        source=SOURCE,
        event_id=statement_id,
    )
    return Statement(id=statement_id, event=event)


def _object(item: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = item.get(name)
    if not isinstance(value, Mapping):
        raise SourceError(f"{where}{name}", "is required (a JSON object)")
    return value


def _is_mbox(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value[:7].lower() == "mailto:"
        and email_address(value) is not None
    )


def _is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID_RE.match(value))


def _timestamp(value: Any, where: str, today: date) -> date:
    """The date of `timestamp` in the offset it was written in (the learner's day, not UTC's)."""
    if value is None:
        return today
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            pass
    raise SourceError(
        f"{where}timestamp", "must be ISO 8601 with its offset, e.g. 2026-12-01T09:30:00+01:00"
    )


def _name(definition: Any, where: str) -> str | None:
    """`definition.name` in en-US, else en, else another English, else the first given."""
    if not isinstance(definition, Mapping) or definition.get("name") is None:
        return None
    names = definition["name"]
    if not isinstance(names, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in names.items()
    ):
        raise SourceError(
            f"{where}object.definition.name",
            'must be a language map such as {"en-US": "Coaching Skills"}',
        )
    by_tag = {tag.lower(): text.strip() for tag, text in names.items() if text.strip()}
    for tag in ("en-us", "en"):
        if tag in by_tag:
            return by_tag[tag]
    english = [text for tag, text in by_tag.items() if tag.startswith("en-")]
    if english:
        return english[0]
    return next(iter(by_tag.values()), None)
