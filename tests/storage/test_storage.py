"""The tables behave alike on SQLite and PostgreSQL: aware UTC times, unique keys, WAL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel import select

from storage import crud
from storage.db import Database, normalize_url
from storage.models import DigestRun, Enrollment, Nudge, NudgeKind, Person, Training


def _enrollment(db: Database) -> tuple[int, int]:
    with db.session() as s:
        learner = crud.upsert_person(s, email="Ada@Example.org", slack_id="UADA")
        training = crud.training_by_name(s, name="  Coaching   Skills ")
        assert training is not None
        e = Enrollment(
            learner_id=learner.id,  # type: ignore[arg-type]
            training_id=training.id,  # type: ignore[arg-type]
            starts_on=date(2026, 12, 1),
            ends_on=date(2026, 12, 2),
            source="csv",
        )
        s.add(e)
        s.flush()
        return e.id, learner.id  # type: ignore[return-value]


def _goal_invite(enrollment_id: int, learner_id: int, key: str, due_at: datetime) -> Nudge:
    return Nudge(
        enrollment_id=enrollment_id,
        kind=NudgeKind.GOAL_INVITE,
        recipient_id=learner_id,
        idempotency_key=key,
        due_at=due_at,
    )


def test_migrations_apply_twice_and_create_every_table(db: Database) -> None:
    db.upgrade()  # idempotent
    names = set(sa.inspect(db.engine).get_table_names())
    assert {
        "person",
        "training",
        "enrollment",
        "nudge",
        "conversationrecord",
        "note",
        "goal",
        "digestrun",
        "alembic_version",
    } <= names


def test_times_come_back_aware_utc(db: Database) -> None:
    enrollment_id, learner_id = _enrollment(db)
    paris = timezone(timedelta(hours=1))
    with db.session() as s:
        s.add(
            _goal_invite(
                enrollment_id, learner_id, "k1", datetime(2026, 11, 24, 9, 30, tzinfo=paris)
            )
        )
    with db.session() as s:
        nudge = s.exec(select(Nudge)).one()
        assert nudge.due_at == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
        assert nudge.due_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(db: Database) -> None:
    enrollment_id, learner_id = _enrollment(db)
    with pytest.raises(sa.exc.StatementError), db.session() as s:
        s.add(_goal_invite(enrollment_id, learner_id, "naive", datetime(2026, 11, 24, 9, 30)))
        s.flush()


def test_idempotency_key_is_unique_and_a_failed_write_loses_nothing(db: Database) -> None:
    enrollment_id, learner_id = _enrollment(db)
    due = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    with db.session() as s:
        s.add(_goal_invite(enrollment_id, learner_id, "same", due))
    with pytest.raises(sa.exc.IntegrityError), db.session() as s:
        s.add(_goal_invite(enrollment_id, learner_id, "same", due))
    with db.session() as s:
        assert len(s.exec(select(Nudge)).all()) == 1


def test_people_are_matched_by_slack_id_then_email(db: Database) -> None:
    with db.session() as s:
        a = crud.upsert_person(s, email="ADA@example.org")
        b = crud.upsert_person(s, slack_id="UADA", email="ada@example.org", tz="Europe/Paris")
        assert a.id == b.id and b.tz == "Europe/Paris" and b.email == "ada@example.org"
        assert crud.find_person(s, key=" Ada@Example.org ") is not None
        assert crud.find_person(s, key="UADA") is not None


def test_training_names_are_matched_loosely(db: Database) -> None:
    with db.session() as s:
        one = crud.training_by_name(s, name="Coaching Skills")
        two = crud.training_by_name(s, name=" coaching  skills")
        assert one is not None and two is not None and one.id == two.id
        assert len(s.exec(select(Training)).all()) == 1


def test_one_digest_row_per_week(db: Database) -> None:
    with db.session() as s:
        s.add(DigestRun(week="2026-W48"))
    with pytest.raises(sa.exc.IntegrityError), db.session() as s:
        s.add(DigestRun(week="2026-W48"))


def test_deleting_a_person_cascades_to_their_enrollments(db: Database) -> None:
    enrollment_id, learner_id = _enrollment(db)
    with db.session() as s:
        s.delete(s.get(Person, learner_id))
    with db.session() as s:
        assert s.get(Enrollment, enrollment_id) is None


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_postgresql_urls_use_the_shipped_driver() -> None:
    assert normalize_url("postgresql://u:p@h:5432/d").startswith("postgresql+psycopg://u:p@h")
    assert normalize_url("postgres://h/d").startswith("postgresql+psycopg://")
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
