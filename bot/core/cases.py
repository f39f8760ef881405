"""Brinkerhoff's Success Cases, read from the follow-up answers: who to interview, and how many.

Per enrollment (a learner in a training) and subject (a goal, or the training), the answers of
the latest follow-up round in which anyone answered that subject decide:
- a **success case**: the learner answered "Yes, with clear results", and the manager, if they
  answered that subject in that round, "Yes, with clear results" or "Yes, no clear results yet";
- a **non-success case**: the learner answered "Not applied", or the learner did not answer and
  the manager answered "Not applied".
An enrollment counts once: as a success if any subject is one, else as a non-success if any is.
Only a learner who ticked "L&D may contact me about this" on that answer is named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.followup import TRAINING_SUBJECT
from storage.metrics import CaseRow
from storage.models import CASE_OUTCOMES, CaseAnswer, CaseSide

SUCCESS_BY_MANAGER = (CaseAnswer.CLEAR_RESULTS.value, CaseAnswer.NO_CLEAR_RESULTS.value)
OTHER_TRAININGS = 0  # the key of the trainings too small to break out


class Case(StrEnum):
    SUCCESS = "success"
    NON_SUCCESS = "non_success"


@dataclass(frozen=True)
class Interviewee:
    """A learner who agreed to be contacted, with what they said."""

    case: Case
    learner: str | None
    learner_slack_id: str | None
    training: str
    round: int
    answered_at: datetime
    result: str | None
    evidence: str | None
    manager_result: str | None = None  # only when the organisation shares notes


@dataclass
class TrainingCases:
    training_id: int  # OTHER_TRAININGS for the smaller ones, together
    name: str
    answered: int = 0  # enrollments with a Success Case answer
    success: int = 0
    non_success: int = 0
    trainings: int = 1


@dataclass
class CaseReport:
    answered: int = 0
    success: int = 0
    non_success: int = 0
    trainings: list[TrainingCases] = field(default_factory=list)
    interview: list[Interviewee] = field(default_factory=list)  # newest first

    @property
    def unnamed(self) -> int:
        """Cases counted without a name: their learner did not agree to be contacted."""
        return self.success + self.non_success - len(self.interview)


def subject_case(learner: CaseRow | None, manager: CaseRow | None) -> Case | None:
    """The case rule for one subject in one round."""
    if (
        learner is not None
        and learner.answer == CaseAnswer.CLEAR_RESULTS
        and (manager is None or manager.answer in SUCCESS_BY_MANAGER)
    ):
        return Case.SUCCESS
    if learner is not None and learner.answer == CaseAnswer.NOT_APPLIED:
        return Case.NON_SUCCESS
    if learner is None and manager is not None and manager.answer == CaseAnswer.NOT_APPLIED:
        return Case.NON_SUCCESS
    return None


@dataclass(frozen=True)
class EnrollmentCase:
    enrollment_id: int
    training_id: int
    training: str
    case: Case | None
    # The learner's answer behind the case, and the manager's on that subject.
    learner: CaseRow | None = None
    manager: CaseRow | None = None


def enrollment_case(rows: Sequence[CaseRow]) -> EnrollmentCase:
    """The case of one enrollment, from all its answers (every round, every subject)."""
    latest: dict[str, int] = {}
    for row in rows:
        latest[row.subject] = max(latest.get(row.subject, 0), row.round)
    sides: dict[str, dict[str, CaseRow]] = defaultdict(dict)
    for row in rows:
        if row.round == latest[row.subject]:
            sides[row.subject][row.side] = row  # the last answer of a side stands
    # A manager who saw none of the learner's goals (none shared) was asked about the
    # training: that answer stands for each goal the learner answered in the same round.
    overall = sides.get(TRAINING_SUBJECT, {}).get(CaseSide.MANAGER)
    learner_rounds = {
        theirs.round
        for subject, by_side in sides.items()
        if subject != TRAINING_SUBJECT and (theirs := by_side.get(CaseSide.LEARNER))
    }
    found: dict[Case, tuple[CaseRow | None, CaseRow | None]] = {}
    for subject in sorted(sides):
        learner = sides[subject].get(CaseSide.LEARNER)
        manager = sides[subject].get(CaseSide.MANAGER)
        beside_goals = overall is not None and overall.round in learner_rounds
        if subject == TRAINING_SUBJECT and learner is None and beside_goals:
            continue  # read beside the learner's goals, not as a case of its own
        if manager is None and learner is not None and overall is not None:
            manager = overall if overall.round == learner.round else None
        case = subject_case(learner, manager)
        if case is None:
            continue
        # Of several subjects with the same case, one the learner consented on is named.
        held = found.get(case)
        if held is None or (_consented(learner) and not _consented(held[0])):
            found[case] = (learner, manager)
    first = rows[0]
    for case in (Case.SUCCESS, Case.NON_SUCCESS):
        if case in found:
            learner, manager = found[case]
            return EnrollmentCase(
                first.enrollment_id, first.training_id, first.training, case, learner, manager
            )
    return EnrollmentCase(first.enrollment_id, first.training_id, first.training, None)


def _consented(row: CaseRow | None) -> bool:
    return row is not None and row.consent


def by_enrollment(rows: Iterable[CaseRow]) -> list[EnrollmentCase]:
    grouped: dict[int, list[CaseRow]] = defaultdict(list)
    for row in rows:
        grouped[row.enrollment_id].append(row)
    return [enrollment_case(group) for _, group in sorted(grouped.items())]


def case_report(rows: Iterable[CaseRow], *, min_group_size: int) -> CaseReport:
    """Counts per training (the trainings with fewer than `min_group_size` enrollments
    answered go together) and the consenting learners to interview."""
    report = CaseReport()
    per: dict[int, TrainingCases] = {}
    for found in by_enrollment(rows):
        group = per.setdefault(found.training_id, TrainingCases(found.training_id, found.training))
        group.answered += 1
        report.answered += 1
        if found.case is Case.SUCCESS:
            group.success += 1
            report.success += 1
        elif found.case is Case.NON_SUCCESS:
            group.non_success += 1
            report.non_success += 1
        learner = found.learner
        if found.case is not None and learner is not None and _consented(learner):
            report.interview.append(
                Interviewee(
                    found.case,
                    learner.learner,
                    learner.learner_slack_id,
                    found.training,
                    learner.round,
                    learner.answered_at,
                    learner.result,
                    learner.evidence,
                    found.manager.result if found.manager else None,
                )
            )
    report.interview.sort(key=lambda i: (i.case != Case.SUCCESS, -i.answered_at.timestamp()))
    big = sorted(
        (g for g in per.values() if g.answered >= min_group_size),
        key=lambda g: (-g.answered, g.name),
    )
    small = [g for g in per.values() if g.answered < min_group_size]
    report.trainings = big
    if small and big:
        report.trainings.append(
            TrainingCases(
                OTHER_TRAININGS,
                "",
                sum(g.answered for g in small),
                sum(g.success for g in small),
                sum(g.non_success for g in small),
                trainings=len(small),
            )
        )
    return report


# --- the follow-up figures, per round --------------------------------------------------------


@dataclass
class RoundFigures:
    """The Success Case answers of one round and one side, as applied / partly / not yet."""

    round: int
    side: str
    applied: int = 0
    partly: int = 0
    not_yet: int = 0

    @property
    def answers(self) -> int:
        return self.applied + self.partly + self.not_yet


def round_figures(rows: Iterable[CaseRow], start: datetime, end: datetime) -> list[RoundFigures]:
    """Per round, then managers before learners: the answers given from `start` to `end`."""
    found: dict[tuple[int, str], RoundFigures] = {}
    for row in rows:
        if not start <= row.answered_at < end:
            continue
        figures = found.setdefault((row.round, row.side), RoundFigures(row.round, row.side))
        outcome = CASE_OUTCOMES.get(CaseAnswer(row.answer)) if row.answer in _ANSWERS else None
        if outcome is not None:
            setattr(figures, outcome, getattr(figures, outcome) + 1)
    order = {CaseSide.MANAGER.value: 0, CaseSide.LEARNER.value: 1}
    return sorted(found.values(), key=lambda f: (f.round, order.get(f.side, 2)))


_ANSWERS = {a.value for a in CaseAnswer}


def round_days(round_number: int, follow_up_days: int | Sequence[int]) -> int | None:
    """How many days after the end a follow-up round is, when the settings say so:
    FOLLOW_UP_DAYS may be one number (round 1) or several (`30,90`)."""
    days = (follow_up_days,) if isinstance(follow_up_days, int) else tuple(follow_up_days)
    return days[round_number - 1] if 1 <= round_number <= len(days) else None
