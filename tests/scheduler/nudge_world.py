"""Helpers for the nudge engine's tests: the fake Slack, a real database, an injected clock,
the real intake, the real SlackSender and the real Dispatcher."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlmodel import select
from support import Clock, make_settings

from bot.core.directory import apply_slack_user
from bot.core.enrollment import EnrollmentInput
from bot.prompts import load_catalogues
from bot.runtime import make_dispatcher
from bot.sim.fakeslack import FakeSlack
from bot.slack.client import RateLimiter, make_client
from bot.slack.ids import NUDGE_EVENT_TYPE
from bot.slack.lookup import make_intake
from scheduler.dispatcher import Dispatcher, TickReport
from storage.db import Database
from storage.models import Enrollment, Nudge, Person

LEARNER, MANAGER, OTHER_MANAGER = "UADA", "UGRACE", "UALAN"


class World:
    def __init__(self, db: Database, fake: FakeSlack, clock: Clock, **settings: Any) -> None:
        self.db, self.fake, self.clock = db, fake, clock
        self.settings = make_settings(fake, db.url, **settings)
        self.client = self.make_client()
        self.catalogues = load_catalogues(None)
        self.intake = make_intake(self.settings, db, self.client, clock=clock)

    def configure(self, **settings: Any) -> None:
        self.settings = replace(self.settings, **settings)
        self.intake.rules = self.settings.rules

    def make_client(self, timeout: int = 5) -> Any:
        # The limiter runs on the test clock: advancing the clock refills its buckets.
        limiter = RateLimiter(clock=lambda: self.clock().timestamp(), sleep=lambda _s: None)
        return make_client(
            "xoxb-test-token",
            self.fake.api_url,
            timeout=timeout,
            rate_limit_retries=0,
            limiter=limiter,
        )

    def people(self) -> None:
        """A learner in Paris, a manager in New York, another manager in Tokyo."""
        self.fake.add_user(LEARNER, email="ada@example.org", real_name="Ada", tz="Europe/Paris")
        self.fake.add_user(
            MANAGER, email="grace@example.org", real_name="Grace", tz="America/New_York"
        )
        self.fake.add_user(
            OTHER_MANAGER, email="alan@example.org", real_name="Alan", tz="Asia/Tokyo"
        )

    def set_status(self, slack_id: str, text: str, emoji: str, expiration: int = 0) -> None:
        """A Slack status change, and the `user_change` event Slack sends about it."""
        self.fake.set_status(slack_id, text, emoji, expiration)
        with self.db.session() as session:
            apply_slack_user(session, self.fake.users[slack_id])

    def enroll(
        self,
        starts_on: date,
        ends_on: date,
        *,
        learner: str = LEARNER,
        manager: str | None = MANAGER,
        external_id: str | None = "lms-1",
        status: str = "enrolled",
        training: str = "Coaching Skills",
    ) -> int:
        with self.db.session() as session:
            result = self.intake.enroll(
                session,
                EnrollmentInput(
                    learner=learner,
                    manager=manager,
                    training=training,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    external_id=external_id,
                    status=status,
                ),
            )
            assert result.enrollment.id is not None
            return result.enrollment.id

    def dispatcher(self, sender: Any = None, client: Any = None, **kwargs: Any) -> Dispatcher:
        dispatcher = make_dispatcher(
            self.settings, self.db, client or self.client, self.catalogues, clock=self.clock
        )
        if sender is not None:
            dispatcher.sender = sender
        for name, value in kwargs.items():
            setattr(dispatcher, name, value)
        return dispatcher

    def tick(self) -> TickReport:
        return self.dispatcher().tick()

    def at(self, when: datetime) -> TickReport:
        self.clock.set(when)
        return self.tick()

    def nudges(self, **where: Any) -> list[Nudge]:
        with self.db.session() as session:
            query = select(Nudge).order_by(Nudge.id)
            for name, value in where.items():
                query = query.where(getattr(Nudge, name) == value)
            return list(session.exec(query).all())

    def nudge(self, **where: Any) -> Nudge:
        (row,) = self.nudges(**where)
        return row

    def by_kind(self, enrollment_id: int | None = None) -> dict[str, Nudge]:
        rows = self.nudges() if enrollment_id is None else self.nudges(enrollment_id=enrollment_id)
        kinds = [r.kind for r in rows]
        assert len(kinds) == len(set(kinds)), kinds
        return {r.kind: r for r in rows}

    def person(self, slack_id: str) -> Person:
        """The directory's row for a Slack user, read from Slack on first use."""
        with self.db.session() as session:
            found = session.exec(select(Person).where(Person.slack_id == slack_id)).first()
            return found or self.intake.resolve(session, slack_id, "person")

    def enrollment(self, enrollment_id: int) -> Enrollment:
        with self.db.session() as session:
            found = session.get(Enrollment, enrollment_id)
            assert found is not None
            return found

    def update(self, nudge_id: int, **values: Any) -> None:
        with self.db.session() as session:
            row = session.get(Nudge, nudge_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)

    def posts(self, nudge_id: int | None = None) -> list[dict[str, Any]]:
        """Messages Coachbot posted for nudges, as Slack stored them."""
        with self.fake._lock:
            messages = list(self.fake.messages)
        found = []
        for message in messages:
            meta = message.get("metadata") or {}
            if meta.get("event_type") != NUDGE_EVENT_TYPE:
                continue
            payload = meta["event_payload"]
            # A day's message carries every nudge in it; its lead is `nudge_id`.
            if nudge_id is None or nudge_id in payload.get("nudge_ids", [payload["nudge_id"]]):
                found.append(message)
        return found

    def dms(self, slack_id: str) -> list[dict[str, Any]]:
        return self.fake.dms_to(slack_id)
