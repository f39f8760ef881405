"""Planning a self-paced training (no end) and a reported completion, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.planning import Rules, Slot, plan_enrollment

RULES = Rules()
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def plan(
    now: datetime,
    *,
    starts_on: date,
    ends_on: date | None = None,
    completed_on: date | None = None,
    manager_tz: ZoneInfo | None = NEW_YORK,
) -> dict[str, Slot]:
    """A learner in Paris, a manager in New York."""
    return plan_enrollment(
        starts_on=starts_on,
        ends_on=ends_on,
        learner_tz=PARIS,
        manager_tz=manager_tz,
        now=now,
        rules=RULES,
        completed_on=completed_on,
    )


def test_self_paced_goal_invite_and_pre_training_are_due_at_once_inside_the_window() -> None:
    # Monday 23 Nov 15:00 UTC: 16:00 in Paris (inside), 10:00 in New York (inside).
    now = utc(2026, 11, 23, 15)
    slots = plan(now, starts_on=date(2026, 11, 23))
    assert slots["goal_invite"] == Slot(now)
    assert slots["pre_training"] == Slot(now)


def test_self_paced_outside_the_window_waits_for_the_next_one_even_after_the_start() -> None:
    # Monday 23 Nov 20:00 UTC: 21:00 in Paris, 15:00 in New York.
    now = utc(2026, 11, 23, 20)
    slots = plan(now, starts_on=date(2026, 11, 23))
    # Paris: Tuesday 09:30, the day after the course opened; a scheduled training would skip it.
    assert slots["goal_invite"] == Slot(utc(2026, 11, 24, 8, 30))
    assert slots["pre_training"] == Slot(now)


def test_self_paced_debrief_and_follow_ups_wait_for_the_completion() -> None:
    slots = plan(utc(2026, 11, 23, 15), starts_on=date(2026, 11, 23))
    assert set(slots) == {"goal_invite", "pre_training"}
    learner_only = plan(utc(2026, 11, 23, 15), starts_on=date(2026, 11, 23), manager_tz=None)
    assert set(learner_only) == {"goal_invite"}


def test_self_paced_course_opened_weeks_ago_gets_no_late_invite() -> None:
    slots = plan(utc(2026, 11, 23, 15), starts_on=date(2026, 11, 2))
    assert slots["goal_invite"].skip_reason == "self-paced training started more than 14 days ago"
    assert plan(utc(2026, 11, 23, 15), starts_on=date(2026, 11, 9))["goal_invite"].due_at


def test_a_completion_plans_the_debrief_and_follow_ups_from_its_date() -> None:
    now = utc(2026, 11, 25, 12)  # Wednesday
    slots = plan(now, starts_on=date(2026, 11, 23), completed_on=date(2026, 11, 25))
    # One working day after Wed 25 Nov, at 09:30 in New York; follow-ups 30 days on (Fri 25 Dec
    # is a working day by DELIVERY_DAYS).
    assert slots["debrief"] == Slot(utc(2026, 11, 26, 14, 30))
    assert slots["follow_up"] == Slot(utc(2026, 12, 25, 14, 30))
    assert slots["learner_follow_up"] == Slot(utc(2026, 12, 25, 8, 30))
    # Nothing before the training is sent once it is completed.
    assert slots["goal_invite"].skip_reason == "training already completed"
    assert slots["pre_training"].skip_reason == "training already completed"


def test_a_completion_wins_over_the_scheduled_end() -> None:
    now = utc(2026, 12, 2, 12)
    slots = plan(
        now,
        starts_on=date(2026, 11, 30),
        ends_on=date(2026, 12, 11),
        completed_on=date(2026, 12, 2),
    )
    assert slots["debrief"] == Slot(utc(2026, 12, 3, 14, 30))


@pytest.mark.parametrize(("days_ago", "debrief"), [(14, True), (15, False)])
def test_a_completion_more_than_14_days_old_plans_no_debrief(days_ago: int, debrief: bool) -> None:
    completed = date(2026, 11, 9)
    now = utc(2026, 11, 9, 15) + timedelta(days=days_ago)
    slots = plan(now, starts_on=date(2026, 11, 2), completed_on=completed)
    if debrief:
        assert slots["debrief"].due_at is not None
    else:
        assert slots["debrief"].skip_reason == "completed more than 14 days ago"
    # The follow-ups, a month after the completion, are still ahead.
    assert slots["follow_up"].due_at is not None


def test_a_completion_before_the_start_is_refused() -> None:
    with pytest.raises(ValueError, match="completed_on"):
        plan(utc(2026, 11, 23), starts_on=date(2026, 11, 23), completed_on=date(2026, 11, 20))
