"""person.locale: each person's Slack locale, the language of everything they read

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:00:00

Filled by the directory sync (users.list with include_locale), users.info and user_change;
NULL until then, which reads as DEFAULT_LOCALE. A nullable column with no default: batch mode
adds it in place on SQLite (no copy of the table) and with ALTER TABLE on PostgreSQL, and
drops it again on either.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.drop_column("locale")
