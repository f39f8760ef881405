"""xAPI statements as a Learning Record Store would keep them: by id, so one sent again is a
no-op, and so a voiding statement can undo the one it names (before or after it came)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.enrollment import COMPLETED, Intake
from bot.core.limits import TRAINING_NAME_MAX
from bot.core.sources.apply import OnOutcome, apply_event
from bot.core.sources.event import SourceEvent
from bot.core.sources.xapi import SOURCE, Statement, parse_statements
from storage import crud
from storage.models import XapiStatement

log = logging.getLogger(__name__)

VOIDED = "voided"


class StatementStore:
    def __init__(
        self,
        intake: Intake,
        *,
        on_outcome: OnOutcome,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.intake = intake
        self.db = intake.db
        self.on_outcome = on_outcome
        self.new_id = new_id

    def post(self, body: Any, version: str | None) -> list[str]:
        """`POST /statements`: every statement of the request, in order; the ids, as an LRS
        answers. Raises SourceError (the whole request refused, nothing stored) and
        LookupUnavailable (Slack down: the statements stored so far are no-ops when the
        store sends the request again)."""
        today = self.intake.today()
        kwargs = {"new_id": self.new_id} if self.new_id else {}
        statements = parse_statements(body, version, today=today, **kwargs)
        for statement in statements:
            for attempt in range(3):
                try:
                    with self.db.session() as session:
                        self._one(session, statement)
                    break
                except IntegrityError:
                    # The same statement in two requests at once: the other one stored it.
                    if attempt == 2:
                        raise
        return [s.id for s in statements]

    def _one(self, session: Session, statement: Statement) -> None:
        if crud.xapi_statement(session, statement_id=statement.id) is not None:
            log.info("xapi.duplicate statement=%s", statement.id)
            return
        if statement.voids is not None:
            self._void(session, statement)
            return
        event = statement.event
        if event is None:
            return  # a verb Coachbot does not act on: accepted, not kept
        row = XapiStatement(
            statement_id=statement.id.lower(),
            key=event.key,
            action=event.action,
            learner=event.learner_email,
            training=(event.training or "")[:TRAINING_NAME_MAX] or None,
            happened_on=event.completed_on if event.action == COMPLETED else event.starts_on,
        )
        voider = crud.xapi_voider_of(session, statement_id=statement.id)
        if voider is not None:
            row.voided_by, row.outcome = voider.statement_id, "voided before it came"
            session.add(row)
            return
        applied = apply_event(self.intake, session, event, self.on_outcome)
        if applied.outcome == "refused":
            # Not kept: sent again once the learner is in the directory, it is applied then.
            log.warning("xapi.refused statement=%s reason=%s", statement.id, applied.message)
            return
        row.outcome = applied.outcome if applied.message is None else applied.message[:300]
        session.add(row)

    def _void(self, session: Session, statement: Statement) -> None:
        assert statement.voids is not None
        target = crud.xapi_statement(session, statement_id=statement.voids)
        session.add(
            XapiStatement(
                statement_id=statement.id.lower(), action=VOIDED, voids=statement.voids.lower()
            )
        )
        if target is None or target.action == VOIDED or target.voided_by is not None:
            # Not here yet (it is voided when it comes), a voiding statement (which cannot
            # be voided), or voided already.
            return
        target.voided_by = statement.id.lower()
        session.add(target)
        session.flush()
        if target.key is not None:
            self._rederive(session, target.key, statement.id)

    def _rederive(self, session: Session, key: str, voiding_id: str) -> None:
        """The enrollment as the statements about it that still stand say it is: the last
        registration, completed by a completion after it, unless an unregistration came
        later. No registration left (it was voided): cancelled."""
        registration: XapiStatement | None = None
        completion: XapiStatement | None = None
        cancelled = False
        for row in crud.xapi_statements_of_key(session, key=key):
            if row.voided_by is not None or row.action == VOIDED:
                continue
            if row.action == "enrolled":
                registration, completion, cancelled = row, None, False
            elif row.action == COMPLETED and registration is not None:
                completion, cancelled = row, False
            elif row.action == "cancelled":
                cancelled = True
        if registration is None or cancelled:
            action = "cancelled"
        else:
            action = COMPLETED if completion is not None else "enrolled"
        starts_on: date | None = registration.happened_on if registration else None
        event = SourceEvent(
            key=key,
            action=action,  # type: ignore[arg-type]
            learner_email=registration.learner if registration else None,
            training=registration.training if registration else None,
            starts_on=starts_on if action != "cancelled" else None,
            ends_on=None,
            completed_on=completion.happened_on if completion else None,
            source=SOURCE,
            event_id=voiding_id,
        )
        applied = apply_event(self.intake, session, event, self.on_outcome)
        log.info("xapi.voided key=%s now=%s outcome=%s", key, action, applied.outcome)
