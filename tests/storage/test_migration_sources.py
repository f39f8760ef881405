"""Migration 0009 on a database with data, on SQLite (batch mode: the enrollment table is
rebuilt) and PostgreSQL: nothing that references an enrollment is lost, and back again."""

from __future__ import annotations

import sqlalchemy as sa
from support import count_rows as _count
from support import migrate as _to

from storage.db import Database

SEED = [
    "INSERT INTO person (id, email, slack_id, active, share_goals, created_at, updated_at) "
    "VALUES (1, 'ada@example.org', 'UADA', true, true, '2026-11-01', '2026-11-01')",
    "INSERT INTO training (id, name, created_at) VALUES (1, 'Coaching Skills', '2026-11-01')",
    "INSERT INTO enrollment (id, external_id, learner_id, training_id, starts_on, ends_on, "
    "status, source, generation, created_at, updated_at) VALUES (1, 'lms-1', 1, 1, "
    "'2026-12-08', '2026-12-09', 'enrolled', 'webhook', 0, '2026-11-01', '2026-11-01')",
    "INSERT INTO nudge (enrollment_id, kind, recipient_id, due_at, status, attempts, "
    "deliveries, ooo_deferrals, idempotency_key, created_at, updated_at) VALUES (1, "
    "'goal_invite', 1, '2026-12-01 09:30', 'pending', 0, 0, 0, 'e1.g0.goal_invite', "
    "'2026-11-01', '2026-11-01')",
    "INSERT INTO goal (enrollment_id, learner_id, text, shared, created_at, updated_at) "
    "VALUES (1, 1, 'Ask more open questions', true, '2026-11-02', '2026-11-02')",
]


def test_0009_keeps_every_row_and_lets_ends_on_be_empty(db_url: str) -> None:
    db = Database(db_url)
    try:
        _to(db, "0006")
        with db.engine.begin() as conn:
            for statement in SEED:
                conn.exec_driver_sql(statement)
        db.upgrade()  # to head, as `coachbot db upgrade` does
        assert (_count(db, "nudge"), _count(db, "goal")) == (1, 1)
        columns = {c["name"]: c for c in sa.inspect(db.engine).get_columns("enrollment")}
        assert columns["ends_on"]["nullable"] is True
        assert {"completed_on", "sequence"} <= set(columns)
        assert {"inboxevent", "xapistatement"} <= set(sa.inspect(db.engine).get_table_names())
        indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("enrollment")}
        assert {"ix_enrollment_ends_cover", "ix_enrollment_starts_cover"} <= indexes
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO enrollment (id, external_id, learner_id, training_id, starts_on, "
                "ends_on, completed_on, status, source, generation, created_at, updated_at) "
                "VALUES (2, 'xapi-1', 1, 1, '2026-11-23', NULL, NULL, 'enrolled', 'xapi', 0, "
                "'2026-11-23', '2026-11-23')"
            )

        _to(db, "0006", down=True)
        assert (_count(db, "nudge"), _count(db, "goal")) == (1, 1)
        with db.engine.connect() as conn:
            ends = conn.exec_driver_sql("SELECT ends_on FROM enrollment WHERE id = 2").scalar()
        assert str(ends) == "2026-11-23"  # a self-paced training gets its first day as end
        db.upgrade()
        assert _count(db, "nudge") == 1
    finally:
        db.dispose()
