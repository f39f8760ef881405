"""Public holidays are days off wherever working days are counted or waited for: in each
person's own country (people.csv, else their time zone's), or the HOLIDAYS codes for all."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.directory import import_people
from bot.settings import ConfigError, load_settings
from scheduler.calendar import UnknownCountry, check_code, country_of_zone
from scheduler.planning import (
    Rules,
    Slot,
    in_window,
    plan_enrollment,
    reminder_slot,
    working_days_after,
    working_days_before,
)
from storage import crud
from storage.db import Database

AUTO = Rules(holidays="auto")
LONDON, TOKYO, NEW_YORK = (
    ZoneInfo("Europe/London"),
    ZoneInfo("Asia/Tokyo"),
    ZoneInfo("America/New_York"),
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def plan_one_day(on: date, tz: ZoneInfo, now: datetime, rules: Rules) -> dict[str, Slot]:
    """The plan of a one-day training whose learner and manager are both in `tz`."""
    return plan_enrollment(
        starts_on=on, ends_on=on, learner_tz=tz, manager_tz=tz, now=now, rules=rules
    )


def test_a_zone_names_its_country() -> None:
    assert country_of_zone("Europe/London") == "GB"
    assert country_of_zone("Asia/Tokyo") == "JP"
    assert country_of_zone("UTC") is None
    assert country_of_zone(None) is None


def test_good_friday_in_london_moves_a_pre_training_prompt() -> None:
    # Training on Tue 30 March 2027: three working days before are Thu 25, Wed 24, Tue 23 in
    # England (Mon 29 is Easter Monday, Fri 26 Good Friday); the United Kingdom as a whole
    # (Europe/London's country) keeps only Good Friday: Mon 29, Thu 25, Wed 24.
    london = AUTO.for_place("GB-ENG", "Europe/London")
    assert working_days_before(date(2027, 3, 30), 3, london) == date(2027, 3, 23)
    assert working_days_before(date(2027, 3, 30), 3, AUTO.for_place(None, "Europe/London")) == (
        date(2027, 3, 24)
    )
    assert working_days_before(date(2027, 3, 30), 3, Rules()) == date(2027, 3, 25)
    plan = plan_one_day(date(2027, 3, 30), LONDON, utc(2027, 3, 1), london)
    assert plan["pre_training"].due_at == utc(2027, 3, 23, 9, 30)  # GMT until 28 March


def test_a_japanese_substitute_holiday_is_a_day_off() -> None:
    tokyo = AUTO.for_place(None, "Asia/Tokyo")
    # Golden Week 2026: Children's Day on Tue 5 May, the substitute for Constitution Day
    # (a Sunday) on Wed 6 May; the first working day after Fri 1 May is Thu 7 May.
    assert working_days_after(date(2026, 5, 1), 1, tokyo) == date(2026, 5, 7)
    assert not in_window(utc(2026, 5, 6, 1, 0), TOKYO, tokyo)  # 10:00 on the holiday
    assert in_window(utc(2026, 5, 7, 1, 0), TOKYO, tokyo)


def test_a_subdivision_keeps_its_own_holidays() -> None:
    # St Andrew's Day, Mon 30 November 2026, is a holiday in Scotland, not in England.
    scotland = AUTO.for_place("GB-SCT", "Europe/London")
    england = AUTO.for_place("GB-ENG", "Europe/London")
    assert working_days_after(date(2026, 11, 27), 1, scotland) == date(2026, 12, 1)
    assert working_days_after(date(2026, 11, 27), 1, england) == date(2026, 11, 30)


def test_thanksgiving_moves_a_reminder_in_new_york() -> None:
    us = AUTO.for_place(None, "America/New_York")
    # Sent Tue 24 Nov 2026; two working days later is Fri 27, Thanksgiving being Thu 26.
    slot = reminder_slot(sent_at=utc(2026, 11, 24, 15), tz=NEW_YORK, rules=us)
    assert slot.due_at == utc(2026, 11, 27, 14, 30)


def test_off_and_codes_for_everyone() -> None:
    assert Rules(holidays="off").for_place("GB", "Europe/London").days_off is None
    everyone = Rules(holidays="US,JP").for_place("GB", "Europe/London")
    assert date(2026, 11, 26) in everyone.days_off  # type: ignore[operator]
    assert date(2026, 5, 6) in everyone.days_off  # type: ignore[operator]
    assert date(2026, 12, 28) not in everyone.days_off  # type: ignore[operator]  # GB's


def test_daylight_saving_is_unaffected_by_holidays() -> None:
    # Berlin springs forward on Sun 29 March 2026; Good Friday is 3 April.
    berlin = AUTO.for_place(None, "Europe/Berlin")
    plan = plan_one_day(date(2026, 4, 7), ZoneInfo("Europe/Berlin"), utc(2026, 3, 1), berlin)
    # Tue 7 April, Easter Monday 6 and Good Friday 3 off: three working days before are
    # Thu 2, Wed 1, Tue 31 March, 09:30 CEST.
    assert plan["pre_training"].due_at == utc(2026, 3, 31, 7, 30)


def test_an_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(UnknownCountry, match="'XX'"):
        check_code("XX")
    assert check_code("gb-sct") == "GB-SCT"
    with pytest.raises(ConfigError, match="HOLIDAYS: unknown country or subdivision 'XX'"):
        load_settings({"HOLIDAYS": "GB,XX"}, env_file=None)
    assert load_settings({"HOLIDAYS": "gb, us"}, env_file=None).holidays == "GB,US"
    assert load_settings({}, env_file=None).holidays == "auto"


def test_people_csv_takes_a_country_and_refuses_an_unknown_one(db: Database) -> None:
    report = import_people(
        db,
        "email,manager_email,country\n"
        "ada@example.org,maya@example.org,GB-SCT\n"
        "leo@example.org,maya@example.org,Narnia\n",
        rules=AUTO,
        default_tz="UTC",
    )
    assert report.created == 1
    ((line, error),) = report.errors
    assert line == 3 and "unknown country or subdivision 'Narnia'" in error
    with db.session() as session:
        ada = crud.person_by_email(session, email="ada@example.org")
        assert ada is not None and ada.country == "GB-SCT"
        assert crud.person_by_email(session, email="leo@example.org") is None
