"""Turns an enrollment into nudge rows, and keeps them right when the enrollment changes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from scheduler.planning import Rules, Slot, plan_enrollment, zone
from storage.models import (
    LEARNER_NUDGES,
    MANAGER_PROMPTS,
    Enrollment,
    EnrollmentStatus,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Person,
    utcnow,
)

log = logging.getLogger(__name__)

# Statuses a re-plan may still move: nothing has gone out for these rows yet.
REPLANNABLE = (NudgeStatus.PENDING, NudgeStatus.SKIPPED, NudgeStatus.CANCELLED)
PLANNED_KINDS = (*LEARNER_NUDGES, *MANAGER_PROMPTS)

# Marks the reason of a pending row whose last attempt may have reached Slack (the answer was
# lost): whoever sends it next looks for the message first. Kept in `reason` so that no
# schema change is needed; it survives re-plans and deferrals until a sender has looked.
UNCERTAIN = "may have been sent; "


def is_uncertain(reason: str | None) -> bool:
    return bool(reason and reason.startswith(UNCERTAIN))


def nudge_key(enrollment: Enrollment, kind: str) -> str:
    return f"e{enrollment.id}.g{enrollment.generation}.{kind}"


def reminder_key(parent: Nudge, number: int) -> str:
    return f"n{parent.id}.reminder.{number}"


def plan_nudges(
    session: Session, enrollment: Enrollment, *, now: datetime, rules: Rules, default_tz: str
) -> list[Nudge]:
    """Create or re-plan the nudges of one enrollment; returns the rows it touched.

    Idempotent: planning the same enrollment twice changes nothing. A nudge that already
    went out is never planned again for the same generation of the enrollment.
    """
    assert enrollment.id is not None
    existing = {
        n.idempotency_key: n
        for n in session.exec(select(Nudge).where(Nudge.enrollment_id == enrollment.id)).all()
    }
    if enrollment.status == EnrollmentStatus.CANCELLED:
        return _cancel_open(existing.values(), reason="enrollment cancelled")

    learner = session.get(Person, enrollment.learner_id)
    manager = session.get(Person, enrollment.manager_id) if enrollment.manager_id else None
    assert learner is not None
    slots = plan_enrollment(
        starts_on=enrollment.starts_on,
        ends_on=enrollment.ends_on,
        learner_tz=zone(learner.tz, default_tz),
        manager_tz=zone(manager.tz, default_tz) if manager else None,
        now=now,
        rules=rules,
    )
    touched: list[Nudge] = []
    for kind in PLANNED_KINDS:
        recipient = learner if kind in LEARNER_NUDGES else manager
        key = nudge_key(enrollment, kind)
        row = existing.get(key)
        slot = slots.get(kind)
        if recipient is None or slot is None:
            if row is not None and row.status in (NudgeStatus.PENDING,):
                touched += _cancel_open([row], reason="no manager for this enrollment")
            continue
        if row is not None and row.status not in REPLANNABLE:
            continue
        if row is None:
            row = Nudge(
                enrollment_id=enrollment.id,
                kind=kind,
                recipient_id=recipient.id,  # type: ignore[arg-type]
                due_at=slot.due_at or now,
                idempotency_key=key,
            )
        _apply_slot(row, slot, recipient, now)
        session.add(row)
        touched.append(row)

    # Reminders point at a DM the previous manager received; a new manager never saw it.
    for row in existing.values():
        if (
            row.kind == NudgeKind.REMINDER
            and row.status == NudgeStatus.PENDING
            and (manager is None or row.recipient_id != manager.id)
        ):
            touched += _cancel_open([row], reason="manager changed")
    session.flush()
    return touched


def _apply_slot(row: Nudge, slot: Slot, recipient: Person, now: datetime) -> None:
    row.recipient_id = recipient.id  # type: ignore[assignment]
    row.updated_at = now
    row.lease_until = None
    if not recipient.active:
        row.status, row.reason = NudgeStatus.SKIPPED, "recipient is deactivated in Slack"
    elif slot.due_at is None:
        row.status, row.reason = NudgeStatus.SKIPPED, slot.skip_reason
    else:
        # A re-plan must not forget that the last attempt may have gone out.
        keep = UNCERTAIN if row.status == NudgeStatus.PENDING and is_uncertain(row.reason) else None
        row.status, row.reason, row.due_at = NudgeStatus.PENDING, keep, slot.due_at
        row.attempts = 0
        row.ooo_deferrals = 0


def _cancel_open(rows: object, *, reason: str) -> list[Nudge]:
    cancelled = []
    for row in rows:  # type: ignore[attr-defined]
        if row.status == NudgeStatus.PENDING:
            row.status, row.reason, row.updated_at = NudgeStatus.CANCELLED, reason, utcnow()
            cancelled.append(row)
    return cancelled


def replan_manager_nudges(
    session: Session, *, learner: Person, now: datetime, rules: Rules, default_tz: str
) -> int:
    """A learner's manager changed: their open enrollments follow, pending nudges re-routed."""
    # The follow-up goes out a month after the end (and may be late by max_late_days), so an
    # enrollment that ended weeks ago can still have a manager nudge waiting.
    horizon = now.date() - timedelta(days=rules.follow_up_days + rules.max_late_days + 7)
    enrollments = session.exec(
        select(Enrollment).where(
            Enrollment.learner_id == learner.id,
            Enrollment.status == EnrollmentStatus.ENROLLED,
            col(Enrollment.ends_on) >= horizon,
        )
    ).all()
    count = 0
    for enrollment in enrollments:
        if enrollment.manager_id != learner.manager_id:
            enrollment.manager_id = learner.manager_id
            enrollment.updated_at = now
            session.add(enrollment)
            plan_nudges(session, enrollment, now=now, rules=rules, default_tz=default_tz)
            count += 1
    return count
