"""The CSV import's bulk path stores exactly what one `enroll_one` per row would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import Clock, throwaway_pg

from bot.core.directory import import_people
from bot.core.enrollment import EnrollmentInput, Intake
from bot.sim.fakeslack import FakeSlack
from bot.slack.client import make_client
from bot.slack.lookup import SlackPeopleLookup
from scheduler.planning import Rules
from storage.db import Database

PEOPLE = """email,manager_email,name,slack_id
ada@example.org,grace@example.org,Ada,UADA
lin@example.org,grace@example.org,Lin,ULIN
grace@example.org,,Grace,UGRACE
alan@example.org,,Alan,UALAN
nos@example.org,grace@example.org,No Slack,
"""

ENROLLMENTS = """learner_email,training,starts_on,ends_on,manager_email,external_id
ada@example.org,Coaching Skills,2026-12-08,2026-12-09,,lms-1
lin@example.org,Coaching Skills,2026-12-08,2026-12-09,alan@example.org,lms-2
ada@example.org,Negotiation,2026-11-24,2026-11-24,,
lin@example.org,negotiation,2026-12-01,2026-12-01,,
ada@example.org,Coaching Skills,2026-12-15,2026-12-16,,lms-1
ada@example.org,Negotiation,2026-12-10,2026-12-11,,
ada@example.org,Negotiation,2026-12-32,2026-12-11,,
nobody@example.org,Negotiation,2026-12-08,2026-12-09,,lms-3
slack@example.org,Feedback,2026-12-08,2026-12-09,grace@example.org,lms-4
nos@example.org,Feedback,2026-12-08,2026-12-09,,lms-5
ada@example.org,Feedback,2026-12-08,2026-12-09,ada@example.org,lms-6
alan@example.org,Old Course,2026-10-01,2026-10-02,,lms-7
"""

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def world(db: Database, fake: FakeSlack) -> Intake:
    rules = Rules()
    report = import_people(db, PEOPLE, rules=rules, default_tz="UTC", clock=lambda: NOW)
    assert report.ok, report.errors
    client = make_client("xoxb-test", fake.api_url, rate_limit_retries=0)
    return Intake(
        db, rules=rules, default_tz="UTC", people=SlackPeopleLookup(client), clock=Clock(NOW)
    )


def snapshot(db: Database) -> dict[str, Any]:
    """Everything stored, with ids replaced by what they stand for."""
    with db.engine.connect() as conn:
        emails = dict(conn.exec_driver_sql("SELECT id, email FROM person").all())
        names = dict(conn.exec_driver_sql("SELECT id, name FROM training").all())
        enrollment_rows = conn.execute(sa.text("SELECT * FROM enrollment")).all()
        enrollments = {e.id: (emails[e.learner_id], names[e.training_id]) for e in enrollment_rows}
        people = [
            (r.email, r.slack_id, r.tz, emails.get(r.manager_id))
            for r in conn.execute(sa.text("SELECT * FROM person")).all()
        ]
        nudges = [
            (
                enrollments[r.enrollment_id],
                r.kind,
                emails[r.recipient_id],
                str(r.due_at),
                r.status,
                r.reason,
                r.idempotency_key.split(".", 1)[1],
            )
            for r in conn.execute(sa.text("SELECT * FROM nudge")).all()
        ]
        stored = [
            (
                e.external_id,
                emails[e.learner_id],
                names[e.training_id],
                str(e.starts_on),
                str(e.ends_on),
                emails.get(e.manager_id),
                e.status,
                e.source,
                e.generation,
            )
            for e in enrollment_rows
        ]
    return {
        "people": sorted(people, key=repr),
        "enrollments": sorted(stored, key=repr),
        "nudges": sorted(nudges, key=repr),
    }


def test_bulk_import_matches_one_enrollment_at_a_time(tmp_path: Path, fake: FakeSlack) -> None:
    fake.add_user("USLACK", email="slack@example.org", tz="Asia/Tokyo")
    bulk_db, row_db = (Database(f"sqlite:///{tmp_path / n}.db") for n in ("bulk", "rows"))
    for db in (bulk_db, row_db):
        db.upgrade()

    report = world(bulk_db, fake).import_csv(ENROLLMENTS)

    one_by_one = world(row_db, fake)
    errors = []
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for line, text in enumerate(ENROLLMENTS.splitlines()[1:], start=2):
        try:
            result = one_by_one.enroll_one(_csv_input(text))
        except Exception as exc:
            errors.append((line, exc.message))  # type: ignore[attr-defined]
            continue
        kind = "created" if result.created else "updated" if result.changed else "unchanged"
        counts[kind] += 1

    assert report.errors == errors
    assert [line for line, _ in errors] == [8, 9, 12]
    assert (report.created, report.updated, report.unchanged) == (
        counts["created"],
        counts["updated"],
        counts["unchanged"],
    )
    assert snapshot(bulk_db) == snapshot(row_db)
    assert len(snapshot(bulk_db)["nudges"]) > 10


def test_importing_the_same_file_again_changes_nothing(db: Database, fake: FakeSlack) -> None:
    fake.add_user("USLACK", email="slack@example.org", tz="Asia/Tokyo")
    intake = world(db, fake)
    first = intake.import_csv(ENROLLMENTS)
    before = snapshot(db)
    again = intake.import_csv(ENROLLMENTS)
    assert snapshot(db) == before
    assert again.created == 0  # lines naming one enrollment twice update it, then back
    assert again.errors == first.errors


def test_small_batches_keep_order_and_idempotency(db: Database, fake: FakeSlack) -> None:
    fake.add_user("USLACK", email="slack@example.org", tz="Asia/Tokyo")
    intake = world(db, fake)
    lines = ENROLLMENTS.splitlines()
    inputs = []
    for line, text in enumerate(lines[1:], start=2):
        learner, training, starts_on, ends_on, manager, external_id = text.split(",")
        inputs.append(
            (
                line,
                EnrollmentInput(
                    learner, training, starts_on, ends_on, manager or None, external_id or None
                ),
            )
        )
    from bot.core.directory import ImportReport

    report = ImportReport()
    intake.enroll_many(inputs, report, batch_size=2)
    assert [line for line, _ in report.errors] == [8, 9, 12]
    with db.engine.connect() as conn:
        starts = conn.exec_driver_sql(
            "SELECT starts_on FROM enrollment WHERE external_id = 'lms-1'"
        ).scalar_one()
    assert str(starts) == "2026-12-15"  # the later line wins, as row by row


# Lines that only agree across batches: a new enrollment in one batch, then the same learner
# and training without an LMS id (an update of it, not a second enrollment) in the next.
ACROSS_BATCHES = """learner_email,training,starts_on,ends_on,manager_email,external_id
lin@example.org,Pair Course,2026-12-08,2026-12-09,,lms-9
alan@example.org,Pair Course,2026-12-08,2026-12-09,,lms-8
alan@example.org,Pair Course,2026-12-10,2026-12-11,,
ada@example.org,Pair Course,2026-12-08,2026-12-09,,
ada@example.org,Pair Course,2026-12-08,2026-12-10,,lms-10
grace@example.org,Pair Course,2026-12-08,2026-12-09,,lms-11
grace@example.org,Pair Course,2026-12-15,2026-12-16,,lms-11
"""


def orm_snapshot(db: Database) -> dict[str, Any]:
    """Everything stored, as the ORM reads it back, with ids replaced by what they stand for."""
    from sqlmodel import select

    from storage.models import Enrollment, Nudge, Person, Training

    with db.session() as session:
        emails = {p.id: p.email for p in session.exec(select(Person))}
        names = {t.id: t.name for t in session.exec(select(Training))}
        enrollments = {e.id: e for e in session.exec(select(Enrollment))}
        nudges = [
            (
                enrollments[n.enrollment_id].external_id,
                emails[enrollments[n.enrollment_id].learner_id],
                n.kind,
                emails[n.recipient_id],
                n.parent_id,
                n.due_at,
                n.status,
                (n.attempts, n.deliveries, n.ooo_deferrals),
                (n.lease_until, n.channel, n.ts, n.sent_at),
                n.reason,
                n.idempotency_key.split(".", 1)[1],
                n.follow_up_round,
                n.updated_at,
                n.created_at.tzinfo,
            )
            for n in session.exec(select(Nudge))
        ]
        stored = [
            (
                e.external_id,
                emails[e.learner_id],
                names[e.training_id],
                e.starts_on,
                e.ends_on,
                e.completed_on,
                e.sequence,
                emails.get(e.manager_id),
                e.status,
                e.source,
                e.enrolled_by,
                e.learner_interest,
                e.generation,
                e.updated_at,
                e.created_at.tzinfo,
            )
            for e in enrollments.values()
        ]
    return {"enrollments": sorted(stored, key=repr), "nudges": sorted(nudges, key=repr)}


def _row_by_row(intake: Intake, text: str) -> tuple[list[tuple[int, str]], tuple[int, int, int]]:
    from bot.core.directory import ImportReport

    report = ImportReport()
    for line, row in enumerate(text.splitlines()[1:], start=2):
        intake._enroll_counted(line, _csv_input(row), report)
    return report.errors, (report.created, report.updated, report.unchanged)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_bulk_path_stores_what_enroll_stores_on_both_databases(
    db: Database, db_url: str, tmp_path: Path, fake: FakeSlack, batch_size: int
) -> None:
    """Read back through the ORM, on SQLite and PostgreSQL, whatever the batches (on
    PostgreSQL a batch of new rows is stored while the next is sorted out)."""
    from bot.core.directory import ImportReport

    fake.add_user("USLACK", email="slack@example.org", tz="Asia/Tokyo")
    reference_urls = (
        [f"sqlite:///{tmp_path / 'rows.db'}"] if db_url.startswith("sqlite") else throwaway_pg()
    )
    for reference_url in reference_urls:
        reference = Database(reference_url)
        try:
            reference.upgrade()
            for text in (ENROLLMENTS, ACROSS_BATCHES):
                bulk = (
                    world(db, fake)
                    if text is ENROLLMENTS
                    else Intake(db, rules=Rules(), default_tz="UTC", clock=Clock(NOW))
                )
                one = (
                    world(reference, fake)
                    if text is ENROLLMENTS
                    else Intake(reference, rules=Rules(), default_tz="UTC", clock=Clock(NOW))
                )
                lines = text.splitlines()[1:]
                inputs = []
                for line, row in enumerate(lines, start=2):
                    inputs.append((line, _csv_input(row)))
                report = ImportReport()
                bulk.enroll_many(inputs, report, batch_size=batch_size)
                report.errors.sort()
                errors, counts = _row_by_row(one, text)
                assert report.errors == sorted(errors)
                assert (report.created, report.updated, report.unchanged) == counts
            assert orm_snapshot(db) == orm_snapshot(reference)
            assert len(orm_snapshot(db)["nudges"]) > 20
        finally:
            reference.dispose()


def test_bulk_path_plans_every_follow_up_round_as_enroll_does(
    db: Database, db_url: str, tmp_path: Path, fake: FakeSlack
) -> None:
    """FOLLOW_UP_DAYS=30,90: the bulk path stores both rounds, keyed and numbered as
    `plan_nudges` numbers them."""
    from bot.core.directory import ImportReport

    rules = Rules(follow_up_days=(30, 90))
    reference_urls = (
        [f"sqlite:///{tmp_path / 'rows.db'}"] if db_url.startswith("sqlite") else throwaway_pg()
    )
    for reference_url in reference_urls:
        reference = Database(reference_url)
        try:
            reference.upgrade()
            world(db, fake), world(reference, fake)  # the people
            inputs = [
                (line, _csv_input(row))
                for line, row in enumerate(ENROLLMENTS.splitlines()[1:], start=2)
            ]
            Intake(db, rules=rules, default_tz="UTC", clock=Clock(NOW)).enroll_many(
                inputs, ImportReport(), batch_size=1000
            )
            _row_by_row(
                Intake(reference, rules=rules, default_tz="UTC", clock=Clock(NOW)), ENROLLMENTS
            )
            stored = orm_snapshot(db)
            assert stored == orm_snapshot(reference)
            rounds = {n[10]: n[11] for n in stored["nudges"] if n[2] == "follow_up"}
            assert set(rounds.values()) == {1, 2}
            assert any(key.endswith(".r2") for key in rounds)
        finally:
            reference.dispose()


def _csv_input(row: str) -> EnrollmentInput:
    """One line of an enrollments CSV (all six columns), as the import reads it."""
    learner, training, starts_on, ends_on, manager, external_id = row.split(",")
    return EnrollmentInput(
        learner=learner,
        training=training,
        starts_on=starts_on,
        ends_on=ends_on,
        manager=manager or None,
        external_id=external_id or None,
        source="csv",
        learner_field="learner_email",
        manager_field="manager_email",
    )


# Self-paced trainings (no ends_on) and completions, new and of rows before them.
SELF_PACED = """\
learner_email,training,starts_on,ends_on,manager_email,external_id,status,completed_on
ada@example.org,Data Privacy,2026-11-23,,,sp-1,,
lin@example.org,Data Privacy,2026-11-16,,alan@example.org,sp-2,completed,2026-11-20
ada@example.org,Security Basics,2026-11-02,,,sp-3,completed,2026-11-05
lin@example.org,Coaching Skills,2026-11-16,2026-11-17,,sp-4,completed,
ada@example.org,,,,,sp-1,completed,2026-11-23
alan@example.org,Old e-learning,2026-09-01,,,sp-5,,
ada@example.org,Negotiation,2026-11-23,,,,,
lin@example.org,Data Privacy,2026-11-25,,,sp-6,completed,2026-11-24
nos@example.org,Data Privacy,2026-11-23,,,sp-7,enrolled,2026-11-23
,,,,,sp-404,completed,
"""


@pytest.mark.parametrize("batch_size", [1, 3, 1000])
def test_bulk_path_plans_self_paced_rows_and_completions_as_enroll_does(
    db: Database, db_url: str, tmp_path: Path, fake: FakeSlack, batch_size: int
) -> None:
    import csv
    import io

    from bot.core.directory import ImportReport
    from bot.core.enrollment import COMPLETION_COLUMNS

    reference_urls = (
        [f"sqlite:///{tmp_path / 'rows.db'}"] if db_url.startswith("sqlite") else throwaway_pg()
    )
    rows = list(csv.DictReader(io.StringIO(SELF_PACED)))
    assert set(COMPLETION_COLUMNS) <= set(rows[0])
    inputs = [
        (
            line,
            EnrollmentInput(
                learner=row["learner_email"],
                training=row["training"],
                starts_on=row["starts_on"],
                ends_on=row["ends_on"],
                manager=row["manager_email"] or None,
                external_id=row["external_id"] or None,
                status=row["status"] or "enrolled",
                completed_on=row["completed_on"] or None,
                source="csv",
                learner_field="learner_email",
                manager_field="manager_email",
            ),
        )
        for line, row in enumerate(rows, start=2)
    ]
    for reference_url in reference_urls:
        reference = Database(reference_url)
        try:
            reference.upgrade()
            bulk, one = world(db, fake), world(reference, fake)
            report = ImportReport()
            bulk.enroll_many(inputs, report, batch_size=batch_size)
            report.errors.sort()
            expected = ImportReport()
            for line, data in inputs:
                one._enroll_counted(line, data, expected)
            assert report.errors == sorted(expected.errors)
            assert [line for line, _ in report.errors] == [9, 10, 11]
            counts = (report.created, report.updated, report.unchanged)
            assert counts == (expected.created, expected.updated, expected.unchanged)
            assert orm_snapshot(db) == orm_snapshot(reference)
            # And the file, through import_csv, says the same.
            assert world(db, fake).import_csv(SELF_PACED).created == 0
        finally:
            reference.dispose()
    kinds: dict[str, dict[str, tuple[str, str | None]]] = {}
    with db.engine.connect() as conn:
        for external_id, kind, status, reason in conn.exec_driver_sql(
            "SELECT e.external_id, n.kind, n.status, n.reason FROM nudge n "
            "JOIN enrollment e ON e.id = n.enrollment_id"
        ):
            kinds.setdefault(external_id, {})[kind] = (status, reason)
    # sp-1, self-paced then completed today: the invite went pending at once, then was
    # skipped by the completion; its debrief is planned.
    assert kinds["sp-1"]["debrief"][0] == "pending"
    assert kinds["sp-2"]["debrief"][0] == "pending"
    assert kinds["sp-3"]["debrief"] == ("skipped", "completed more than 14 days ago")
    assert kinds["sp-5"]["goal_invite"][0] == "skipped"
    assert "debrief" not in kinds["sp-5"]
