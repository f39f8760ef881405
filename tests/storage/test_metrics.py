"""The L&D metrics against a seeded database, on SQLite and PostgreSQL, computed by hand.

The seed (tests/reporting_seed.py) lists every enrollment and what each one counts for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from reporting_seed import OVERDUE_SPAN_W48, W48, seed

from storage.db import Database
from storage.metrics import (
    OTHER,
    Week,
    enrollment_rows,
    parse_week,
    week_of,
    week_report,
    weekly_totals,
    weeks_ending,
)

HOUR = 3600.0


def test_weeks_are_iso_weeks_of_the_zone() -> None:
    week = parse_week("2026-W48", "Europe/Paris")
    assert week.monday == date(2026, 11, 23) and week.label == "2026-W48"
    assert week.start == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert parse_week("2026w48", "UTC").label == "2026-W48"
    # Sunday 23:30 in Paris is 22:30 UTC; half past midnight there is already week 49.
    assert week_of(datetime(2026, 11, 29, 22, 30, tzinfo=UTC), "Europe/Paris").label == "2026-W48"
    assert week_of(datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "Europe/Paris").label == "2026-W49"
    assert week_of(datetime(2027, 1, 1, 12, tzinfo=UTC), "UTC").label == "2026-W53"
    assert [w.label for w in weeks_ending(week, 3)] == ["2026-W46", "2026-W47", "2026-W48"]
    for bad in ("2026-W54", "2025-W53", "W48", "2026-48", "last"):
        with pytest.raises(ValueError):
            parse_week(bad, "UTC")


def test_week_totals_match_the_hand_count(db: Database) -> None:
    with db.session() as s:
        seed(s)
    with db.session() as s:
        report = week_report(s, W48, min_group_size=3, overdue_sent=OVERDUE_SPAN_W48)
    t = report.total
    assert (t.enrollments, t.without_manager, t.started, t.finished) == (3, 1, 5, 5)
    assert (t.pre_logged, t.pre_cohort) == (2, 4) and t.pre_training_rate == 0.5
    assert (t.goals, t.goal_cohort) == (2, 5) and t.goal_rate == 0.4
    assert (t.debriefs, t.debrief_cohort) == (1, 2)
    assert (t.applied, t.partly, t.not_yet) == (1, 1, 1)
    assert t.application_rate == pytest.approx(2 / 3)
    assert (t.agreeing, t.pairs) == (1, 2)
    assert t.answers == 9 and t.median_answer_seconds == pytest.approx(24 * HOUR)
    assert t.quadrants == {"sweet_spot": 1, "uphill": 1, "gift": 1, "waste": 0}
    assert t.overdue == 1


def test_small_trainings_fold_into_other(db: Database) -> None:
    with db.session() as s:
        seed(s)
    with db.session() as s:
        report = week_report(s, W48, min_group_size=3, overdue_sent=OVERDUE_SPAN_W48)
    names = [(g.name, g.size, g.trainings) for g in report.groups]
    assert names == [("Coaching", 4, 1), ("Feedback", 4, 1), ("", 2, 1)]
    coaching, feedback, other = (g.counts for g in report.groups)
    assert report.groups[-1].training_id == OTHER
    assert (coaching.enrollments, coaching.started, coaching.pre_logged) == (3, 3, 1)
    assert (coaching.goals, coaching.partly, coaching.pairs, coaching.agreeing) == (2, 1, 1, 0)
    assert coaching.median_answer_seconds == pytest.approx(24 * HOUR)
    assert (feedback.debriefs, feedback.debrief_cohort, feedback.quadrants["gift"]) == (1, 2, 1)
    assert feedback.median_answer_seconds == pytest.approx(72 * HOUR)  # (24 + 120) / 2
    assert (other.applied, other.not_yet, other.agreeing, other.overdue) == (1, 1, 1, 1)
    assert other.median_answer_seconds == pytest.approx(37 * HOUR)

    with db.session() as s:
        everyone = week_report(s, W48, min_group_size=5)
    assert everyone.groups == []  # nobody broken out...
    assert everyone.total.started == 5  # ...but the totals are whole
    assert everyone.total.median_answer_seconds == pytest.approx(24 * HOUR)


def test_weekly_series_buckets_each_week(db: Database) -> None:
    with db.session() as s:
        seed(s)
    with db.session() as s:
        w46, w47, w48 = weekly_totals(s, weeks_ending(W48, 3))
    assert (w46.enrollments, w46.started) == (2, 0)
    assert (w47.started, w47.pre_logged, w47.pre_cohort, w47.debrief_cohort) == (2, 1, 2, 0)
    assert w47.answers == 1  # enrollment 6's pre-training talk
    assert (w48.started, w48.pre_logged, w48.debriefs, w48.follow_ups) == (5, 2, 1, 3)
    assert w48.median_answer_seconds == pytest.approx(24 * HOUR)


def test_an_empty_week_has_no_rates(db: Database) -> None:
    with db.session() as s:
        report = week_report(s, Week(date(2026, 11, 23), "UTC"), min_group_size=3)
    assert report.total.pre_training_rate is None and report.total.median_answer_seconds is None
    assert report.groups == []


def test_enrollment_rows_carry_facts_not_names(db: Database) -> None:
    with db.session() as s:
        seed(s)
    with db.session() as s:
        rows = enrollment_rows(s, W48, overdue_sent=OVERDUE_SPAN_W48)
    assert len(rows) == 10  # every enrollment of the hand count; the cancelled one is left out
    first = next(r for r in rows if r.external_id == "e1")
    assert first.training == "Coaching" and first.has_manager
    assert first.answers["pre_training"].quadrant == "sweet_spot"
    assert first.first_goal_shared_at == datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_before_the_start_is_read_in_the_digest_zone(db: Database) -> None:
    """Half past midnight in Paris on the day after the start is too late there, not in UTC."""
    from reporting_seed import enroll_one

    with db.session() as s:
        enroll_one(
            s, starts=date(2026, 11, 24), answered=datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
        )
    with db.session() as s:
        utc = week_report(s, parse_week("2026-W48", "UTC"), min_group_size=3).total
        paris = week_report(s, parse_week("2026-W48", "Europe/Paris"), min_group_size=3).total
    assert (utc.pre_logged, utc.pre_cohort) == (1, 1)
    assert (paris.pre_logged, paris.pre_cohort) == (0, 1)
