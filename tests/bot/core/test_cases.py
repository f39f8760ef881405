"""The Success Case rules on plain rows: success, non-success, the manager who never answered
or disagrees, the latest round, several subjects, and who is named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.cases import Case, case_report, enrollment_case, round_days, subject_case
from storage.metrics import CaseRow

AT = datetime(2026, 11, 25, tzinfo=UTC)


def row(
    side: str,
    answer: str,
    *,
    eid: int = 1,
    subject: str = "training",
    round_: int = 1,
    consent: bool = False,
    tid: int = 1,
) -> CaseRow:
    return CaseRow(
        eid,
        tid,
        f"T{tid}",
        subject,
        side,
        round_,
        answer,
        AT,
        consent,
        learner="Ada" if consent else None,
        result="It worked" if consent else None,
    )


@pytest.mark.parametrize(
    ("learner", "manager", "expected"),
    [
        ("clear_results", None, Case.SUCCESS),  # the manager never answered
        ("clear_results", "clear_results", Case.SUCCESS),
        ("clear_results", "no_clear_results", Case.SUCCESS),
        ("clear_results", "didnt_stick", None),  # the manager disagrees
        ("clear_results", "not_applied", None),
        ("no_clear_results", None, None),
        ("not_applied", "clear_results", Case.NON_SUCCESS),  # the learner's word decides
        (None, "not_applied", Case.NON_SUCCESS),
        (None, "clear_results", None),
        ("didnt_stick", "not_applied", None),
    ],
)
def test_the_case_of_one_subject(
    learner: str | None, manager: str | None, expected: Case | None
) -> None:
    mine = row("learner", learner) if learner else None
    theirs = row("manager", manager) if manager else None
    assert subject_case(mine, theirs) == expected


def test_the_latest_round_in_which_someone_answered_decides() -> None:
    rows = [row("learner", "not_applied"), row("learner", "clear_results", round_=2)]
    assert enrollment_case(rows).case == Case.SUCCESS
    # A manager's later answer alone makes round 2 the one read, where the learner is silent.
    rows = [row("learner", "clear_results"), row("manager", "not_applied", round_=2)]
    assert enrollment_case(rows).case == Case.NON_SUCCESS


def test_an_enrollment_counts_once_success_first() -> None:
    rows = [
        row("learner", "not_applied", subject="goal:1"),
        row("learner", "clear_results", subject="goal:2"),
        row("learner", "clear_results", subject="goal:3"),
    ]
    report = case_report(rows, min_group_size=1)
    assert (report.answered, report.success, report.non_success) == (1, 1, 0)


def test_only_consenting_learners_are_named() -> None:
    rows = [
        row("learner", "clear_results", eid=1, consent=True),
        row("learner", "clear_results", eid=2),
        row("manager", "not_applied", eid=3),
    ]
    report = case_report(rows, min_group_size=1)
    assert [(i.learner, i.result, i.case) for i in report.interview] == [
        ("Ada", "It worked", Case.SUCCESS)
    ]
    assert report.unnamed == 2


def test_small_trainings_are_counted_together() -> None:
    rows = [row("learner", "clear_results", eid=i, tid=1) for i in range(3)]
    rows.append(row("learner", "not_applied", eid=9, tid=2))
    report = case_report(rows, min_group_size=3)
    assert [(g.training_id, g.answered, g.success, g.non_success) for g in report.trainings] == [
        (1, 3, 3, 0),
        (0, 1, 0, 1),
    ]


def test_a_round_is_labelled_by_its_day_count_when_known() -> None:
    assert round_days(1, 30) == 30 and round_days(2, 30) is None
    assert round_days(2, (30, 90)) == 90 and round_days(3, (30, 90)) is None


@pytest.mark.parametrize(
    ("learner", "manager", "expected"),
    [
        ("clear_results", "not_applied", None),  # the manager disagrees about the training
        ("clear_results", "no_clear_results", Case.SUCCESS),
        ("didnt_stick", "not_applied", None),  # the learner answered: their word decides
        ("not_applied", "clear_results", Case.NON_SUCCESS),
    ],
)
def test_a_manager_who_saw_no_goal_answers_for_each_of_them(
    learner: str, manager: str, expected: Case | None
) -> None:
    """The learner kept their goal to themselves: the manager was asked about the training,
    and that answer is read beside the learner's answer about the goal."""
    found = enrollment_case(
        [row("learner", learner, subject="goal:5", consent=True), row("manager", manager)]
    )
    assert found.case == expected
