"""Forgetting a person and retaining free text only as long as configured.

What is deleted: the person's profile (name, email, Slack id, time zone, status), their
goals, the notes they wrote, the free text of every answer they gave or that was
written about their trainings, and their Success Case answers (a learner's, with what their
manager said about them; a manager's own), so no summary names or counts them as a case
again. What stays: anonymous rows (an enrollment happened, a prompt was answered "applied"),
so the other L&D counts do not change after the fact.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, delete, select

from storage import crud
from storage.db import Database
from storage.models import (
    OPEN_NUDGE_STATUSES,
    CaseRecord,
    ConversationRecord,
    Enrollment,
    Goal,
    Note,
    Nudge,
    NudgeStatus,
    Person,
    utcnow,
)

log = logging.getLogger(__name__)

FREE_TEXT = ("what", "why", "how", "takeaways", "first_application", "support", "note")
CASE_TEXT = ("result", "evidence")


def forget_person(db: Database, who: str, *, now: datetime | None = None) -> str | None:
    """Delete a person's personal data; returns a one-line account, or None if unknown."""
    now = now or utcnow()
    with db.session() as session:
        person = crud.find_person(session, key=who)
        if person is None:
            return None
        counts = _forget(session, person, now)
    # The audit line names the row and what was removed, never the removed text.
    log.info("privacy.forget person=%s goals=%s notes=%s answers=%s cases=%s", person.id, *counts)
    return (
        f"Forgot person #{person.id}: {counts[0]} goals, {counts[1]} notes and "
        f"{counts[3]} success case answers deleted, {counts[2]} answers cleared of free text; "
        "anonymous counts kept."
    )


def _forget_cases(session: Session, person: Person) -> int:
    """A learner's Success Case answers (theirs and their manager's about them), and the
    ones a manager gave: with them go the result, the evidence and the consent."""
    their_enrollments = select(Enrollment.id).where(Enrollment.learner_id == person.id)
    return int(
        session.execute(
            delete(CaseRecord).where(
                or_(
                    CaseRecord.answered_by == person.id,  # type: ignore[arg-type]
                    col(CaseRecord.enrollment_id).in_(their_enrollments),
                )
            )
        ).rowcount  # type: ignore[attr-defined]
        or 0
    )


def _forget(session: Session, person: Person, now: datetime) -> tuple[int, int, int, int]:
    goals = session.exec(select(Goal).where(Goal.learner_id == person.id)).all()
    for goal in goals:
        session.delete(goal)
    notes = session.exec(select(Note).where(Note.author_id == person.id)).all()
    for note in notes:
        session.delete(note)
    their_enrollments = select(Enrollment.id).where(Enrollment.learner_id == person.id)
    cases = _forget_cases(session, person)
    cleared = session.execute(
        update(ConversationRecord)
        .where(
            or_(
                ConversationRecord.answered_by == person.id,  # type: ignore[arg-type]
                col(ConversationRecord.enrollment_id).in_(their_enrollments),
            )
        )
        .values({name: None for name in FREE_TEXT})
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        delete(Note).where(
            col(Note.nudge_id).in_(
                select(Nudge.id)
                .join(Enrollment, col(Enrollment.id) == Nudge.enrollment_id)
                .where(Enrollment.learner_id == person.id)
            )
        )
    )
    # Nothing more goes out to or about them, and nothing links the row to anyone.
    for nudge in session.exec(
        select(Nudge)
        .join(Enrollment, col(Enrollment.id) == Nudge.enrollment_id)
        .where(
            or_(Enrollment.learner_id == person.id, Nudge.recipient_id == person.id),  # type: ignore[arg-type]
            col(Nudge.status).in_(OPEN_NUDGE_STATUSES),
        )
    ).all():
        nudge.status, nudge.reason, nudge.updated_at = (
            NudgeStatus.CANCELLED,
            "person forgotten",
            now,
        )
        session.add(nudge)
    if person.slack_id:
        session.execute(
            update(Enrollment)
            .where(Enrollment.enrolled_by == person.slack_id)  # type: ignore[arg-type]
            .values(enrolled_by=None)
        )
    session.execute(
        update(Person).where(Person.manager_id == person.id).values(manager_id=None)  # type: ignore[arg-type]
    )
    person.manager_id = None
    person.slack_id = None
    person.email = None
    person.name = None
    person.tz = None
    person.locale = None
    person.status_text = None
    person.status_emoji = None
    person.status_expiration = None
    person.active = False
    person.updated_at = now
    session.add(person)
    return len(goals), len(notes), int(cleared or 0), cases


def apply_retention(db: Database, days: int, *, now: datetime | None = None) -> int:
    """Clear free text older than `days`; returns how many rows lost text."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with db.session() as session:
        cleared = session.execute(
            update(ConversationRecord)
            .where(col(ConversationRecord.answered_at) < cutoff)
            .values({name: None for name in FREE_TEXT})
        ).rowcount  # type: ignore[attr-defined]
        notes = session.execute(delete(Note).where(col(Note.created_at) < cutoff)).rowcount  # type: ignore[attr-defined]
        cases = session.execute(
            update(CaseRecord)
            .where(
                col(CaseRecord.answered_at) < cutoff,
                or_(col(CaseRecord.result).is_not(None), col(CaseRecord.evidence).is_not(None)),
            )
            .values({name: None for name in CASE_TEXT})
        ).rowcount  # type: ignore[attr-defined]
        goals = session.execute(
            update(Goal).where(col(Goal.created_at) < cutoff).values(text="", measure=None)
        ).rowcount  # type: ignore[attr-defined]
    total = int(cleared or 0) + int(notes or 0) + int(goals or 0) + int(cases or 0)
    log.info("privacy.retention days=%s rows=%s", days, total)
    return total
