"""nudge: on PostgreSQL, a covering index of the sent nudges' sent_at by id

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:30:00

The summary's median time to answer looks up the DM of each prompt answered in the week (about
5,000 at scale) in the nudge table (a million rows, larger than PostgreSQL's default buffer
cache): the index carries sent_at, so each look-up is an index-only scan of a small index.
Only nudges that were sent are in it, so a bulk import of pending nudges does not touch it.
SQLite finds a nudge by its rowid in the table itself, so it gets no such index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        "ix_nudge_sent_cover",
        "nudge",
        ["id"],
        postgresql_include=["sent_at"],
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_nudge_sent_cover", table_name="nudge")
