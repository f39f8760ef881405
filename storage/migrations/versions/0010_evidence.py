"""evidence for L&D: Success Case answers, follow-up rounds, why a training matters

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00

`caserecord` holds the Success Case answers of the follow-ups, one per goal (or the training)
per side and round. `nudge.follow_up_round` says which of FOLLOW_UP_DAYS a follow-up is;
`training.why` and `training.sponsor_id` the organisation's reason for a training.

Earlier answers keep counting as they did: every follow-up nudge becomes round 1, and each
follow-up answer recorded before this migration gets a Success Case answer about the training
that counts the same in the metrics: Applied as "Yes, no clear results yet" (applied; an
earlier "Applied" cannot tell a result from an intention, so it is never a success case),
Partly as "Tried, but it didn't stick" (partly), Not yet as "Not applied" (not yet, and a
non-success case). None of them carries consent, so no one answered before is named.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MAPPED = {"applied": "no_clear_results", "partly": "didnt_stick", "not_yet": "not_applied"}


def upgrade() -> None:
    with op.batch_alter_table("training") as batch:
        batch.add_column(sa.Column("why", sa.String(), nullable=True))
        batch.add_column(sa.Column("sponsor_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_training_sponsor_id_person", "person", ["sponsor_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("nudge") as batch:
        batch.add_column(sa.Column("follow_up_round", sa.Integer(), nullable=True))
    op.create_table(
        "caserecord",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nudge_id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("follow_up_round", sa.Integer(), nullable=False),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("result", sa.String(), nullable=True),
        sa.Column("evidence", sa.String(), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("answered_at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["nudge_id"], ["nudge.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["goal_id"], ["goal.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["answered_by"], ["person.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nudge_id", "subject", name="uq_caserecord_nudge_subject"),
    )
    op.create_index(
        "ix_caserecord_enrollment", "caserecord", ["enrollment_id", "follow_up_round", "side"]
    )
    op.create_index("ix_caserecord_answered_at", "caserecord", ["answered_at"])

    op.execute(
        "UPDATE nudge SET follow_up_round = 1 WHERE kind IN ('follow_up', 'learner_follow_up')"
    )
    for old, new in _MAPPED.items():
        op.execute(
            sa.text(
                "INSERT INTO caserecord (nudge_id, enrollment_id, goal_id, subject, side,"
                " follow_up_round, answered_by, answer, result, evidence, consent, answered_at)"
                " SELECT nudge_id, enrollment_id, NULL, 'training',"
                " CASE kind WHEN 'follow_up' THEN 'manager' ELSE 'learner' END,"
                " 1, answered_by, :new, NULL, NULL, :no, answered_at"
                " FROM conversationrecord"
                " WHERE kind IN ('follow_up', 'learner_follow_up') AND outcome = :old"
            ).bindparams(old=old, new=new, no=False)
        )


def downgrade() -> None:
    op.drop_index("ix_caserecord_answered_at", table_name="caserecord")
    op.drop_index("ix_caserecord_enrollment", table_name="caserecord")
    op.drop_table("caserecord")
    with op.batch_alter_table("nudge") as batch:
        batch.drop_column("follow_up_round")
    with op.batch_alter_table("training") as batch:
        batch.drop_constraint("fk_training_sponsor_id_person", type_="foreignkey")
        batch.drop_column("sponsor_id")
        batch.drop_column("why")
