"""Migration 0010 on a database with follow-up answers, on SQLite and PostgreSQL: each
earlier follow-up answer becomes a Success Case answer about the training that counts the
same, without consent; follow-ups become round 1; nothing is lost, and back again."""

from __future__ import annotations

from typing import Any

from support import count_rows as _count
from support import migrate as _to

from storage.db import Database
from storage.models import CASE_OUTCOMES, CaseAnswer

PEOPLE = (
    "INSERT INTO person (id, email, slack_id, active, share_goals, created_at, updated_at) "
    "VALUES ({id}, '{name}@example.org', 'U{upper}', true, true, '2026-11-01', '2026-11-01')"
)
ENROLLMENT = (
    "INSERT INTO enrollment (id, external_id, learner_id, manager_id, training_id, starts_on, "
    "ends_on, status, source, generation, created_at, updated_at) VALUES ({id}, 'lms-{id}', "
    "{learner}, 3, 1, '2026-12-08', '2026-12-09', 'enrolled', 'webhook', 0, '2026-11-01', "
    "'2026-11-01')"
)
NUDGE = (
    "INSERT INTO nudge (id, enrollment_id, kind, recipient_id, due_at, status, attempts, "
    "deliveries, ooo_deferrals, idempotency_key, created_at, updated_at) VALUES ({id}, "
    "{enrollment}, '{kind}', {recipient}, '2027-01-08 09:30', '{status}', 0, 1, 0, "
    "'e{enrollment}.g0.{kind}', '2026-11-01', '2026-11-01')"
)
RECORD = (
    "INSERT INTO conversationrecord (nudge_id, enrollment_id, kind, answered_by, answered_at, "
    "outcome, note) VALUES ({nudge}, {enrollment}, '{kind}', {by}, '2027-01-08 10:00', "
    "'{outcome}', {note})"
)

# (nudge id, enrollment, kind, recipient, status, the outcome recorded or None, its note)
NUDGES: list[tuple[int, int, str, int, str, str | None, str | None]] = [
    (1, 1, "follow_up", 3, "answered", "applied", "'She runs the retro now'"),
    (2, 1, "learner_follow_up", 1, "answered", "not_yet", None),
    (3, 2, "follow_up", 3, "answered", "partly", None),
    (4, 2, "learner_follow_up", 2, "sent", None, None),
    (5, 1, "debrief", 3, "answered", "logged", None),
    (6, 2, "debrief", 3, "not_needed", "not_needed", "'Already talked'"),
    (7, 1, "goal_invite", 1, "sent", None, None),
]


def _seed(db: Database) -> None:
    with db.engine.begin() as conn:
        for pid, name in ((1, "ada"), (2, "ben"), (3, "grace")):
            conn.exec_driver_sql(PEOPLE.format(id=pid, name=name, upper=name.upper()))
        conn.exec_driver_sql(
            "INSERT INTO training (id, name, created_at) VALUES (1, 'Coaching', '2026-11-01')"
        )
        for eid, learner in ((1, 1), (2, 2)):
            conn.exec_driver_sql(ENROLLMENT.format(id=eid, learner=learner))
        for nid, eid, kind, recipient, status, outcome, note in NUDGES:
            conn.exec_driver_sql(
                NUDGE.format(id=nid, enrollment=eid, kind=kind, recipient=recipient, status=status)
            )
            if outcome is not None:
                conn.exec_driver_sql(
                    RECORD.format(
                        nudge=nid,
                        enrollment=eid,
                        kind=kind,
                        by=recipient,
                        outcome=outcome,
                        note=note or "NULL",
                    )
                )


def _rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql)]


def test_0010_turns_follow_up_answers_into_success_case_answers(db_url: str) -> None:
    db = Database(db_url)
    try:
        _to(db, "0009")
        _seed(db)
        records_before = _rows(db, "SELECT nudge_id, outcome, note FROM conversationrecord")
        db.upgrade()  # to head, as `coachbot db upgrade` does

        cases = _rows(
            db,
            "SELECT nudge_id, enrollment_id, goal_id, subject, side, follow_up_round, "
            "answered_by, answer, result, evidence, consent FROM caserecord ORDER BY nudge_id",
        )
        assert [(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]) for c in cases] == [
            (1, 1, None, "training", "manager", 1, 3, "no_clear_results"),
            (2, 1, None, "training", "learner", 1, 1, "not_applied"),
            (3, 2, None, "training", "manager", 1, 3, "didnt_stick"),
        ]
        assert {(c[8], c[9], bool(c[10])) for c in cases} == {(None, None, False)}, (
            "no result is made up, and no one answered before is named"
        )
        # Each mapped answer counts in the metrics as the old outcome did.
        old = {nudge: outcome for nudge, outcome, _note in records_before}
        assert all(CASE_OUTCOMES[CaseAnswer(c[7])] == old[c[0]] for c in cases)
        rounds = dict(_rows(db, "SELECT id, follow_up_round FROM nudge"))
        assert rounds == {1: 1, 2: 1, 3: 1, 4: 1, 5: None, 6: None, 7: None}
        # Nothing is lost: every record, note and nudge is still there.
        assert sorted(_rows(db, "SELECT nudge_id, outcome, note FROM conversationrecord")) == (
            sorted(records_before)
        )
        assert (_count(db, "nudge"), _count(db, "person"), _count(db, "enrollment")) == (7, 3, 2)

        _to(db, "0009", down=True)
        assert sorted(_rows(db, "SELECT nudge_id, outcome, note FROM conversationrecord")) == (
            sorted(records_before)
        )
        assert _count(db, "nudge") == 7
        db.upgrade()
        assert _count(db, "caserecord") == 3
    finally:
        db.dispose()
