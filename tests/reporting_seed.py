"""A seeded week for the reporting tests, with every figure counted by hand.

Week 48 of 2026 (UTC): Monday 23 to Sunday 29 November. Trainings: Coaching (A), Feedback (B),
Negotiation (C). Hours are between a prompt's DM and its answer.

Enrollment by enrollment (#, training, manager, dates in 2026, what happened):

1.  A, M1, 24-25 Nov, created 23 Nov: pre-training logged 23 Nov (2 h, sweet spot); goal
    shared 20 Nov; debrief DM of 26 Nov unanswered (reminded 30 Nov: not overdue in W48).
2.  A, M1, 26 Nov, created 23 Nov: pre-training logged 27 Nov, after the start (72 h,
    uphill); goal shared on the start date.
3.  A, no manager, 27 Nov, created 24 Nov: nothing.
4.  B, M2, 25 Nov, created 10 Nov: pre-training "not needed" 24 Nov (24 h); a private goal.
5.  B, M2, 28 Nov, created 10 Nov: pre-training logged on the start date (24 h, gift).
6.  B, M2, 17-18 Nov, created 1 Nov: pre-training logged 16 Nov (72 h, week 47); debrief
    24 Nov, in time (120 h).
7.  B, M2, 16-20 Nov, created 1 Nov: debrief 28 Nov, a day late (120 h).
8.  C, M1, 1-2 Oct: follow-up "applied" 25 Nov (2 h), the learner's too; debrief DM of 20 Nov
    unanswered: overdue.
9.  A, M1, 5-6 Oct: follow-up "partly" 24 Nov (24 h), the learner's "not yet".
10. C, M2, 12-13 Oct: follow-up "not yet" 29 Nov (72 h), no learner answer.
11. A, M1, 25 Nov, created 23 Nov, cancelled: a logged talk that must count nowhere.

Totals: 3 new enrollments (1 without a manager), 5 started, 5 finished; talked before 2 of 4;
goals 2 of 5; debriefed 1 of 2 (6 and 7 ended in week 47); follow-ups 1 applied, 1 partly,
1 not yet; agreement 1 of 2; 9 answers, median 24 h; quadrants 1 sweet spot, 1 uphill, 1 gift;
1 overdue. Per training (at least 3): Coaching {1, 2, 3, 9}, Feedback {4, 5, 6, 7}; Negotiation
{8, 10} is folded into "other".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

from sqlmodel import Session

from storage.metrics import Week
from storage.models import (
    ConversationRecord,
    Enrollment,
    Goal,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Person,
    Training,
)

W48 = Week(date(2026, 11, 23), "UTC")
# With REMINDER_AFTER_DAYS=2 on Mon-Fri, a prompt DM'd 19 to 25 November is reminded in week 48.
OVERDUE_SPAN_W48 = (
    datetime(2026, 11, 19, tzinfo=UTC),
    datetime(2026, 11, 26, tzinfo=UTC),
)

_keys = count(1)


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _nudge(
    s: Session,
    e: Enrollment,
    kind: NudgeKind,
    recipient: Person,
    sent: datetime,
    status: NudgeStatus = NudgeStatus.ANSWERED,
) -> Nudge:
    n = Nudge(
        enrollment_id=e.id,  # type: ignore[arg-type]
        kind=kind,
        recipient_id=recipient.id,  # type: ignore[arg-type]
        due_at=sent,
        status=status,
        sent_at=sent,
        idempotency_key=f"seed-{next(_keys)}",
    )
    s.add(n)
    s.flush()
    return n


def _answer(
    s: Session,
    e: Enrollment,
    kind: NudgeKind,
    recipient: Person,
    sent: datetime,
    hours: float,
    outcome: str = "logged",
    quadrant: str | None = None,
    **texts: str,
) -> None:
    n = _nudge(s, e, kind, recipient, sent)
    s.add(
        ConversationRecord(
            nudge_id=n.id,  # type: ignore[arg-type]
            enrollment_id=e.id,  # type: ignore[arg-type]
            kind=kind,
            answered_by=recipient.id,
            answered_at=sent + timedelta(hours=hours),
            outcome=outcome,
            quadrant=quadrant,
            **texts,
        )
    )


def seed(s: Session) -> dict[str, int]:
    people = {
        name: Person(slack_id=f"U{name}", email=f"{name.lower()}@example.org", name=name)
        for name in ("M1", "M2", "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8")
    }
    s.add_all(people.values())
    trainings = {name: Training(name=name) for name in ("Coaching", "Feedback", "Negotiation")}
    s.add_all(trainings.values())
    s.flush()
    m1, m2 = people["M1"], people["M2"]

    def enroll(
        n: int,
        training: str,
        learner: str,
        manager: Person | None,
        starts: date,
        ends: date,
        created: datetime,
        status: str = "enrolled",
    ) -> Enrollment:
        e = Enrollment(
            external_id=f"e{n}",
            learner_id=people[learner].id,  # type: ignore[arg-type]
            manager_id=manager.id if manager else None,
            training_id=trainings[training].id,  # type: ignore[arg-type]
            starts_on=starts,
            ends_on=ends,
            status=status,
            source="csv",
            created_at=created,
        )
        s.add(e)
        s.flush()
        return e

    d = lambda day, month=11: date(2026, month, day)  # noqa: E731

    e1 = enroll(1, "Coaching", "L1", m1, d(24), d(25), at(23, 8))
    _answer(s, e1, NudgeKind.PRE_TRAINING, m1, at(23), 2, quadrant="sweet_spot", what="Listen")
    s.add(Goal(enrollment_id=e1.id, learner_id=e1.learner_id, text="Ask more", shared_at=at(20, 9)))
    _nudge(s, e1, NudgeKind.DEBRIEF, m1, at(26), NudgeStatus.SENT)  # reminded 30 Nov: week 49

    e2 = enroll(2, "Coaching", "L2", m1, d(26), d(26), at(23, 9))
    _answer(s, e2, NudgeKind.PRE_TRAINING, m1, at(24), 72, quadrant="uphill")
    s.add(Goal(enrollment_id=e2.id, learner_id=e2.learner_id, text="Coach", shared_at=at(26, 8)))

    enroll(3, "Coaching", "L3", None, d(27), d(27), at(24))

    e4 = enroll(4, "Feedback", "L4", m2, d(25), d(25), at(10))
    _answer(s, e4, NudgeKind.PRE_TRAINING, m2, at(23), 24, outcome="not_needed")
    s.add(
        Goal(
            enrollment_id=e4.id,
            learner_id=e4.learner_id,
            text="Private",
            shared=False,
            shared_at=None,
        )
    )

    e5 = enroll(5, "Feedback", "L5", m2, d(28), d(28), at(10))
    _answer(s, e5, NudgeKind.PRE_TRAINING, m2, at(27, 9), 24, quadrant="gift")

    e6 = enroll(6, "Feedback", "L6", m2, d(17), d(18), at(1))
    _answer(s, e6, NudgeKind.PRE_TRAINING, m2, at(13), 72)
    _answer(s, e6, NudgeKind.DEBRIEF, m2, at(19), 120, takeaways="Feedback models")

    e7 = enroll(7, "Feedback", "L7", m2, d(16), d(20), at(1))
    _answer(s, e7, NudgeKind.DEBRIEF, m2, at(23), 120)

    e8 = enroll(8, "Negotiation", "L8", m1, d(1, 10), d(2, 10), at(1, month=9))
    _answer(s, e8, NudgeKind.FOLLOW_UP, m1, at(25, 9), 2, outcome="applied", note="Closed a deal")
    _answer(s, e8, NudgeKind.LEARNER_FOLLOW_UP, people["L8"], at(25, 9), 24, outcome="applied")
    _nudge(s, e8, NudgeKind.DEBRIEF, m1, at(20), NudgeStatus.SENT)  # reminded 24 Nov: overdue
    _nudge(s, e8, NudgeKind.GOAL_INVITE, people["L8"], at(20), NudgeStatus.SENT)  # not a prompt

    e9 = enroll(9, "Coaching", "L4", m1, d(5, 10), d(6, 10), at(1, month=9))
    _answer(s, e9, NudgeKind.FOLLOW_UP, m1, at(23), 24, outcome="partly")
    _answer(s, e9, NudgeKind.LEARNER_FOLLOW_UP, people["L4"], at(23), 30, outcome="not_yet")

    e10 = enroll(10, "Negotiation", "L5", m2, d(12, 10), d(13, 10), at(1, month=9))
    _answer(s, e10, NudgeKind.FOLLOW_UP, m2, at(26), 72, outcome="not_yet")

    e11 = enroll(11, "Coaching", "L6", m1, d(25), d(25), at(23, 10), status="cancelled")
    _answer(s, e11, NudgeKind.PRE_TRAINING, m1, at(23), 1, quadrant="waste")
    _nudge(s, e11, NudgeKind.DEBRIEF, m1, at(20), NudgeStatus.SENT)
    s.flush()
    return {"M1": m1.id, "M2": m2.id}  # type: ignore[dict-item]


def enroll_one(s: Session, *, starts: date, answered: datetime) -> None:
    """One enrollment whose pre-training talk was logged at `answered`."""
    manager = Person(slack_id="UMZ", name="M")
    learner = Person(slack_id="ULZ", name="L")
    training = Training(name="Timing")
    s.add_all([manager, learner, training])
    s.flush()
    e = Enrollment(
        learner_id=learner.id,  # type: ignore[arg-type]
        manager_id=manager.id,
        training_id=training.id,  # type: ignore[arg-type]
        starts_on=starts,
        ends_on=starts,
        source="csv",
        created_at=answered - timedelta(days=30),
    )
    s.add(e)
    s.flush()
    sent = answered - timedelta(hours=1)
    _answer(s, e, NudgeKind.PRE_TRAINING, manager, sent, 1)
