"""conversationrecord and enrollment: covering indexes for the weekly summary

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 19:50:00

The summary reads records two ways: a kind answered in a span of weeks (follow-ups, time to
answer) and an enrollment's records of a kind (quadrants, "logged before the start", the
learner's follow-up beside the manager's). Both indexes carry the columns those queries read,
so neither goes back to the table for each of tens of thousands of records. Enrollments
created in the week (every one of them after a bulk import) are counted per training from an
index alone.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_enrollment_created_cover",
        "enrollment",
        ["created_at", "status", "training_id", "manager_id"],
    )
    op.create_index(
        "ix_conversationrecord_kind_answered",
        "conversationrecord",
        ["kind", "answered_at", "outcome", "enrollment_id", "nudge_id"],
    )
    op.create_index(
        "ix_conversationrecord_enrollment_kind",
        "conversationrecord",
        ["enrollment_id", "kind", "outcome", "answered_at", "quadrant"],
    )


def downgrade() -> None:
    op.drop_index("ix_conversationrecord_enrollment_kind", table_name="conversationrecord")
    op.drop_index("ix_conversationrecord_kind_answered", table_name="conversationrecord")
    op.drop_index("ix_enrollment_created_cover", table_name="enrollment")
