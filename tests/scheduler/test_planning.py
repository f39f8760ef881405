"""Planning rules of INTERFACE.md, checked without a database, Slack or a real clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.planning import (
    Rules,
    Slot,
    in_window,
    is_out_of_office,
    local_slot,
    next_window_start,
    next_working_day_on_or_after,
    ooo_defer,
    parse_clock,
    parse_days,
    place_after_end,
    place_before_start,
    plan_enrollment,
    reminder_slot,
    snooze_slot,
    working_days_after,
    working_days_before,
    zone,
)

RULES = Rules()
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A local wall-clock time, as the UTC instant the planner returns."""
    return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)


def plan_for(starts_on: date, ends_on: date, now: datetime, **given: Any) -> dict[str, Slot]:
    """`plan_enrollment` with learner and manager in Paris under the default rules, unless
    `given` says otherwise."""
    defaults: dict[str, Any] = {"learner_tz": PARIS, "manager_tz": PARIS, "rules": RULES}
    return plan_enrollment(starts_on=starts_on, ends_on=ends_on, now=now, **defaults | given)


# --- Working days and zones ------------------------------------------------------------------


def test_working_days_skip_weekends() -> None:
    tuesday = date(2026, 12, 8)
    assert working_days_before(tuesday, 5, RULES) == date(2026, 12, 1)
    assert working_days_before(tuesday, 3, RULES) == date(2026, 12, 3)
    assert working_days_before(date(2026, 12, 14), 1, RULES) == date(2026, 12, 11)  # Mon -> Fri
    assert working_days_after(date(2026, 12, 11), 1, RULES) == date(2026, 12, 14)  # Fri -> Mon
    assert working_days_after(date(2026, 12, 12), 1, RULES) == date(2026, 12, 14)  # Sat -> Mon
    assert next_working_day_on_or_after(date(2027, 1, 17), RULES) == date(2027, 1, 18)
    assert next_working_day_on_or_after(date(2027, 1, 8), RULES) == date(2027, 1, 8)


def test_zero_working_days_lands_on_a_working_day() -> None:
    saturday = date(2026, 12, 12)
    assert working_days_before(saturday, 0, RULES) == date(2026, 12, 11)
    assert working_days_after(saturday, 0, RULES) == date(2026, 12, 14)
    with pytest.raises(ValueError):
        working_days_after(saturday, -1, RULES)


def test_custom_delivery_days_sunday_to_thursday() -> None:
    rules = Rules(delivery_days=parse_days("sun-thu"))
    assert working_days_after(date(2026, 12, 10), 1, rules) == date(2026, 12, 13)  # Thu -> Sun


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Europe/Paris", "Europe/Paris"),
        (None, "America/New_York"),
        ("", "America/New_York"),
        ("Not/AZone", "America/New_York"),
        ("../../etc/passwd", "America/New_York"),
    ],
)
def test_zone_falls_back_to_default(name: str | None, expected: str) -> None:
    assert zone(name, "America/New_York").key == expected


def test_zone_with_invalid_default_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone(None, "Mars/Olympus")


def test_rules_reject_an_empty_window() -> None:
    with pytest.raises(ValueError, match="window is empty"):
        Rules(delivery_time=time(17, 0), delivery_end=time(9, 0))
    with pytest.raises(ValueError, match="delivery day"):
        Rules(delivery_days=frozenset())


# --- A normal enrollment ---------------------------------------------------------------------

# Training Tue 2026-12-08 .. Wed 2026-12-09, planned well ahead.
NORMAL_PLAN = [
    # zone, kind, due (UTC); Paris is UTC+1 and New York UTC-5 in winter
    (PARIS, "goal_invite", utc(2026, 12, 1, 8, 30)),
    (PARIS, "pre_training", utc(2026, 12, 3, 8, 30)),
    (PARIS, "debrief", utc(2026, 12, 10, 8, 30)),
    (PARIS, "follow_up", utc(2027, 1, 8, 8, 30)),
    (PARIS, "learner_follow_up", utc(2027, 1, 8, 8, 30)),
    (NEW_YORK, "goal_invite", utc(2026, 12, 1, 14, 30)),
    (NEW_YORK, "pre_training", utc(2026, 12, 3, 14, 30)),
    (NEW_YORK, "debrief", utc(2026, 12, 10, 14, 30)),
    (NEW_YORK, "follow_up", utc(2027, 1, 8, 14, 30)),
    (NEW_YORK, "learner_follow_up", utc(2027, 1, 8, 14, 30)),
]


@pytest.mark.parametrize(("tz", "kind", "due"), NORMAL_PLAN)
def test_normal_enrollment(tz: ZoneInfo, kind: str, due: datetime) -> None:
    plan = plan_for(
        date(2026, 12, 8), date(2026, 12, 9), utc(2026, 11, 1, 12), learner_tz=tz, manager_tz=tz
    )
    assert set(plan) == {"goal_invite", "pre_training", "debrief", "follow_up", "learner_follow_up"}
    assert plan[kind] == Slot(due)
    assert due.astimezone(tz).time() == time(9, 30)


def test_learner_and_manager_in_different_zones() -> None:
    plan = plan_for(date(2026, 12, 8), date(2026, 12, 9), utc(2026, 11, 1, 12), manager_tz=NEW_YORK)
    assert plan["goal_invite"].due_at == utc(2026, 12, 1, 8, 30)
    assert plan["pre_training"].due_at == utc(2026, 12, 3, 14, 30)
    assert plan["follow_up"].due_at == utc(2027, 1, 8, 14, 30)
    assert plan["learner_follow_up"].due_at == utc(2027, 1, 8, 8, 30)


def test_without_manager_only_learner_nudges() -> None:
    plan = plan_for(date(2026, 12, 8), date(2026, 12, 9), utc(2026, 11, 1, 12), manager_tz=None)
    assert set(plan) == {"goal_invite", "learner_follow_up"}


def test_weekend_handling() -> None:
    # Mon 2026-12-14 .. Fri 2026-12-18: debrief on Monday, follow-up Sun 2027-01-17 -> Monday.
    plan = plan_for(date(2026, 12, 14), date(2026, 12, 18), utc(2026, 11, 1, 12))
    assert plan["goal_invite"].due_at == local(PARIS, 2026, 12, 7, 9, 30)
    assert plan["pre_training"].due_at == local(PARIS, 2026, 12, 9, 9, 30)
    assert plan["debrief"].due_at == local(PARIS, 2026, 12, 21, 9, 30)
    assert plan["follow_up"].due_at == local(PARIS, 2027, 1, 18, 9, 30)


def test_ends_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before starts_on"):
        plan_for(date(2026, 12, 8), date(2026, 12, 7), utc(2026, 11, 1), manager_tz=None)


# --- Daylight saving time --------------------------------------------------------------------


def test_dst_end_new_york() -> None:
    # Clocks fall back on Sun 2026-11-01: the goal invite (Fri 10-30) is EDT, the pre-training
    # prompt (Tue 11-03) EST; both at 09:30 local.
    plan = plan_for(
        date(2026, 11, 6),
        date(2026, 11, 6),
        utc(2026, 10, 1),
        learner_tz=NEW_YORK,
        manager_tz=NEW_YORK,
    )
    assert plan["goal_invite"].due_at == utc(2026, 10, 30, 13, 30)
    assert plan["pre_training"].due_at == utc(2026, 11, 3, 14, 30)


def test_dst_start_berlin() -> None:
    # Clocks spring forward on Sun 2026-03-29.
    plan = plan_for(
        date(2026, 4, 3), date(2026, 4, 3), utc(2026, 3, 1), learner_tz=BERLIN, manager_tz=BERLIN
    )
    assert plan["goal_invite"].due_at == utc(2026, 3, 27, 8, 30)
    assert plan["pre_training"].due_at == utc(2026, 3, 31, 7, 30)


def test_nonexistent_local_time_goes_to_the_end_of_the_gap() -> None:
    rules = Rules(delivery_time=time(2, 30))
    # 2026-03-08 02:00 EST -> 03:00 EDT in New York; 03:00 EDT is 07:00 UTC.
    assert local_slot(date(2026, 3, 8), NEW_YORK, rules) == utc(2026, 3, 8, 7, 0)


def test_ambiguous_local_time_uses_the_first_occurrence() -> None:
    rules = Rules(delivery_time=time(1, 30), delivery_days=frozenset(range(7)))
    # 2026-11-01 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    assert local_slot(date(2026, 11, 1), NEW_YORK, rules) == utc(2026, 11, 1, 5, 30)
    # Between the two, once the clock has fallen back to 01:10, the window reopens at 01:30 EST.
    assert not in_window(utc(2026, 11, 1, 6, 10), NEW_YORK, rules)
    assert next_window_start(utc(2026, 11, 1, 6, 10), NEW_YORK, rules) == utc(2026, 11, 1, 6, 30)


# --- The window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (local(PARIS, 2026, 12, 7, 9, 29), False),
        (local(PARIS, 2026, 12, 7, 9, 30), True),
        (local(PARIS, 2026, 12, 7, 16, 59), True),
        (local(PARIS, 2026, 12, 7, 17, 0), False),  # nothing goes out at DELIVERY_END itself
        (local(PARIS, 2026, 12, 12, 11, 0), False),  # Saturday
    ],
)
def test_in_window(now: datetime, inside: bool) -> None:
    assert in_window(now, PARIS, RULES) is inside


def test_next_window_start() -> None:
    inside = local(PARIS, 2026, 12, 7, 11, 0)
    assert next_window_start(inside, PARIS, RULES) == inside
    friday_evening = local(PARIS, 2026, 12, 11, 17, 0)
    assert next_window_start(friday_evening, PARIS, RULES) == local(PARIS, 2026, 12, 14, 9, 30)
    early = local(PARIS, 2026, 12, 8, 6, 0)
    assert next_window_start(early, PARIS, RULES) == local(PARIS, 2026, 12, 8, 9, 30)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        in_window(datetime(2026, 12, 7, 11), PARIS, RULES)


# --- Late enrollments ------------------------------------------------------------------------


def _late_plan(now: datetime, starts_on: date = date(2026, 12, 8)) -> dict[str, Slot]:
    return plan_for(starts_on, starts_on + timedelta(days=1), now)


def test_late_inside_window_goes_out_now() -> None:
    now = local(PARIS, 2026, 12, 7, 10, 0)
    plan = _late_plan(now)
    assert plan["goal_invite"] == Slot(now)
    assert plan["pre_training"] == Slot(now)
    assert plan["debrief"].due_at == local(PARIS, 2026, 12, 10, 9, 30)


def test_late_evening_before_start_goes_out_on_the_start_date() -> None:
    plan = _late_plan(local(PARIS, 2026, 12, 7, 20, 0))
    assert plan["goal_invite"] == Slot(local(PARIS, 2026, 12, 8, 9, 30))
    assert plan["pre_training"] == Slot(local(PARIS, 2026, 12, 8, 9, 30))


def test_late_on_friday_evening_for_a_monday_start() -> None:
    plan = _late_plan(local(PARIS, 2026, 12, 11, 18, 0), starts_on=date(2026, 12, 14))
    assert plan["pre_training"] == Slot(local(PARIS, 2026, 12, 14, 9, 30))


def test_late_on_the_start_date_inside_the_window_goes_out_now() -> None:
    now = local(PARIS, 2026, 12, 8, 11, 0)
    assert _late_plan(now)["pre_training"] == Slot(now)


def test_late_after_start_is_skipped() -> None:
    plan = _late_plan(local(PARIS, 2026, 12, 8, 20, 0))
    assert plan["goal_invite"] == Slot(None, "training already started")
    assert plan["pre_training"] == Slot(None, "training already started")


def test_start_date_is_read_in_the_recipients_zone() -> None:
    # 01:00 UTC on 12-08 is still the evening of 12-07 in New York: its window opens on 12-08.
    due = local(NEW_YORK, 2026, 12, 3, 9, 30)
    slot = place_before_start(due, date(2026, 12, 8), utc(2026, 12, 8, 1), NEW_YORK, RULES)
    assert slot == Slot(local(NEW_YORK, 2026, 12, 8, 9, 30))


# --- Late debriefs and follow-ups ------------------------------------------------------------

DEBRIEF_DUE = local(PARIS, 2026, 12, 10, 9, 30)


def test_debrief_three_days_late_goes_out_at_the_next_window() -> None:
    sunday = local(PARIS, 2026, 12, 13, 10, 0)
    slot = place_after_end(DEBRIEF_DUE, sunday, PARIS, RULES)
    assert slot == Slot(local(PARIS, 2026, 12, 14, 9, 30))


def test_debrief_twenty_days_late_is_skipped() -> None:
    slot = place_after_end(DEBRIEF_DUE, local(PARIS, 2026, 12, 30, 10, 0), PARIS, RULES)
    assert slot == Slot(None, "more than 14 days late")


def test_lateness_is_measured_when_it_would_go_out() -> None:
    exactly_14_days = DEBRIEF_DUE + timedelta(days=14)
    assert place_after_end(DEBRIEF_DUE, exactly_14_days, PARIS, RULES) == Slot(exactly_14_days)
    # 14 days and 9 hours late now, and the next window is later still.
    evening = DEBRIEF_DUE + timedelta(days=14, hours=9)
    assert place_after_end(DEBRIEF_DUE, evening, PARIS, RULES).due_at is None


def test_future_due_time_is_kept() -> None:
    now = DEBRIEF_DUE - timedelta(days=1)
    assert place_after_end(DEBRIEF_DUE, now, PARIS, RULES) == Slot(DEBRIEF_DUE)
    assert place_before_start(DEBRIEF_DUE, date(2026, 12, 20), now, PARIS, RULES) == Slot(
        DEBRIEF_DUE
    )


# --- Reminders and snoozes -------------------------------------------------------------------


def test_reminder_two_working_days_after_sending() -> None:
    sent = local(PARIS, 2026, 12, 3, 9, 30)  # Thursday
    assert reminder_slot(sent_at=sent, tz=PARIS, rules=RULES) == Slot(
        local(PARIS, 2026, 12, 7, 9, 30)  # Monday
    )


def test_reminder_counts_from_the_local_date_it_was_sent() -> None:
    sent = utc(2026, 12, 3, 23, 30)  # Friday 00:30 in Paris, Thursday 18:30 in New York
    assert reminder_slot(sent_at=sent, tz=PARIS, rules=RULES).due_at == local(
        PARIS, 2026, 12, 8, 9, 30
    )
    assert reminder_slot(sent_at=sent, tz=NEW_YORK, rules=RULES).due_at == local(
        NEW_YORK, 2026, 12, 7, 9, 30
    )


def test_pre_training_reminder_on_the_start_date_is_kept() -> None:
    sent = local(PARIS, 2026, 12, 4, 9, 30)  # Friday; reminder Tuesday, the start date
    slot = reminder_slot(sent_at=sent, tz=PARIS, rules=RULES, starts_on=date(2026, 12, 8))
    assert slot == Slot(local(PARIS, 2026, 12, 8, 9, 30))


def test_pre_training_reminder_after_the_start_is_dropped() -> None:
    sent = local(PARIS, 2026, 12, 7, 9, 30)  # Monday; reminder would be Wednesday
    slot = reminder_slot(sent_at=sent, tz=PARIS, rules=RULES, starts_on=date(2026, 12, 8))
    assert slot == Slot(None, "after the training started")


def test_reminder_already_past_goes_to_the_next_window() -> None:
    sent = local(PARIS, 2026, 12, 3, 9, 30)
    now = local(PARIS, 2026, 12, 7, 20, 0)  # Monday's reminder slot has passed
    slot = reminder_slot(sent_at=sent, tz=PARIS, rules=RULES, starts_on=date(2026, 12, 8), now=now)
    assert slot == Slot(local(PARIS, 2026, 12, 8, 9, 30))
    later = local(PARIS, 2026, 12, 8, 18, 0)
    slot = reminder_slot(
        sent_at=sent, tz=PARIS, rules=RULES, starts_on=date(2026, 12, 8), now=later
    )
    assert slot == Slot(None, "after the training started")


def test_snooze_on_friday_goes_to_monday() -> None:
    friday = local(PARIS, 2026, 12, 11, 15, 0)
    assert snooze_slot(friday, PARIS, RULES) == local(PARIS, 2026, 12, 14, 9, 30)
    monday = local(PARIS, 2026, 12, 14, 10, 0)
    assert snooze_slot(monday, PARIS, RULES) == local(PARIS, 2026, 12, 15, 9, 30)


# --- Out of office ---------------------------------------------------------------------------

NOW = utc(2026, 12, 7, 10)
FUTURE = int((NOW + timedelta(days=1)).timestamp())
PAST = int((NOW - timedelta(minutes=1)).timestamp())


@pytest.mark.parametrize(
    ("profile", "away"),
    [
        ({"status_emoji": ":palm_tree:", "status_text": ""}, True),
        ({"status_emoji": ":airplane:", "status_text": "Travelling"}, True),
        ({"status_emoji": ":face_with_thermometer:"}, True),
        ({"status_emoji": ":palm_tree:", "status_expiration": 0}, True),
        ({"status_text": "On vacation until Monday"}, True),
        ({"status_text": "Public HOLIDAY"}, True),
        ({"status_text": "Out of office"}, True),
        ({"status_text": "out-of-office"}, True),
        ({"status_text": "OOO until the 12th"}, True),
        ({"status_text": "ooo"}, True),
        ({"status_text": "Sick"}, True),
        ({"status_text": "On parental leave"}, True),
        ({"status_text": "Leave"}, True),
        ({"status_text": "vacation", "status_expiration": FUTURE}, True),
        ({"status_text": "vacation", "status_expiration": PAST}, False),
        ({"status_emoji": ":palm_tree:", "status_expiration": PAST}, False),
        ({"status_emoji": ":spiral_calendar_pad:", "status_text": "In a meeting"}, False),
        ({"status_text": "Rolling up my sleeve"}, False),
        ({"status_text": "Zoom room 3"}, False),  # "ooo" inside a word is not OOO
        ({"status_emoji": "", "status_text": ""}, False),
        ({}, False),
        ({"status_text": None, "status_emoji": None, "status_expiration": None}, False),
    ],
)
def test_out_of_office(profile: dict[str, object], away: bool) -> None:
    assert is_out_of_office(profile, NOW) is away


def test_ooo_defer_moves_to_the_next_working_day() -> None:
    friday = local(PARIS, 2026, 12, 11, 9, 30)
    slot = ooo_defer(now=friday, tz=PARIS, deferrals_so_far=0, rules=RULES)
    assert slot == Slot(local(PARIS, 2026, 12, 14, 9, 30))
    assert ooo_defer(now=friday, tz=PARIS, deferrals_so_far=9, rules=RULES).due_at is not None


def test_ooo_defer_gives_up_after_ten_working_days() -> None:
    slot = ooo_defer(now=NOW, tz=PARIS, deferrals_so_far=10, rules=RULES)
    assert slot == Slot(None, "out of office for 10 working days")


# --- Configuration parsing -------------------------------------------------------------------


def test_parse_clock() -> None:
    assert parse_clock("09:30") == time(9, 30)
    assert parse_clock(" 9:05 ") == time(9, 5)
    assert parse_clock("23:59") == time(23, 59)


@pytest.mark.parametrize("text", ["24:00", "09:60", "9", "nine", "", "09:30:00", "9.30"])
def test_parse_clock_errors(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock(text)


def test_parse_days() -> None:
    assert parse_days("mon,tue,wed") == {0, 1, 2}
    assert parse_days("MON, Tuesday ,sun") == {0, 1, 6}
    assert parse_days("mon-fri") == {0, 1, 2, 3, 4}
    assert parse_days("sun-thu") == {6, 0, 1, 2, 3}


@pytest.mark.parametrize(("text", "bad"), [("mon,funday", "funday"), ("mon-fry", "fry")])
def test_parse_days_names_the_bad_token(text: str, bad: str) -> None:
    with pytest.raises(ValueError, match=f"'{bad}'"):
        parse_days(text)


def test_parse_days_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="no days"):
        parse_days(" , ")


# --- The invariant ---------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "America/Santiago",  # DST changes at midnight
    "America/Havana",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",  # half-hour DST
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]


@st.composite
def rules_strategy(draw: st.DrawFn) -> Rules:
    start = draw(st.integers(0, 23 * 4 - 1)) * 15
    end = draw(st.integers(start // 15 + 1, 24 * 4 - 1)) * 15
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return Rules(
        delivery_time=time(start // 60, start % 60),
        delivery_end=time(end // 60, end % 60),
        delivery_days=days,
        goal_invite_days=draw(st.integers(0, 10)),
        pre_training_days=draw(st.integers(0, 10)),
        post_training_days=draw(st.integers(0, 5)),
        follow_up_days=tuple(sorted(draw(st.sets(st.integers(0, 120), min_size=1, max_size=3)))),
        reminder_after_days=draw(st.integers(0, 5)),
    )


@settings(max_examples=150, deadline=None)
@given(
    now=st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC)),
    start_offset=st.integers(-60, 120),
    length=st.integers(0, 10),
    learner=st.sampled_from(ZONES),
    manager=st.sampled_from(ZONES),
    rules=st.one_of(st.just(RULES), rules_strategy()),
    deferrals=st.integers(0, 12),
)
def test_every_slot_is_inside_the_recipients_window(
    now: datetime,
    start_offset: int,
    length: int,
    learner: str,
    manager: str,
    rules: Rules,
    deferrals: int,
) -> None:
    learner_tz, manager_tz = ZoneInfo(learner), ZoneInfo(manager)
    starts_on = now.date() + timedelta(days=start_offset)
    ends_on = starts_on + timedelta(days=length)
    plan = plan_for(
        starts_on, ends_on, now, learner_tz=learner_tz, manager_tz=manager_tz, rules=rules
    )
    recipients = {"goal_invite": learner_tz, "learner_follow_up": learner_tz}
    for key, slot in plan.items():
        kind = key.partition(".")[0]  # a later follow-up round: "follow_up.2"
        tz = recipients.get(kind, manager_tz)
        if slot.due_at is not None:
            assert slot.due_at >= now, kind
            assert in_window(slot.due_at, tz, rules), (kind, slot.due_at.astimezone(tz))
            reminder = reminder_slot(
                sent_at=slot.due_at, tz=tz, rules=rules, starts_on=starts_on, now=now
            )
            if reminder.due_at is not None:
                assert in_window(reminder.due_at, tz, rules)
                assert reminder.due_at.astimezone(tz).date() <= starts_on
    for tz in (learner_tz, manager_tz):
        assert in_window(next_window_start(now, tz, rules), tz, rules)
        assert in_window(snooze_slot(now, tz, rules), tz, rules)
        deferred = ooo_defer(now=now, tz=tz, deferrals_so_far=deferrals, rules=rules)
        assert (deferred.due_at is None) == (deferrals >= rules.ooo_max_working_days)
        if deferred.due_at is not None:
            assert in_window(deferred.due_at, tz, rules)
