"""Recording what people answer to a nudge: once, by its recipient, and shown back in the DM."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.core.limits import ANSWER_TEXT_MAX
from bot.prompts import Prompts
from bot.slack import blocks
from bot.slack.delivery import nudge_context
from bot.slack.replies import SLACK_FAILURES, failure_reason
from scheduler.planning import Rules, snooze_slot, zone
from storage.models import (
    ConversationRecord,
    Enrollment,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Outcome,
    Person,
)

log = logging.getLogger(__name__)

# A prompt can be answered while its DM is out, and (from App Home) while it waits for its
# reminder or after a snooze brought it back to pending.
ANSWERABLE = (NudgeStatus.SENT, NudgeStatus.PENDING, NudgeStatus.SENDING)
MAX_TEXT = ANSWER_TEXT_MAX  # the name conversations.py imports


class Refusal(Exception):
    """The actor may not act on this nudge; the message is for them."""


@dataclass(frozen=True)
class Answer:
    outcome: str
    what: str | None = None
    why: str | None = None
    how: str | None = None
    org_importance: int | None = None
    takeaways: str | None = None
    first_application: str | None = None
    support: str | None = None
    checkin_on: date | None = None
    note: str | None = None


def nudge_for_actor(
    session: Session, nudge_id: Any, actor: str, prompts: Prompts, *, for_answer: bool = True
) -> Nudge:
    """The nudge a button or modal names, if `actor` is its recipient and it is still open."""
    try:
        nudge = session.get(Nudge, int(nudge_id))
    except (TypeError, ValueError):
        nudge = None
    if nudge is None:
        raise Refusal(prompts.text("ephemeral.already_answered"))
    recipient = session.get(Person, nudge.recipient_id)
    if recipient is None or recipient.slack_id != actor:
        owner = blocks.mention(
            recipient.slack_id if recipient else None, recipient.name if recipient else None
        )
        raise Refusal(blocks.ephemeral_text("not_your_prompt", prompts, owner=owner))
    if for_answer and nudge.status not in ANSWERABLE:
        raise Refusal(prompts.text("ephemeral.already_answered"))
    return nudge


def record_answer(
    session: Session, nudge: Nudge, answer: Answer, *, actor: Person, now: datetime
) -> ConversationRecord | None:
    """Store the answer against its nudge; None when it was answered already (a double click)."""
    assert nudge.id is not None
    if session.exec(
        select(ConversationRecord).where(ConversationRecord.nudge_id == nudge.id)
    ).first():
        return None
    quadrant = None
    if nudge.kind == NudgeKind.PRE_TRAINING:
        enrollment = session.get(Enrollment, nudge.enrollment_id)
        interest = enrollment.learner_interest if enrollment else None
        q = blocks.quadrant(interest, answer.org_importance)
        quadrant = q.value if q else None
    # Answer's fields are named as the record's columns, so they carry over as they are.
    record = ConversationRecord(
        nudge_id=nudge.id,
        enrollment_id=nudge.enrollment_id,
        kind=nudge.kind,
        answered_by=actor.id,
        answered_at=now,
        quadrant=quadrant,
        **asdict(answer),
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        return None  # the same answer arrived twice at once; the first one stands
    nudge.status = (
        NudgeStatus.NOT_NEEDED if answer.outcome == Outcome.NOT_NEEDED else NudgeStatus.ANSWERED
    )
    nudge.updated_at = now
    nudge.lease_until = None
    session.add(nudge)
    _close_reminders(session, nudge, now, reason="the prompt was answered")
    log.info("answer.recorded nudge=%s kind=%s outcome=%s", nudge.id, nudge.kind, answer.outcome)
    return record


def _close_reminders(session: Session, nudge: Nudge, now: datetime, *, reason: str) -> None:
    for reminder in session.exec(
        select(Nudge).where(Nudge.parent_id == nudge.id, Nudge.status == NudgeStatus.PENDING)
    ).all():
        reminder.status, reminder.reason, reminder.updated_at = NudgeStatus.CANCELLED, reason, now
        session.add(reminder)


def snooze(
    session: Session, nudge: Nudge, *, now: datetime, rules: Rules, default_tz: str
) -> datetime:
    """ "Remind me tomorrow": the same prompt comes back at the next delivery slot."""
    recipient = session.get(Person, nudge.recipient_id)
    tz = zone(recipient.tz if recipient else None, default_tz)
    due = snooze_slot(now, tz, rules)
    nudge.status = NudgeStatus.PENDING
    nudge.due_at = due
    nudge.attempts = 0
    nudge.reason = "snoozed"
    nudge.updated_at = now
    session.add(nudge)
    _close_reminders(session, nudge, now, reason="the prompt was snoozed")
    log.info("answer.snoozed nudge=%s", nudge.id)
    return due


def summary_lines(record: ConversationRecord, prompts: Prompts) -> list[str]:
    """The short record shown in place of the buttons: labels with what was written."""
    lines: list[str] = []
    labels = (
        ("what", "pre_training_modal.what"),
        ("why", "pre_training_modal.why"),
        ("how", "pre_training_modal.how"),
        ("takeaways", "debrief_modal.takeaways"),
        ("first_application", "debrief_modal.first_application"),
        ("support", "debrief_modal.support"),
    )
    for attr, key in labels:
        value = getattr(record, attr)
        if value:
            lines.append(f"{prompts.text(key).rstrip('?')}: {_first_line(value)}")
    if record.quadrant:
        lines.append(blocks.quadrant_advice(record.quadrant, prompts).replace("*", ""))
    if record.checkin_on:
        lines.append(prompts.text("answered.checkin", date=prompts.format_date(record.checkin_on)))
    if record.note:
        lines.append(_first_line(record.note))
    return lines


def _first_line(text: str, limit: int = 140) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def update_dm(
    client: WebClient,
    session: Session,
    nudge: Nudge,
    message: dict[str, Any],
    *,
    also: tuple[str, str] | None = None,
) -> None:
    """Replace the prompt's DM (and the message clicked, if another) in place."""
    targets = []
    if nudge.channel and nudge.ts:
        targets.append((nudge.channel, nudge.ts))
    if also and also not in targets:
        targets.append(also)
    for channel, ts in targets:
        try:
            client.chat_update(
                channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
            )
        except SLACK_FAILURES as exc:
            # The record is stored either way (and must not roll back because Slack timed
            # out); a stale DM only shows buttons that now refuse.
            log.warning("dm.update_failed nudge=%s error=%s", nudge.id, failure_reason(exc))


def answered_dm(
    session: Session, nudge: Nudge, record: ConversationRecord, actor: Person, prompts: Prompts
) -> dict[str, Any]:
    ctx = nudge_context(session, nudge)
    return blocks.answered_message(
        ctx, prompts, summary_lines(record, prompts), actor.slack_id, record.outcome
    )


def clean_text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None
