"""Why a training matters, in the domain: the CSV import's bulk path keeps file order (the
last row naming a why wins) without slowing the rows that change nothing, and the L&D lead's
list puts the trainings of these months first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from support import Clock

from bot.core.directory import import_people
from bot.core.enrollment import Intake
from bot.core.trainings import WhyTooLong, clean_why, trainings_to_review
from bot.prompts import load_prompts
from bot.slack.blocks.trainings import HOME_TRAININGS_MAX, training_list_blocks
from scheduler.planning import Rules
from storage.db import Database
from storage.models import Enrollment, Person, Source, Training

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PEOPLE = """email,manager_email,name,slack_id
ada@example.org,grace@example.org,Ada,UADA
lin@example.org,grace@example.org,Lin,ULIN
bo@example.org,grace@example.org,Bo,UBO
grace@example.org,,Grace,UGRACE
sam@example.org,,Sam,USAM
"""
HEAD = "learner_email,training,starts_on,ends_on,external_id,why,sponsor_email\n"


def _intake(db: Database) -> Intake:
    rules = Rules()
    assert import_people(db, PEOPLE, rules=rules, default_tz="UTC", clock=lambda: NOW).ok
    return Intake(db, rules=rules, default_tz="UTC", clock=Clock(NOW))


def _row(who: str, external_id: str, why: str, sponsor: str = "") -> str:
    return (
        f"{who}@example.org,Coaching Skills,2026-12-08,2026-12-09,{external_id},{why},{sponsor}\n"
    )


def _coaching(db: Database) -> tuple[str | None, str | None]:
    with db.session() as s:
        training = s.exec(select(Training).where(Training.name == "Coaching Skills")).one()
        sponsor = s.get(Person, training.sponsor_id) if training.sponsor_id else None
        return training.why, sponsor.email if sponsor else None


def test_csv_last_why_of_the_file_wins_and_unchanged_rows_stay_on_the_bulk_path(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = _intake(db)
    one_by_one: list[Any] = []
    enroll = Intake.enroll

    def counted(self: Intake, session: Any, data: Any) -> Any:
        one_by_one.append(data.external_id)
        return enroll(self, session, data)

    monkeypatch.setattr(Intake, "enroll", counted)
    report = intake.import_csv(
        HEAD
        + _row("ada", "c-1", "First reason", "sam@example.org")
        + _row("lin", "c-2", "First reason")
        + _row("bo", "c-3", "Last reason")
    )
    assert (report.created, report.errors) == (3, [])
    assert _coaching(db) == ("Last reason", "sam@example.org")
    assert one_by_one == ["c-1", "c-2", "c-3"]  # each changes the training: in file order

    one_by_one.clear()
    report = intake.import_csv(
        HEAD
        + _row("ada", "c-4", "Last reason", "sam@example.org")
        + _row("lin", "c-5", "")
        + _row("bo", "c-6", "Last reason")
    )
    assert (report.created, report.errors) == (3, [])
    assert one_by_one == []  # nothing about the training changes: all in bulk
    assert _coaching(db) == ("Last reason", "sam@example.org")
    with db.session() as s:
        assert len(s.exec(select(Enrollment)).all()) == 6


def test_clean_why_keeps_blank_as_none_and_refuses_over_500() -> None:
    assert clean_why(None) is None and clean_why("   ") is None
    assert clean_why(" because \n") == "because"
    assert clean_why("x" * 500) == "x" * 500
    with pytest.raises(WhyTooLong, match="at most 500 characters"):
        clean_why("x" * 501)


def test_the_lead_sees_this_seasons_trainings_first_and_how_many_more(db: Database) -> None:
    today = date(2026, 11, 23)
    with db.session() as s:
        lea = Person(email="ada@example.org", slack_id="UADA")
        s.add(lea)
        s.flush()
        for n in range(HOME_TRAININGS_MAX + 5):
            s.add(Training(name=f"Archive {n:02d}"))
        for name, starts in (("Zen Leadership", today + timedelta(days=30)), ("Agile", today)):
            training = Training(name=name, why="It matters")
            s.add(training)
            s.flush()
            s.add(
                Enrollment(
                    learner_id=lea.id,  # type: ignore[arg-type]
                    training_id=training.id,  # type: ignore[arg-type]
                    starts_on=starts,
                    ends_on=starts,
                    source=Source.CSV,
                )
            )
    with db.session() as s:
        shown, hidden = trainings_to_review(s, today=today, limit=HOME_TRAININGS_MAX)
    assert [t.name for t in shown[:3]] == ["Agile", "Zen Leadership", "Archive 00"]
    assert (len(shown), hidden) == (HOME_TRAININGS_MAX, 7)

    prompts = load_prompts(None)
    built = training_list_blocks(shown, hidden, prompts)
    assert len(built) == 1 + HOME_TRAININGS_MAX + 1  # heading, one block each, "and 7 more"
    assert "7 more trainings" in built[-1]["elements"][0]["text"]
    assert "No reason given yet" in built[3]["text"]["text"]
