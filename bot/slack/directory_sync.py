"""The directory from Slack's `users.list`: one call per 200 people rather than one
`users.lookupByEmail` per person, each user stored by `apply_slack_user`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.core.directory import apply_slack_user
from scheduler.nudges import replan_manager_nudges
from scheduler.planning import Rules
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)


def sync_from_slack(
    db: Database,
    client: WebClient,
    *,
    rules: Rules,
    default_tz: str,
    manager_field_id: str = "",
    clock: Callable[[], datetime] = utcnow,
    page_size: int = 200,
) -> int:
    """Page through `users.list`, one transaction per page; returns how many people it saw."""
    seen = 0
    cursor = None
    while True:
        # include_locale: each person's language comes with them (Slack leaves it out unasked).
        response = client.users_list(limit=page_size, cursor=cursor, include_locale=True)
        members: Iterable[Mapping[str, Any]] = response.get("members") or []
        with db.session() as session:
            for user in members:
                now = clock()
                person, moved = apply_slack_user(
                    session, user, manager_field_id=manager_field_id, now=now
                )
                if person is None:
                    continue
                seen += 1
                if moved:
                    replan_manager_nudges(
                        session, learner=person, now=now, rules=rules, default_tz=default_tz
                    )
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    log.info("directory.sync people=%s", seen)
    return seen
