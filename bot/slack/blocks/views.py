"""What the builders show, as plain values: the adapter reads rows, the builders these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The mrkdwn text helpers live below the domain, which fills prompts with user text too; they
# are re-exported here for the builders' callers.


@dataclass(frozen=True)
class GoalView:
    id: int
    text: str
    measure: str | None = None
    shared: bool = True


@dataclass(frozen=True)
class NudgeContext:
    nudge_id: int
    kind: str  # NudgeKind value
    training: str
    starts_on: date
    ends_on: date | None  # None: self-paced, not completed yet
    learner_name: str
    learner_slack_id: str | None
    manager_name: str | None = None
    manager_slack_id: str | None = None
    goals: tuple[GoalView, ...] = ()
    learner_interest: int | None = None  # 1..3
    # Why the training matters, and who sponsors it (INTERFACE.md, "Why it matters").
    why: str | None = None
    sponsor_name: str | None = None
    sponsor_slack_id: str | None = None
    # A follow-up's Success Case answers so far: (subject, CaseAnswer value) each.
    cases: tuple[tuple[str, str], ...] = ()
    follow_up_round: int | None = None  # which of FOLLOW_UP_DAYS (1 = the first)


@dataclass(frozen=True)
class TrainingView:
    """One enrollment on the Home tab; the learner is left out on a learner's own tab."""

    training: str
    starts_on: date
    ends_on: date | None  # None: self-paced, not completed yet
    learner_name: str | None = None
    learner_slack_id: str | None = None


@dataclass(frozen=True)
class RecordView:
    """One logged answer on a manager's Home tab."""

    answered_on: date
    kind: str  # NudgeKind value
    outcome: str  # Outcome value
    training: str
    learner_name: str
    learner_slack_id: str | None = None


@dataclass(frozen=True)
class ComingView:
    """Something Coachbot will do next, shown on a learner's Home tab."""

    on: date
    kind: str  # NudgeKind value
    training: str
