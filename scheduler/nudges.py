"""Turns an enrollment into nudge rows, and keeps them right when the enrollment changes.

`planned_rounds` is the one rule for what an enrollment's nudges are (when, or why not);
`plan_nudges` stores it for one enrollment, the CSV import's bulk path for many.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import NamedTuple, Protocol

from sqlmodel import Session, col, or_, select

from scheduler.planning import PlanMemo, Rules, round_key, zone
from storage.models import (
    LEARNER_NUDGES,
    MANAGER_PROMPTS,
    Enrollment,
    EnrollmentStatus,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Person,
)

log = logging.getLogger(__name__)

# Statuses a re-plan may still move: nothing has gone out for these rows yet.
REPLANNABLE = (NudgeStatus.PENDING, NudgeStatus.SKIPPED, NudgeStatus.CANCELLED)
PLANNED_KINDS = (*LEARNER_NUDGES, *MANAGER_PROMPTS)
# Planned once per round of FOLLOW_UP_DAYS, each round with its `follow_up_round`.
FOLLOW_UP_KINDS = (NudgeKind.LEARNER_FOLLOW_UP, NudgeKind.FOLLOW_UP)

# Why a nudge is not (or no longer) going out, as stored in its `reason`.
DEACTIVATED = "recipient is deactivated in Slack"
NO_MANAGER = "no manager for this enrollment"
AWAITING_COMPLETION = "self-paced: waiting for the completion"
CANCELLED = "enrollment cancelled"
MANAGER_CHANGED = "manager changed"
NO_SUCH_ROUND = "FOLLOW_UP_DAYS has no such follow-up round any more"

# Marks the reason of a pending row whose last attempt may have reached Slack (the answer was
# lost): whoever sends it next looks for the message first. Kept in `reason` so that no
# schema change is needed; it survives re-plans and deferrals until a sender has looked.
UNCERTAIN = "may have been sent; "


def is_uncertain(reason: str | None) -> bool:
    return bool(reason and reason.startswith(UNCERTAIN))


def last_nudge_days(rules: Rules) -> int:
    """How many days after its end a training can still get a nudge: its last follow-up, gone
    out as late as the rules allow. A training that ended longer ago has nothing left to send."""
    return rules.follow_up_days[-1] + rules.max_late_days + 7  # 7: moved to a working day


def nudge_key(
    enrollment_id: int, generation: int, kind: str, follow_up_round: int | None = None
) -> str:
    """The idempotency key of an enrollment's nudge: one per kind and generation, and per
    round for follow-ups. The first round keeps the key follow-ups always had, so rows
    planned before there were rounds are found, not planned twice."""
    key = f"e{enrollment_id}.g{generation}.{kind}"
    return key if (follow_up_round or 1) == 1 else f"{key}.r{follow_up_round}"


def reminder_key(parent: Nudge, number: int) -> str:
    return f"n{parent.id}.reminder.{number}"


def goal_shared_key(goal_id: int, number: int) -> str:
    """The `number`-th sharing of a goal (an edit shares it again)."""
    return f"g{goal_id}.shared.{number}"


class Recipient(Protocol):
    """What planning reads of a person: a Person, or the bulk import's plain row."""

    @property
    def tz(self) -> str | None: ...

    @property
    def active(self) -> bool: ...

    @property
    def country(self) -> str | None: ...


class Planned(NamedTuple):
    """One nudge of an enrollment as planned: pending at `due_at`, or skipped with `reason`."""

    kind: NudgeKind
    to_learner: bool
    due_at: datetime | None  # the slot's time; None when the rules skipped it
    status: NudgeStatus
    reason: str | None
    follow_up_round: int | None = None  # follow-ups: which of FOLLOW_UP_DAYS (1 = the first)


def rounds_of(kind: NudgeKind, rules: Rules) -> tuple[int | None, ...]:
    """The follow-up rounds a kind is planned in: one per FOLLOW_UP_DAYS for follow-ups."""
    if kind in FOLLOW_UP_KINDS:
        return tuple(range(1, len(rules.follow_up_days) + 1))
    return (None,)


def planned_rounds(
    memo: PlanMemo,
    *,
    starts_on: date,
    ends_on: date | None,
    learner: Recipient,
    manager: Recipient | None,
    default_tz: str,
    completed_on: date | None = None,
) -> dict[tuple[NudgeKind, int | None], Planned]:
    """The nudges an enrollment should have, by kind and follow-up round, in `PLANNED_KINDS`
    order; the manager's kinds are absent when it has no manager, the debrief and follow-ups
    while a self-paced training (`ends_on` None) waits for its completion."""
    slots = memo.plan(
        starts_on=starts_on,
        ends_on=ends_on,
        learner_tz=zone(learner.tz, default_tz),
        manager_tz=zone(manager.tz, default_tz) if manager else None,
        learner_rules=memo.rules.for_place(learner.country, learner.tz),
        manager_rules=memo.rules.for_place(manager.country, manager.tz) if manager else None,
        completed_on=completed_on,
    )
    plans: dict[tuple[NudgeKind, int | None], Planned] = {}
    for kind in PLANNED_KINDS:
        to_learner = kind in LEARNER_NUDGES
        recipient = learner if to_learner else manager
        for number in rounds_of(kind, memo.rules):
            slot = slots.get(kind if number is None else round_key(kind, number))
            if recipient is None or slot is None:
                continue
            reason: str | None
            if not recipient.active:
                status, reason = NudgeStatus.SKIPPED, DEACTIVATED
            elif slot.due_at is None:
                status, reason = NudgeStatus.SKIPPED, slot.skip_reason
            else:
                status, reason = NudgeStatus.PENDING, None
            plans[kind, number] = Planned(kind, to_learner, slot.due_at, status, reason, number)
    return plans


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
        return _cancel_open(existing.values(), reason=CANCELLED, now=now)

    learner = session.get(Person, enrollment.learner_id)
    manager = session.get(Person, enrollment.manager_id) if enrollment.manager_id else None
    assert learner is not None
    plans = planned_rounds(
        PlanMemo(now=now, rules=rules),
        starts_on=enrollment.starts_on,
        ends_on=enrollment.ends_on,
        learner=learner,
        manager=manager,
        default_tz=default_tz,
        completed_on=enrollment.completed_on,
    )
    touched: list[Nudge] = []
    # Rounds planned under an earlier, longer FOLLOW_UP_DAYS are looked at too.
    last_round = max(
        [len(rules.follow_up_days), *(n.follow_up_round or 1 for n in existing.values())]
    )
    for kind, number in _slots(last_round):
        key = nudge_key(enrollment.id, enrollment.generation, kind, number)
        row = existing.get(key)
        plan = plans.get((kind, number))
        if plan is None:
            if row is not None and row.status in (NudgeStatus.PENDING,):
                manager_kind = kind not in LEARNER_NUDGES
                reason = NO_MANAGER if manager_kind and manager is None else AWAITING_COMPLETION
                if (number or 1) > len(rules.follow_up_days):
                    reason = NO_SUCH_ROUND
                touched += _cancel_open([row], reason=reason, now=now)
            continue
        if row is not None and row.status not in REPLANNABLE:
            continue
        recipient = learner if plan.to_learner else manager
        assert recipient is not None and recipient.id is not None
        if row is None:
            row = Nudge(
                enrollment_id=enrollment.id,
                kind=kind,
                recipient_id=recipient.id,
                due_at=plan.due_at or now,
                follow_up_round=plan.follow_up_round,
                idempotency_key=key,
                created_at=now,
            )
        _apply_plan(row, plan, recipient.id, now)
        session.add(row)
        touched.append(row)

    # Reminders point at a DM the previous manager received; a new manager never saw it.
    for row in existing.values():
        if (
            row.kind == NudgeKind.REMINDER
            and row.status == NudgeStatus.PENDING
            and (manager is None or row.recipient_id != manager.id)
        ):
            touched += _cancel_open([row], reason=MANAGER_CHANGED, now=now)
    session.flush()
    return touched


def _slots(last_round: int) -> list[tuple[NudgeKind, int | None]]:
    """Each (kind, follow-up round) an enrollment may have a row of, up to `last_round`."""
    return [
        (kind, number)
        for kind in PLANNED_KINDS
        for number in (range(1, last_round + 1) if kind in FOLLOW_UP_KINDS else (None,))
    ]


def _apply_plan(row: Nudge, plan: Planned, recipient_id: int, now: datetime) -> None:
    row.recipient_id = recipient_id
    row.updated_at = now
    row.lease_until = None
    if plan.status == NudgeStatus.PENDING and plan.due_at is not None:
        # A re-plan must not forget that the last attempt may have gone out.
        keep = UNCERTAIN if row.status == NudgeStatus.PENDING and is_uncertain(row.reason) else None
        row.status, row.reason, row.due_at = NudgeStatus.PENDING, keep, plan.due_at
        row.attempts = 0
        row.ooo_deferrals = 0
    else:
        row.status, row.reason = plan.status, plan.reason


def _cancel_open(rows: Iterable[Nudge], *, reason: str, now: datetime) -> list[Nudge]:
    cancelled = []
    for row in rows:
        if row.status == NudgeStatus.PENDING:
            row.status, row.reason, row.updated_at = NudgeStatus.CANCELLED, reason, now
            cancelled.append(row)
    return cancelled


def replan_manager_nudges(
    session: Session, *, learner: Person, now: datetime, rules: Rules, default_tz: str
) -> int:
    """A learner's manager changed: their open enrollments follow, pending nudges re-routed."""
    # The last follow-up goes out months after the end (and may be late by max_late_days),
    # so an enrollment that ended weeks ago can still have a manager nudge waiting.
    horizon = now.date() - timedelta(days=last_nudge_days(rules))
    enrollments = session.exec(
        select(Enrollment).where(
            Enrollment.learner_id == learner.id,
            Enrollment.status == EnrollmentStatus.ENROLLED,
            or_(col(Enrollment.ends_on) >= horizon, col(Enrollment.ends_on).is_(None)),
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
