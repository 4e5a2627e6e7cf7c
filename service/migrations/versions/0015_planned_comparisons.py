"""online comparisons: the number of people each is judged on

``model_experiments.planned_people``: a comparison is decided once, on its first
``planned_people`` people, when they are all in (NULL: watched only, never decided on —
what comparisons started before this revision become).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_experiments") as batch_op:
        batch_op.add_column(sa.Column("planned_people", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_experiments") as batch_op:
        batch_op.drop_column("planned_people")
