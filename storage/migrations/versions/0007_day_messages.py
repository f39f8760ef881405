"""One message a day: shared goals become nudges, people have a country, notes may wait

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00

- `nudge.goal_id`: a goal a learner shares goes to the manager as a `goal_shared` nudge, so
  the dispatcher puts it into the manager's day's message (or adds it to today's in place).
- `person.country`: the people.csv column whose public holidays are the person's days off.
- `note.nudge_id` may be NULL while the bot asks which learner a thread reply on a message
  about several learners is about.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("country", sa.String(length=10), nullable=True))
    with op.batch_alter_table("nudge") as batch:
        batch.add_column(sa.Column("goal_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_nudge_goal_id_goal", "goal", ["goal_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("note") as batch:
        batch.alter_column("nudge_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM note WHERE nudge_id IS NULL")
    with op.batch_alter_table("note") as batch:
        batch.alter_column("nudge_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("nudge") as batch:
        batch.drop_constraint("fk_nudge_goal_id_goal", type_="foreignkey")
        batch.drop_column("goal_id")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("country")
