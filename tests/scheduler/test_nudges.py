"""Enrollments into nudge rows: the planning rules at the recipients' local times, and the rows
kept right through reschedules, cancellations, a new manager and deactivated people."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from nudge_world import LEARNER, MANAGER, OTHER_MANAGER, World

from scheduler.nudges import plan_nudges, replan_manager_nudges
from storage.models import Enrollment, Person

PARIS, NEW_YORK, TOKYO = (
    ZoneInfo("Europe/Paris"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Tokyo"),
)
START, END = date(2026, 12, 8), date(2026, 12, 9)  # a Tuesday and a Wednesday


def local(when: datetime, tz: ZoneInfo) -> tuple[date, str]:
    moment = when.astimezone(tz)
    return moment.date(), moment.strftime("%H:%M")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_an_enrollment_plans_each_nudge_at_its_recipients_local_time(world: World) -> None:
    world.people()
    world.enroll(START, END)
    rows = world.by_kind()
    learner, manager = world.person(LEARNER), world.person(MANAGER)
    assert {k: (r.recipient_id, r.status) for k, r in rows.items()} == {
        "goal_invite": (learner.id, "pending"),
        "pre_training": (manager.id, "pending"),
        "debrief": (manager.id, "pending"),
        "follow_up": (manager.id, "pending"),
        "learner_follow_up": (learner.id, "pending"),
    }
    assert rows["goal_invite"].due_at == utc(2026, 12, 1, 8, 30)  # 09:30 in Paris
    assert rows["pre_training"].due_at == utc(2026, 12, 3, 14, 30)  # 09:30 in New York
    assert rows["debrief"].due_at == utc(2026, 12, 10, 14, 30)
    # 30 days after the end is Friday 8 January, a working day.
    assert rows["follow_up"].due_at == utc(2027, 1, 8, 14, 30)
    assert rows["learner_follow_up"].due_at == utc(2027, 1, 8, 8, 30)
    # Planning again changes nothing.
    world.enroll(START, END)
    assert [(r.id, r.due_at, r.status) for r in world.nudges()] == [
        (r.id, r.due_at, r.status) for r in rows.values()
    ]


def test_a_late_enrollment_goes_out_in_the_next_window_or_is_skipped(world: World) -> None:
    world.people()
    # Monday 23 November 10:00 UTC: 11:00 in Paris, 05:00 in New York.
    world.enroll(date(2026, 11, 25), date(2026, 11, 25))
    rows = world.by_kind()
    assert rows["goal_invite"].due_at == world.clock()  # inside Ada's window: at once
    assert rows["pre_training"].due_at == utc(2026, 11, 23, 14, 30)  # Grace's 09:30 today
    assert rows["debrief"].due_at == utc(2026, 11, 26, 14, 30)
    # A training that already started: the invite and the pre-training prompt are skipped.
    world.enroll(date(2026, 11, 20), date(2026, 11, 27), external_id="lms-2", training="Other")
    late = {r.kind: r for r in world.nudges() if r.id not in {x.id for x in rows.values()}}
    assert (late["goal_invite"].status, late["goal_invite"].reason) == (
        "skipped",
        "training already started",
    )
    assert late["pre_training"].status == "skipped"
    assert late["debrief"].status == "pending"


def test_reschedule_replans_pending_rows_and_never_resends_sent_ones(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.at(utc(2026, 12, 1, 8, 30))  # the goal invite goes out
    assert len(world.dms(LEARNER)) == 1
    sent = world.nudge(kind="goal_invite")
    assert sent.status == "sent"

    world.enroll(date(2026, 12, 15), date(2026, 12, 16))  # a week later
    rows = world.by_kind()
    assert rows["goal_invite"].status == "sent"
    assert rows["goal_invite"].ts == sent.ts
    assert rows["pre_training"].due_at == utc(2026, 12, 10, 14, 30)
    assert rows["debrief"].due_at == utc(2026, 12, 17, 14, 30)
    # At the invite's new time nothing is sent again.
    world.at(utc(2026, 12, 8, 8, 30))
    assert len(world.dms(LEARNER)) == 1
    world.at(utc(2026, 12, 10, 14, 30))
    assert len(world.dms(MANAGER)) == 1


def test_cancel_cancels_pending_and_reenrolling_plans_afresh(world: World) -> None:
    world.people()
    enrollment_id = world.enroll(START, END)
    world.at(utc(2026, 12, 1, 8, 30))  # the goal invite goes out
    world.enroll(START, END, status="cancelled")
    rows = world.by_kind()
    assert rows["goal_invite"].status == "sent"
    for kind in ("pre_training", "debrief", "follow_up", "learner_follow_up"):
        assert (rows[kind].status, rows[kind].reason) == ("cancelled", "enrollment cancelled")
    world.at(utc(2026, 12, 3, 14, 30))
    assert world.dms(MANAGER) == []

    # Enrolled again for January: a new generation, every nudge planned anew.
    world.enroll(date(2027, 1, 12), date(2027, 1, 12))
    assert world.enrollment(enrollment_id).generation == 1
    fresh = [r for r in world.nudges() if ".g1." in r.idempotency_key]
    assert sorted(r.kind for r in fresh) == sorted(
        ["goal_invite", "pre_training", "debrief", "follow_up", "learner_follow_up"]
    )
    assert all(r.status == "pending" for r in fresh)
    assert {r.kind: r.due_at for r in fresh}["pre_training"] == utc(2027, 1, 7, 14, 30)
    # The old rows stay as they were.
    assert [r.status for r in world.nudges() if ".g0." in r.idempotency_key].count("sent") == 1


def test_a_new_manager_gets_the_pending_manager_nudges_in_their_zone(world: World) -> None:
    world.people()
    world.enroll(START, END)
    world.at(utc(2026, 12, 3, 14, 30))  # Grace gets the pre-training prompt
    assert world.nudge(kind="pre_training").status == "sent"
    assert world.nudge(kind="reminder").status == "pending"

    world.enroll(START, END, manager=OTHER_MANAGER)
    rows = world.by_kind()
    alan = world.person(OTHER_MANAGER)
    assert rows["pre_training"].recipient_id == world.person(MANAGER).id  # already sent
    assert (rows["reminder"].status, rows["reminder"].reason) == ("cancelled", "manager changed")
    assert rows["debrief"].recipient_id == alan.id
    assert rows["debrief"].due_at == utc(2026, 12, 10, 0, 30)  # 09:30 in Tokyo
    assert rows["follow_up"].recipient_id == alan.id
    assert rows["goal_invite"].recipient_id == world.person(LEARNER).id

    world.at(utc(2026, 12, 10, 0, 30))
    assert len(world.dms(OTHER_MANAGER)) == 1
    world.at(utc(2026, 12, 10, 14, 30))
    assert len(world.dms(MANAGER)) == 1  # only the pre-training prompt


def test_a_manager_change_in_the_directory_reroutes_pending_nudges(world: World) -> None:
    world.people()
    world.enroll(START, END)
    # The training ended weeks ago; only the follow-ups are still to come.
    world.clock.set(utc(2026, 12, 28, 10))
    alan = world.person(OTHER_MANAGER)
    with world.db.session() as session:
        learner = session.get(Person, world.person(LEARNER).id)
        assert learner is not None
        learner.manager_id = alan.id
        session.add(learner)
        count = replan_manager_nudges(
            session,
            learner=learner,
            now=world.clock(),
            rules=world.settings.rules,
            default_tz="UTC",
        )
    assert count == 1
    rows = world.by_kind()
    assert rows["follow_up"].recipient_id == alan.id
    assert rows["follow_up"].due_at == utc(2027, 1, 8, 0, 30)


def test_a_deactivated_recipient_is_skipped_with_a_reason(world: World) -> None:
    world.people()
    world.enroll(START, END)  # creates the people
    world.update(world.nudge(kind="goal_invite").id, status="pending")
    with world.db.session() as session:
        grace = session.get(Person, world.person(MANAGER).id)
        assert grace is not None
        grace.active = False
        session.add(grace)
    world.enroll(date(2026, 12, 15), date(2026, 12, 16))  # a re-plan sees the deactivation
    rows = world.by_kind()
    for kind in ("pre_training", "debrief", "follow_up"):
        assert (rows[kind].status, rows[kind].reason) == (
            "skipped",
            "recipient is deactivated in Slack",
        )
    assert rows["goal_invite"].status == "pending"

    # Deactivated after planning: the dispatcher skips the row when it comes due.
    with world.db.session() as session:
        ada = session.get(Person, world.person(LEARNER).id)
        assert ada is not None
        ada.active = False
        session.add(ada)
    world.at(rows["goal_invite"].due_at)
    goal = world.nudge(kind="goal_invite")
    assert (goal.status, goal.reason) == ("skipped", "recipient is deactivated in Slack")
    assert world.posts() == []


def test_a_dst_change_keeps_half_past_nine_local_in_berlin(world: World) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    world.fake.add_user("ULENA", email="lena@example.org", tz="Europe/Berlin")
    world.fake.add_user("UKARL", email="karl@example.org", tz="Europe/Berlin")
    world.clock.set(utc(2026, 10, 1, 12))
    # Summer time ends on Sunday 25 October 2026; the training is on Tuesday the 27th.
    world.enroll(date(2026, 10, 27), date(2026, 10, 27), learner="ULENA", manager="UKARL")
    rows = world.by_kind()
    assert rows["goal_invite"].due_at == utc(2026, 10, 20, 7, 30)  # CEST, UTC+2
    assert rows["pre_training"].due_at == utc(2026, 10, 22, 7, 30)
    assert rows["debrief"].due_at == utc(2026, 10, 28, 8, 30)  # CET, UTC+1
    for kind in ("goal_invite", "pre_training", "debrief"):
        world.at(rows[kind].due_at)
    sent = world.nudges()
    for row in sent:
        if row.kind in ("goal_invite", "pre_training", "debrief"):
            assert row.status == "sent", row
            assert local(row.sent_at, berlin)[1] == "09:30"
    # The reminder of the pre-training prompt, two working days later: Monday the 26th.
    reminder = world.nudge(kind="reminder", parent_id=rows["pre_training"].id)
    assert local(reminder.due_at, berlin) == (date(2026, 10, 26), "09:30")


def test_a_dst_change_keeps_half_past_nine_local_in_new_york(world: World) -> None:
    world.people()
    world.clock.set(utc(2026, 10, 1, 12))
    # Daylight time ends in New York on Sunday 1 November 2026.
    world.enroll(date(2026, 11, 3), date(2026, 11, 3))
    rows = world.by_kind()
    assert rows["pre_training"].due_at == utc(2026, 10, 29, 13, 30)  # EDT, UTC-4
    assert rows["debrief"].due_at == utc(2026, 11, 4, 14, 30)  # EST, UTC-5
    world.at(utc(2026, 10, 29, 13, 30))
    # The reminder falls on Monday 2 November, after the change: still 09:30 there.
    assert local(world.nudge(kind="reminder").due_at, NEW_YORK) == (date(2026, 11, 2), "09:30")
    world.at(utc(2026, 11, 2, 13, 30))  # 08:30 in New York now: too early
    assert len(world.dms(MANAGER)) == 1
    world.at(utc(2026, 11, 2, 14, 30))
    assert len(world.dms(MANAGER)) == 2


def test_each_round_of_follow_up_days_plans_a_follow_up_pair(world: World) -> None:
    world.people()
    world.configure(follow_up_days=(30, 90))
    world.enroll(START, END)
    enrollment = world.nudges()[0].enrollment_id
    rounds = {
        (r.kind, r.follow_up_round): r
        for r in world.nudges()
        if r.kind in ("follow_up", "learner_follow_up")
    }
    assert set(rounds) == {
        ("follow_up", 1),
        ("follow_up", 2),
        ("learner_follow_up", 1),
        ("learner_follow_up", 2),
    }
    # The first round keeps the key it always had; the second has a key of its own.
    assert rounds["follow_up", 1].idempotency_key == f"e{enrollment}.g0.follow_up"
    assert rounds["follow_up", 2].idempotency_key == f"e{enrollment}.g0.follow_up.r2"
    # 90 days after Wednesday 9 December is Thursday 9 March, 09:30 in each zone.
    assert rounds["follow_up", 2].due_at == utc(2027, 3, 9, 14, 30)
    assert rounds["learner_follow_up", 2].due_at == utc(2027, 3, 9, 8, 30)
    assert rounds["follow_up", 1].due_at == utc(2027, 1, 8, 14, 30)
    # Planning again changes nothing; a shorter FOLLOW_UP_DAYS cancels the round it dropped.
    before = [(r.id, r.due_at, r.status) for r in world.nudges()]
    world.enroll(START, END)
    assert [(r.id, r.due_at, r.status) for r in world.nudges()] == before
    world.configure(follow_up_days=(30,))
    with world.db.session() as session:
        row = session.get(Enrollment, enrollment)
        assert row is not None
        plan_nudges(session, row, now=world.clock(), rules=world.settings.rules, default_tz="UTC")
    dropped = [r for r in world.nudges() if r.follow_up_round == 2]
    assert {(r.status, r.reason) for r in dropped} == {
        ("cancelled", "FOLLOW_UP_DAYS has no such follow-up round any more")
    }
    assert rounds["follow_up", 1].id in {r.id for r in world.nudges(status="pending")}


def test_a_new_manager_gets_the_later_rounds_of_a_training_long_over(world: World) -> None:
    world.people()
    world.configure(follow_up_days=(30, 90))
    world.enroll(START, END)
    world.clock.set(utc(2027, 2, 20, 12, 0))  # past the first round, before the second
    alan, ada = world.person(OTHER_MANAGER), world.person(LEARNER)
    with world.db.session() as session:
        learner = session.get(Person, ada.id)
        assert learner is not None
        learner.manager_id = alan.id
        session.add(learner)
        moved = replan_manager_nudges(
            session,
            learner=learner,
            now=world.clock(),
            rules=world.settings.rules,
            default_tz="UTC",
        )
    assert moved == 1
    (second,) = world.nudges(kind="follow_up", follow_up_round=2)
    assert second.recipient_id == alan.id
