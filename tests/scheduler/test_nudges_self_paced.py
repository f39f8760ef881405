"""A self-paced training's nudges as rows: the invite and prompt at once, the debrief and
follow-ups once the LMS reports the completion, and what the DMs say meanwhile."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from nudge_world import LEARNER, MANAGER, World

from bot.core.enrollment import EnrollmentInput, EnrollResult
from scheduler.nudges import AWAITING_COMPLETION

MONDAY = date(2026, 11, 23)  # the test clock's day: 10:00 UTC, 11:00 in Paris, 05:00 in NY


def enroll(world: World, **changes: Any) -> EnrollResult:
    fields: dict[str, Any] = {
        "learner": LEARNER,
        "manager": MANAGER,
        "training": "Data Privacy (e-learning)",
        "starts_on": MONDAY,
        "ends_on": None,
        "external_id": "xapi-1",
        **changes,
    }
    with world.db.session() as session:
        return world.intake.enroll(session, EnrollmentInput(**fields))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_self_paced_plans_the_invite_and_prompt_at_once_and_waits_for_the_completion(
    world: World,
) -> None:
    world.people()
    result = enroll(world)
    assert result.created and result.enrollment.ends_on is None
    rows = world.by_kind()
    assert set(rows) == {"goal_invite", "pre_training"}
    assert rows["goal_invite"].due_at == world.clock()  # inside the window in Paris: now
    assert rows["pre_training"].due_at == utc(2026, 11, 23, 14, 30)  # New York's window opens

    world.clock.advance(days=2)  # Wednesday 25 November
    done = enroll(world, status="completed", completed_on=None, training="", starts_on="")
    assert done.changed and done.status == "completed"
    assert done.enrollment.completed_on == done.enrollment.ends_on == date(2026, 11, 25)
    rows = world.by_kind()
    assert rows["debrief"].due_at == utc(2026, 11, 26, 14, 30)  # one working day on, in New York
    assert rows["follow_up"].due_at == utc(2026, 12, 25, 14, 30)
    assert rows["learner_follow_up"].due_at == utc(2026, 12, 25, 8, 30)
    # Sent or not, what came before the completion is not planned again.
    assert rows["goal_invite"].status == "skipped"

    again = enroll(world, status="completed", completed_on="2026-11-25", training="", starts_on="")
    assert again.outcome == "duplicate"


def test_reopening_a_completion_cancels_the_debrief_until_it_completes_again(
    world: World,
) -> None:
    world.people()
    enroll(world)
    enroll(world, status="completed", completed_on=MONDAY)
    assert world.by_kind()["debrief"].status == "pending"
    reopened = enroll(world)  # the latest message wins: enrolled again, self-paced
    assert reopened.changed and reopened.enrollment.completed_on is None
    debrief = world.by_kind()["debrief"]
    assert (debrief.status, debrief.reason) == ("cancelled", AWAITING_COMPLETION)
    enroll(world, status="completed", completed_on=MONDAY)
    assert world.by_kind()["debrief"].status == "pending"


def test_an_old_completion_plans_no_debrief_but_the_follow_ups(world: World) -> None:
    world.people()
    result = enroll(
        world, starts_on=MONDAY - timedelta(days=30), status="completed", completed_on="2026-11-01"
    )
    assert result.created
    rows = world.by_kind()
    assert (rows["debrief"].status, rows["debrief"].reason) == (
        "skipped",
        "completed more than 14 days ago",
    )
    assert rows["follow_up"].status == "pending"


def test_the_self_paced_invite_says_it_has_no_end(world: World) -> None:
    world.people()
    enroll(world)
    report = world.tick()
    assert report.sent == 1
    (dm,) = world.dms(LEARNER)
    assert "self-paced" in str(dm["blocks"])
