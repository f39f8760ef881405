"""enrollment: covering indexes for the summary's passes by start and end date, and status

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:55:00

The summary reads the enrollments that start in its 8 weeks and those that end in them (tens
of thousands at scale) for their training, manager and status: both indexes carry those
columns (and, on PostgreSQL, the id) so no row is fetched from the table. The few enrollments
that are not enrolled are found by status, so follow-ups need no look-up of their enrollment.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_enrollment_starts_cover",
        "enrollment",
        ["starts_on", "status", "training_id", "manager_id"],
        postgresql_include=["id"],
    )
    op.create_index(
        "ix_enrollment_ends_cover",
        "enrollment",
        ["ends_on", "status", "training_id", "manager_id"],
        postgresql_include=["id"],
    )
    op.create_index("ix_enrollment_status", "enrollment", ["status"])


def downgrade() -> None:
    op.drop_index("ix_enrollment_status", table_name="enrollment")
    op.drop_index("ix_enrollment_ends_cover", table_name="enrollment")
    op.drop_index("ix_enrollment_starts_cover", table_name="enrollment")
