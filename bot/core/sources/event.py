"""The one neutral shape every learning-system source produces, and the error it raises.

A source reads its vendor's message and hands back `SourceEvent`s; the caller stores them the
way it stores a `POST /api/enrollments` body, so the rules live in one place.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Action = Literal["enrolled", "cancelled", "completed"]

# The enrollments table holds external ids of at most this many characters.
MAX_KEY = 200

_EMAIL_RE = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")


@dataclass(frozen=True)
class SourceEvent:
    """One thing a learning system says about one learner's enrollment.

    `key` is the enrollment's external id, stable across the source's messages about it;
    `event_id` is the message's own id, so a message delivered twice is applied once;
    `ends_on` None means self-paced; `sequence` is iCalendar's SEQUENCE, so an older
    revision of an invite that arrives late does not undo a newer one.
    """

    key: str
    action: Action
    learner_email: str | None
    training: str | None
    starts_on: date | None
    ends_on: date | None
    completed_on: date | None
    source: str
    event_id: str
    sequence: int | None = None

    @classmethod
    def cancellation(cls, key: str, source: str, event_id: str) -> SourceEvent:
        """The event that cancels enrollment `key`: the stored enrollment already says who
        and what, so the message needs to say no more."""
        # No learner_email, training, starts_on, ends_on or completed_on: the stored row has them.
        return cls(key, "cancelled", None, None, None, None, None, source, event_id)

    def as_enrollment(self) -> dict[str, Any]:
        """The body `POST /api/enrollments` would take for this event (no manager: the
        directory knows it)."""
        body: dict[str, Any] = {"external_id": self.key, "status": self.action}
        if self.learner_email is not None:
            body["learner_email"] = self.learner_email
        if self.training is not None:
            body["training"] = self.training
        if self.starts_on is not None:
            body["starts_on"] = self.starts_on.isoformat()
        if self.ends_on is not None:
            body["ends_on"] = self.ends_on.isoformat()
        if self.completed_on is not None:
            body["completed_on"] = self.completed_on.isoformat()
        return body


class SourceError(ValueError):
    """Input a source cannot use: `field` names the part at fault, the message what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def email_address(value: object) -> str | None:
    """The address of `mailto:x` or `x`, lower-cased as the directory stores it; None if
    it is not an email address."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    text = text.lower()
    if len(text) > 254 or not _EMAIL_RE.match(text):
        return None
    return text


def digest(*parts: object) -> str:
    """A short stable fingerprint of `parts`, for ids that must fit a column."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:40]


def bounded_key(prefix: str, *parts: str) -> str:
    """`prefix:part|part…`, readable while it fits `MAX_KEY`, else a fingerprint of it.

    Activity IRIs and calendar UIDs have no length limit, external ids have one.
    """
    readable = f"{prefix}:" + "|".join(parts)
    if len(readable) <= MAX_KEY:
        return readable
    return f"{prefix}:#{digest(*parts)}"


def check_order(starts_on: date, ends_on: date | None, field: str, what: str) -> None:
    """Raise SourceError on `field` when `what` (e.g. "course 7") ends before it starts."""
    if ends_on is not None and ends_on < starts_on:
        raise SourceError(field, f"{what} ends ({ends_on}) before it starts ({starts_on})")
