"""learning-system sources: self-paced trainings, completions, pending events, xAPI ids

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00

`enrollment.ends_on` may be NULL (a self-paced training not completed yet); `completed_on`
is the completion an LMS reported; `sequence` the iCalendar SEQUENCE the enrollment was read
from. `inboxevent` keeps the events of Canvas and Moodle until their details arrive;
`xapistatement` the xAPI statements acted on, so a statement sent twice is a no-op and a
voiding statement finds what it undoes.

On SQLite, making a column nullable rebuilds the table (batch mode: copy, drop, rename);
`storage.db.upgrade` turns foreign keys off around the migrations, so dropping the old
`enrollment` table does not cascade to its nudges.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.alter_column("ends_on", existing_type=sa.Date(), nullable=True)
        batch.add_column(sa.Column("completed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=True))

    op.create_table(
        "inboxevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "event_id", name="uq_inboxevent_source_event"),
    )
    op.create_index("ix_inboxevent_status_next", "inboxevent", ["status", "next_attempt_at"])
    op.create_index("ix_inboxevent_key", "inboxevent", ["source", "key", "id"])

    op.create_table(
        "xapistatement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("learner", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("training", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("happened_on", sa.Date(), nullable=True),
        sa.Column("voids", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("voided_by", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("stored_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("statement_id"),
    )
    op.create_index("ix_xapistatement_key", "xapistatement", ["key", "id"])
    op.create_index(op.f("ix_xapistatement_voids"), "xapistatement", ["voids"])


def downgrade() -> None:
    op.drop_index(op.f("ix_xapistatement_voids"), table_name="xapistatement")
    op.drop_index("ix_xapistatement_key", table_name="xapistatement")
    op.drop_table("xapistatement")
    op.drop_index("ix_inboxevent_key", table_name="inboxevent")
    op.drop_index("ix_inboxevent_status_next", table_name="inboxevent")
    op.drop_table("inboxevent")
    # A training without an end gets one again: its completion, else its first day.
    op.execute(
        "UPDATE enrollment SET ends_on = COALESCE(completed_on, starts_on) WHERE ends_on IS NULL"
    )
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("sequence")
        batch.drop_column("completed_on")
        batch.alter_column("ends_on", existing_type=sa.Date(), nullable=False)
