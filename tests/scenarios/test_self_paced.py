"""Self-paced trainings and completions on the LMS webhook and the CSV import, through the
real HTTP app, against the fake Slack and a real database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import select
from support import Bot, dispatch_due

from storage.models import Enrollment, Nudge

# Monday 23 November 2026, 10:00 UTC (the clock fixture): 11:00 in Paris, 05:00 in New York.
COURSE = {
    "external_id": "lms-sp",
    "learner_email": "ada@example.org",
    "manager_email": "grace@example.org",
    "training": "Data Privacy (e-learning)",
    "starts_on": "2026-11-23",
}
SCHEDULED = {
    "external_id": "lms-1",
    "learner_email": "ada@example.org",
    "manager_email": "grace@example.org",
    "training": "Coaching Skills",
    "starts_on": "2026-11-30",
    "ends_on": "2026-12-09",
}


def _people(bot: Bot) -> None:
    bot.fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="Europe/Paris")
    bot.fake.add_user("UGRACE", email="grace@example.org", real_name="Grace", tz="America/New_York")


def _nudges(bot: Bot, external_id: str) -> dict[str, Nudge]:
    with bot.db.session() as s:
        enrollment = s.exec(select(Enrollment).where(Enrollment.external_id == external_id)).one()
        rows = s.exec(select(Nudge).where(Nudge.enrollment_id == enrollment.id)).all()
        return {n.kind: n for n in rows}


def _completion(external_id: str, **extra: Any) -> dict[str, Any]:
    return {"external_id": external_id, "status": "completed", **extra}


def test_a_self_paced_training_plans_its_invite_at_once_and_waits_for_the_completion(
    bot: Bot,
) -> None:
    _people(bot)
    created = bot.webhook(COURSE)
    assert created.status == 201, created.text
    assert created.json()["status"] == "enrolled"
    planned = _nudges(bot, "lms-sp")
    assert set(planned) == {"goal_invite", "pre_training"}
    assert planned["goal_invite"].due_at == bot.clock()  # inside Ada's window: now
    # New York's window opens at 09:30 there, 14:30 UTC: the prompt is due then, not skipped.
    assert planned["pre_training"].due_at.isoformat() == "2026-11-23T14:30:00+00:00"

    dispatch_due(bot)
    (invite,) = bot.fake.dms_to("UADA")
    assert "self-paced" in str(invite["blocks"])

    bot.clock.advance(days=2)  # Wednesday
    done = bot.webhook(_completion("lms-sp", completed_on="2026-11-25"))
    assert done.status == 200, done.text
    assert done.json()["result"] == "updated" and done.json()["status"] == "completed"
    planned = _nudges(bot, "lms-sp")
    # One working day after the completion, at 09:30 in New York; follow-ups 30 days on.
    assert planned["debrief"].due_at.isoformat() == "2026-11-26T14:30:00+00:00"
    assert planned["follow_up"].due_at.isoformat() == "2026-12-25T14:30:00+00:00"
    assert planned["learner_follow_up"].due_at.isoformat() == "2026-12-25T08:30:00+00:00"
    assert planned["goal_invite"].status == "sent"  # what went out stays as it was

    again = bot.webhook(_completion("lms-sp", completed_on="2026-11-25"))
    assert again.status == 200 and again.json()["result"] == "duplicate"


def test_a_completion_without_a_date_is_today_in_the_default_zone(bot: Bot) -> None:
    _people(bot)
    bot.webhook(COURSE)
    done = bot.webhook(_completion("lms-sp"))
    assert done.status == 200, done.text
    with bot.db.session() as s:
        stored = s.exec(select(Enrollment)).one()
    assert str(stored.completed_on) == str(stored.ends_on) == "2026-11-23"


def test_a_completion_plans_a_scheduled_trainings_debrief_from_its_date(bot: Bot) -> None:
    _people(bot)
    assert bot.webhook(SCHEDULED).status == 201
    assert _nudges(bot, "lms-1")["debrief"].due_at.isoformat() == "2026-12-10T14:30:00+00:00"
    bot.clock.set(datetime(2026, 12, 4, 12, tzinfo=UTC))
    done = bot.webhook({**SCHEDULED, "status": "completed", "completed_on": "2026-12-04"})
    assert done.status == 200, done.text
    # Friday 4 December + one working day = Monday 7 December.
    assert _nudges(bot, "lms-1")["debrief"].due_at.isoformat() == "2026-12-07T14:30:00+00:00"


def test_a_completion_more_than_14_days_old_plans_no_debrief(bot: Bot) -> None:
    _people(bot)
    created = bot.webhook({**COURSE, "starts_on": "2026-10-01", "status": "completed",
                           "completed_on": "2026-11-08"})  # fmt: skip
    assert created.status == 201, created.text
    planned = _nudges(bot, "lms-sp")
    assert (planned["debrief"].status, planned["debrief"].reason) == (
        "skipped",
        "completed more than 14 days ago",
    )
    assert planned["follow_up"].status == "pending"  # 8 December, still ahead


def test_bad_completions_are_a_400_naming_the_field_and_store_nothing(bot: Bot) -> None:
    _people(bot)
    cases = [
        (_completion("lms-unknown"), "learner_email"),
        ({**COURSE, "status": "completed", "completed_on": "2026-12-24"}, "completed_on"),
        ({**COURSE, "status": "completed", "completed_on": "2026-11-20"}, "completed_on"),
        ({**COURSE, "completed_on": "2026-11-23"}, "completed_on"),
        ({**COURSE, "status": "completed", "completed_on": "23/11/2026"}, "completed_on"),
        ({**COURSE, "status": "completed", "completed_on": 20261123}, "completed_on"),
        ({**COURSE, "status": "finished"}, "status"),
        ({"status": "completed"}, "learner_email"),
    ]
    for body, field in cases:
        response = bot.webhook(body)
        assert response.status == 400, (body, response.text)
        assert field in response.json()["error"], (field, response.json())
        assert response.json()["field"] == field
    with bot.db.session() as s:
        assert s.exec(select(Enrollment)).all() == []


def test_a_cancellation_may_name_only_the_external_id(bot: Bot) -> None:
    _people(bot)
    bot.webhook(COURSE)
    cancelled = bot.webhook({"external_id": "lms-sp", "status": "cancelled"})
    assert cancelled.status == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert {n.status for n in _nudges(bot, "lms-sp").values()} == {"cancelled"}


def test_the_csv_takes_self_paced_rows_and_completions(bot: Bot, tmp_path: Any) -> None:
    _people(bot)
    text = (
        "learner_email,training,starts_on,ends_on,manager_email,external_id,status,completed_on\n"
        "ada@example.org,Data Privacy,2026-11-23,,grace@example.org,csv-1,,\n"
        "ada@example.org,Security,2026-11-16,,grace@example.org,csv-2,completed,2026-11-20\n"
        "ada@example.org,,,,,csv-1,completed,2026-11-23\n"
        "ada@example.org,Ethics,2026-11-23,,,csv-3,enrolled,2026-11-23\n"
    )
    report = bot.services.intake.import_csv(text)
    assert (report.created, report.updated) == (2, 1)
    assert report.errors == [(5, 'completed_on goes with "status": "completed"; leave it out')]
    assert _nudges(bot, "csv-1")["debrief"].due_at.isoformat() == "2026-11-24T14:30:00+00:00"
    assert _nudges(bot, "csv-2")["debrief"].status == "pending"
