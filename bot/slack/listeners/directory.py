"""`user_change`: keeps time zones, deactivations, statuses and managers current."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.core.directory import user_changed
from bot.services import Services

log = logging.getLogger(__name__)


class DirectoryListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def user_change(self, ack: Ack, event: dict[str, Any]) -> None:
        """Acknowledged once stored (the status, zone or manager, and the re-planning in the
        same transaction), so a change the database could not take is sent again by Slack;
        applying the same change twice changes nothing."""
        user = event.get("user") or {}
        if not user.get("id"):
            return
        settings = self.services.settings
        with self.services.db.session() as session:
            person, moved = user_changed(
                session,
                user,
                manager_field_id=settings.slack_manager_field_id,
                rules=settings.rules,
                default_tz=settings.default_timezone,
                now=self.services.clock(),
            )
        ack()
        if person is not None:
            log.info("directory.user_change user=%s moved=%s", user["id"], moved)


def register(app: App, services: Services) -> None:
    app.event("user_change")(DirectoryListeners(services).user_change)
