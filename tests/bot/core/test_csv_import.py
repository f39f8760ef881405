"""`coachbot import people` and `coachbot import enrollments`, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli import main
from bot.sim.fakeslack import FakeSlack
from storage.db import Database
from storage.models import Enrollment, Nudge, Person

PEOPLE = """email,manager_email,name,slack_id
ada@example.org,grace@example.org,Ada Lovelace,UADA
grace@example.org,,Grace Hopper,UGRACE
lin@example.org,grace@example.org,Lin,
bad-email,grace@example.org,,
bob@example.org,bob@example.org,,
"""

ENROLLMENTS = """learner_email,training,starts_on,ends_on,manager_email,external_id
ada@example.org,Coaching Skills,2026-12-08,2026-12-09,,
lin@example.org,Coaching Skills,2026-12-08,2026-12-09,,lms-9
ada@example.org,Negotiation,2026-12-32,2026-12-09,,
nobody@example.org,Negotiation,2026-12-08,2026-12-09,,
ada@example.org,Negotiation,2026-12-10,2026-12-09,,
ada@example.org,,2026-12-08,2026-12-09,,
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str, fake: FakeSlack, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    return tmp_path


def _import(env: Path, what: str, text: str) -> int:
    """`coachbot import WHAT` of `text`, written to WHAT.csv under `env`: the exit code."""
    (env / f"{what}.csv").write_text(text)
    return main(["import", what, str(env / f"{what}.csv")])


def test_people_then_enrollments_keep_good_rows_and_report_bad_lines(
    env: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _import(env, "people", PEOPLE) == 1
    out = capsys.readouterr().out
    assert "3 people created" in out
    assert "line 5: email 'bad-email' is not an email address" in out
    assert "line 6: a person cannot be their own manager" in out

    db = Database(db_url)
    with db.session() as s:
        ada = s.exec(select(Person).where(Person.email == "ada@example.org")).one()
        grace = s.exec(select(Person).where(Person.email == "grace@example.org")).one()
        assert ada.manager_id == grace.id and ada.name == "Ada Lovelace"

    assert _import(env, "enrollments", ENROLLMENTS) == 1
    out = capsys.readouterr().out
    assert "2 enrollments created" in out
    assert "line 4: starts_on must be a date as YYYY-MM-DD" in out
    assert "line 5: learner_email nobody@example.org matches nobody" in out
    assert "line 6: ends_on (2026-12-09) is before starts_on (2026-12-10)" in out
    assert "line 7: training is required" in out
    with db.session() as s:
        enrollments = s.exec(select(Enrollment)).all()
        assert len(enrollments) == 2
        assert all(e.manager_id == grace.id for e in enrollments)  # from the directory
        first_nudges = len(s.exec(select(Nudge)).all())

    # Re-importing the same file changes nothing.
    assert main(["import", "enrollments", str(env / "enrollments.csv")]) == 1
    assert "0 enrollments created, 0 updated, 2 unchanged" in capsys.readouterr().out
    with db.session() as s:
        assert len(s.exec(select(Nudge)).all()) == first_nudges


def test_a_file_without_the_columns_is_refused_whole(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (env / "x.csv").write_text("name,boss\nAda,Grace\n")
    assert main(["import", "people", str(env / "x.csv")]) == 1
    assert "missing column(s) email, manager_email" in capsys.readouterr().out


def test_missing_file_and_binary_file_are_usage_errors(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "people", str(env / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    (env / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    assert main(["import", "enrollments", str(env / "bin.csv")]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_a_manager_listed_after_the_report_is_still_linked(env: Path, db_url: str) -> None:
    (env / "p.csv").write_text(
        "email,manager_email\nada@example.org,zed@example.org\nzed@example.org,\n"
    )
    assert main(["import", "people", str(env / "p.csv")]) == 0
    with Database(db_url).session() as s:
        ada = s.exec(select(Person).where(Person.email == "ada@example.org")).one()
        zed = s.exec(select(Person).where(Person.email == "zed@example.org")).one()
        assert ada.manager_id == zed.id
