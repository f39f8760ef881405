"""What people answer to a nudge: recorded once, only by its recipient, never by anyone else.

The functions take a session and plain values and return the rows they touched; a click or
submission that may not act raises Refusal, whose `reason` the adapter puts into words.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.core.limits import NOTE_MAX
from scheduler.planning import Rules, snooze_slot, zone
from storage import crud
from storage.models import (
    ConversationRecord,
    Enrollment,
    Note,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Outcome,
    Person,
    Quadrant,
)

log = logging.getLogger(__name__)

# A prompt can be answered while its DM is out, and (from App Home) while it waits for its
# reminder or after a snooze brought it back to pending.
ANSWERABLE = (NudgeStatus.SENT, NudgeStatus.PENDING, NudgeStatus.SENDING)


class RefusalReason(StrEnum):
    ALREADY_ANSWERED = "already_answered"
    NOT_YOURS = "not_your_prompt"


class Refusal(Exception):
    """The actor may not act on this nudge. `owner` is the recipient, for NOT_YOURS."""

    def __init__(self, reason: RefusalReason, owner: Person | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.owner_slack_id = owner.slack_id if owner else None
        self.owner_name = owner.name if owner else None


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


@dataclass(frozen=True)
class Answered:
    nudge: Nudge
    record: ConversationRecord
    actor: Person


def quadrant(learner_interest: int | None, org_importance: int | None) -> Quadrant | None:
    """Where a training sits: 2 or more on a 1..3 scale means "matters"; None when unknown."""
    if learner_interest is None or org_importance is None:
        return None
    to_learner = learner_interest >= 2
    to_org = org_importance >= 2
    if to_learner and to_org:
        return Quadrant.SWEET_SPOT
    if to_org:
        return Quadrant.UPHILL
    if to_learner:
        return Quadrant.GIFT
    return Quadrant.WASTE


def nudge_for_actor(
    session: Session, nudge_id: Any, actor: str, *, for_answer: bool = True
) -> Nudge:
    """The nudge a button or modal names, if `actor` is its recipient and it is still open."""
    try:
        nudge = session.get(Nudge, int(nudge_id))
    except (TypeError, ValueError):
        nudge = None
    if nudge is None:
        raise Refusal(RefusalReason.ALREADY_ANSWERED)
    recipient = session.get(Person, nudge.recipient_id)
    if recipient is None or recipient.slack_id != actor:
        raise Refusal(RefusalReason.NOT_YOURS, recipient)
    if for_answer and nudge.status not in ANSWERABLE:
        raise Refusal(RefusalReason.ALREADY_ANSWERED)
    return nudge


def answer_nudge(
    session: Session, *, nudge_id: Any, actor: str, answer: Answer, now: datetime
) -> Answered:
    """Find the nudge, check the actor may answer it, and record the answer once."""
    nudge = nudge_for_actor(session, nudge_id, actor)
    person = crud.person_by_slack_id(session, slack_id=actor)
    assert person is not None  # nudge_for_actor found them as the recipient
    record = record_answer(session, nudge, answer, actor=person, now=now)
    if record is None:
        raise Refusal(RefusalReason.ALREADY_ANSWERED)
    return Answered(nudge, record, person)


def record_answer(
    session: Session, nudge: Nudge, answer: Answer, *, actor: Person, now: datetime
) -> ConversationRecord | None:
    """Store the answer against its nudge; None when it was answered already (a double click)."""
    assert nudge.id is not None
    if crud.record_of_nudge(session, nudge_id=nudge.id) is not None:
        return None
    placed = None
    if nudge.kind == NudgeKind.PRE_TRAINING:
        enrollment = session.get(Enrollment, nudge.enrollment_id)
        interest = enrollment.learner_interest if enrollment else None
        q = quadrant(interest, answer.org_importance)
        placed = q.value if q else None
    # Answer's fields are named as the record's columns, so they carry over as they are.
    record = ConversationRecord(
        nudge_id=nudge.id,
        enrollment_id=nudge.enrollment_id,
        kind=nudge.kind,
        answered_by=actor.id,
        answered_at=now,
        quadrant=placed,
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
    if recipient is not None:
        rules = rules.for_place(recipient.country, recipient.tz)
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


def snooze_for(
    session: Session, *, nudge_id: Any, actor: str, now: datetime, rules: Rules, default_tz: str
) -> tuple[Nudge, datetime]:
    """The recipient's "Remind me tomorrow" on a prompt that is out: the nudge, and when it
    comes back in the recipient's own zone."""
    nudge = nudge_for_actor(session, nudge_id, actor)
    if nudge.status != NudgeStatus.SENT:
        raise Refusal(RefusalReason.ALREADY_ANSWERED)
    due = snooze(session, nudge, now=now, rules=rules, default_tz=default_tz)
    recipient = session.get(Person, nudge.recipient_id)
    return nudge, due.astimezone(zone(recipient.tz if recipient else None, default_tz))


@dataclass(frozen=True)
class ThreadNote:
    """What a thread reply became: a note on `nudge_id`; or, on a day's message about several
    learners that it does not name, a note waiting in `note_id` for the recipient to say
    which of `choices` (nudge id, learner name) it is about."""

    nudge_id: int | None = None
    note_id: int | None = None
    choices: tuple[tuple[int, str], ...] = ()


def record_thread_note(
    session: Session,
    *,
    channel: str,
    thread_ts: str,
    ts: str,
    author: str,
    text: str,
    now: datetime,
) -> ThreadNote | None:
    """A reply in a prompt's thread, as a note on that prompt, stored once per Slack message.

    None when the thread is no prompt's, the author is not its recipient, or Slack sent the
    same message again."""
    person = crud.person_by_slack_id(session, slack_id=author)
    nudges = [
        n
        for n in crud.nudges_by_message(session, channel=channel, ts=thread_ts)
        if person is not None and n.recipient_id == person.id and n.kind != NudgeKind.GOAL_SHARED
    ]
    if person is None or not nudges:
        return None
    named = nudges if len(nudges) == 1 else _named_in(session, nudges, text)
    target = named[0] if len(named) == 1 else None
    note = Note(
        nudge_id=target.id if target else None,
        author_id=person.id,
        channel=channel,
        ts=ts,
        text=text[:NOTE_MAX],
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(note)
            session.flush()
    except IntegrityError:
        log.info("note.duplicate channel=%s ts=%s", channel, ts)  # Slack retried the event
        return None
    if target is not None:
        log.info("note.recorded nudge=%s", target.id)
        return ThreadNote(nudge_id=target.id, note_id=note.id)
    log.info("note.which_learner note=%s", note.id)
    return ThreadNote(note_id=note.id, choices=tuple(_learners_of(session, nudges)))


def _learners_of(session: Session, nudges: list[Nudge]) -> list[tuple[int, str]]:
    """(nudge id, learner name) per learner of a day's message, each learner once."""
    seen: dict[int, tuple[int, str]] = {}
    for nudge in nudges:
        enrollment = session.get(Enrollment, nudge.enrollment_id)
        learner = session.get(Person, enrollment.learner_id) if enrollment else None
        if learner is not None and learner.id not in seen:
            seen[learner.id] = (nudge.id or 0, learner.name or learner.email or "")  # type: ignore[index]
    return list(seen.values())


def _named_in(session: Session, nudges: list[Nudge], text: str) -> list[Nudge]:
    """The nudges whose learner the reply names: a mention, their name or first name."""
    lowered = text.lower()
    found = []
    for nudge in nudges:
        enrollment = session.get(Enrollment, nudge.enrollment_id)
        learner = session.get(Person, enrollment.learner_id) if enrollment else None
        if learner is None:
            continue
        names = {f"<@{learner.slack_id}>".lower()} if learner.slack_id else set()
        if learner.name:
            names |= {learner.name.lower(), learner.name.split()[0].lower()}
        if any(name and name in lowered for name in names):
            found.append(nudge)
    return found


def assign_note(session: Session, *, note_id: Any, nudge_id: Any, actor: str) -> int | None:
    """The recipient says which learner a waiting note is about; the prompt's id, or None when
    the note or the prompt is not theirs (or the note was placed already)."""
    try:
        note = session.get(Note, int(note_id))
        nudge = nudge_for_actor(session, nudge_id, actor, for_answer=False)
    except (TypeError, ValueError, Refusal):
        return None
    person = crud.person_by_slack_id(session, slack_id=actor)
    if note is None or note.nudge_id is not None or person is None or note.author_id != person.id:
        return None
    if note.channel != nudge.channel:
        return None
    note.nudge_id = nudge.id
    session.add(note)
    log.info("note.recorded nudge=%s", nudge.id)
    return nudge.id


def set_interest(session: Session, *, nudge_id: Any, actor: str, level: int, now: datetime) -> None:
    """The learner's one click on how much a training matters to them (goal invite)."""
    nudge = nudge_for_actor(session, nudge_id, actor, for_answer=False)
    if nudge.kind != NudgeKind.GOAL_INVITE:
        raise Refusal(RefusalReason.ALREADY_ANSWERED)
    enrollment = session.get(Enrollment, nudge.enrollment_id)
    assert enrollment is not None
    enrollment.learner_interest = level
    enrollment.updated_at = now
    session.add(enrollment)
    log.info("goal.interest nudge=%s level=%s", nudge.id, level)


def clean_text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None
