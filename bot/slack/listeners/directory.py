"""`user_change`: keeps time zones, deactivations, statuses and managers current."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from sqlmodel import col, or_, select

from bot.core.directory import apply_slack_user
from bot.services import Services
from scheduler.nudges import plan_nudges, replan_manager_nudges
from storage.crud import person_by_slack_id
from storage.models import Enrollment, EnrollmentStatus

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    settings = services.settings

    @app.event("user_change")
    def user_change(ack: Ack, event: dict[str, Any]) -> None:
        """Acknowledged once stored (the status, zone or manager, and the re-planning in the
        same transaction), so a change the database could not take is sent again by Slack;
        applying the same change twice changes nothing."""
        user = event.get("user") or {}
        if not user.get("id"):
            return
        now = services.clock()
        with services.db.session() as session:
            before = None
            existing = person_by_slack_id(session, slack_id=user["id"])
            if existing is not None:
                before = (existing.tz, existing.active)
            person, moved = apply_slack_user(
                session, user, manager_field_id=settings.slack_manager_field_id, now=now
            )
            if person is None:
                return
            if moved:
                replan_manager_nudges(
                    session,
                    learner=person,
                    now=now,
                    rules=settings.rules,
                    default_tz=settings.default_timezone,
                )
            if before is not None and before != (person.tz, person.active):
                # A new time zone or a deactivation changes when (or whether) nudges go out.
                enrollments = session.exec(
                    select(Enrollment).where(
                        Enrollment.status == EnrollmentStatus.ENROLLED,
                        or_(
                            Enrollment.learner_id == person.id,
                            Enrollment.manager_id == person.id,
                        ),
                        col(Enrollment.ends_on) >= now.date().replace(year=now.year - 1),
                    )
                ).all()
                for enrollment in enrollments:
                    plan_nudges(
                        session,
                        enrollment,
                        now=now,
                        rules=settings.rules,
                        default_tz=settings.default_timezone,
                    )
        ack()
        log.info("directory.user_change user=%s moved=%s", user["id"], moved)
