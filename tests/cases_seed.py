"""Success Case answers for the evidence tests, stored as the follow-up clicks store them.

Week 48 of 2026 (UTC), answers on 25 November unless said. Coaching (4 enrollments answered):
- LA: learner "clear results" with consent ("Cut meetings by half", evidence "Calendar"),
  manager "clear results": a success, named.
- LB: learner "clear results", no consent; the manager never answered: a success, counted.
- LC: learner "clear results" with consent, manager "didn't stick": the manager disagrees, so
  no case at all.
- LD: the learner never answered, the manager "not applied": a non-success, counted.
Feedback (1 enrollment answered, folded into the smaller trainings):
- LE: round 1 on 18 November (week 47), learner "not applied"; round 2, learner "clear results"
  with consent ("Fewer escalations"), manager "no clear results yet": a success from its
  latest round, named.
In week 48: round 1 managers applied 1, partly 1, not yet 1; learners applied 3; round 2 one
answer a side (too few to show).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

from sqlmodel import Session

from storage.models import (
    CaseRecord,
    CaseSide,
    Enrollment,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Person,
    Training,
)

_keys = count(1)
ANSWERED = datetime(2026, 11, 25, 10, tzinfo=UTC)


def case(
    s: Session,
    e: Enrollment,
    who: Person,
    side: CaseSide,
    answer: str,
    *,
    round_: int = 1,
    consent: bool = False,
    result: str | None = None,
    evidence: str | None = None,
    at: datetime = ANSWERED,
) -> None:
    kind = NudgeKind.FOLLOW_UP if side == CaseSide.MANAGER else NudgeKind.LEARNER_FOLLOW_UP
    n = Nudge(
        enrollment_id=e.id,  # type: ignore[arg-type]
        kind=kind,
        recipient_id=who.id,  # type: ignore[arg-type]
        follow_up_round=round_,
        due_at=at,
        sent_at=at,
        status=NudgeStatus.ANSWERED,
        idempotency_key=f"case-{next(_keys)}",
    )
    s.add(n)
    s.flush()
    s.add(
        CaseRecord(
            nudge_id=n.id,  # type: ignore[arg-type]
            enrollment_id=e.id,  # type: ignore[arg-type]
            subject="training",
            side=side,
            follow_up_round=round_,
            answered_by=who.id,
            answer=answer,
            result=result,
            evidence=evidence,
            consent=consent,
            answered_at=at,
        )
    )


def seed_cases(s: Session) -> dict[str, Person]:
    people = {
        n: Person(slack_id=f"U{n}", email=f"{n.lower()}@example.org", name=f"Learner {n}")
        for n in ("LA", "LB", "LC", "LD", "LE")
    }
    people["MG"] = Person(slack_id="UMG", email="mg@example.org", name="Manager MG")
    s.add_all(people.values())
    coaching, feedback = Training(name="Coaching"), Training(name="Feedback")
    s.add_all([coaching, feedback])
    s.flush()
    manager = people["MG"]

    def enroll(learner: str, training: Training) -> Enrollment:
        e = Enrollment(
            learner_id=people[learner].id,  # type: ignore[arg-type]
            manager_id=manager.id,
            training_id=training.id,  # type: ignore[arg-type]
            starts_on=date(2026, 10, 5),
            ends_on=date(2026, 10, 6),
            source="csv",
            created_at=datetime(2026, 9, 1, tzinfo=UTC),
        )
        s.add(e)
        s.flush()
        return e

    L, M = CaseSide.LEARNER, CaseSide.MANAGER
    a = enroll("LA", coaching)
    case(
        s,
        a,
        people["LA"],
        L,
        "clear_results",
        consent=True,
        result="Cut meetings by half",
        evidence="Calendar",
    )
    case(s, a, manager, M, "clear_results", result="Meetings are shorter")
    b = enroll("LB", coaching)
    case(s, b, people["LB"], L, "clear_results", result="Private result of LB")
    c = enroll("LC", coaching)
    case(s, c, people["LC"], L, "clear_results", consent=True, result="Result of LC")
    case(s, c, manager, M, "didnt_stick")
    d = enroll("LD", coaching)
    case(s, d, manager, M, "not_applied")
    e = enroll("LE", feedback)
    case(s, e, people["LE"], L, "not_applied", at=datetime(2026, 11, 18, 10, tzinfo=UTC))
    case(s, e, people["LE"], L, "clear_results", round_=2, consent=True, result="Fewer escalations")
    case(s, e, manager, M, "no_clear_results", round_=2)
    s.flush()
    return people
