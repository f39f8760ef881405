"""nudge: the indexes of sent rows hold only sent rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00

`ix_nudge_status_sent` and `ix_nudge_ts` serve look-ups of nudges that went out (the
summary's overdue count, a thread reply finding its prompt). Every planned nudge had an
entry in both, with NULLs, so a bulk import wrote two index entries per row that nothing
reads; as partial indexes they cost nothing until the nudge is sent.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENT = sa.text("sent_at IS NOT NULL")
POSTED = sa.text("ts IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_nudge_status_sent", table_name="nudge")
    op.drop_index("ix_nudge_ts", table_name="nudge")
    op.create_index(
        "ix_nudge_status_sent",
        "nudge",
        ["status", "sent_at"],
        sqlite_where=SENT,
        postgresql_where=SENT,
    )
    op.create_index("ix_nudge_ts", "nudge", ["ts"], sqlite_where=POSTED, postgresql_where=POSTED)


def downgrade() -> None:
    op.drop_index("ix_nudge_ts", table_name="nudge")
    op.drop_index("ix_nudge_status_sent", table_name="nudge")
    op.create_index("ix_nudge_ts", "nudge", ["ts"])
    op.create_index("ix_nudge_status_sent", "nudge", ["status", "sent_at"])
