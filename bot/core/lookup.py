"""How the domain asks Slack about people it has not met, without importing slack_sdk.

`PeopleLookup` is the port; bot/slack/lookup.py implements it over the Web API. Its answers
are Slack's own user and profile objects, which bot.core.directory reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class LookupUnavailable(Exception):
    """Slack did not answer (an error answer, a time-out, a dropped connection): nothing is
    known either way, so the caller says "try again later", never "matches nobody"."""


class PeopleLookup(Protocol):
    def user(self, ref: str) -> Mapping[str, Any] | None:
        """The user with this email or Slack id (`users.lookupByEmail`, `users.info`); None
        when Slack knows nobody by it. Raises LookupUnavailable."""
        ...

    def profile(self, slack_id: str) -> Mapping[str, Any] | None:
        """The user's profile, custom fields included (`users.profile.get`); None when Slack
        refuses to give it. Raises LookupUnavailable when Slack does not answer."""
        ...
