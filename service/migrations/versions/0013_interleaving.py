"""interleaving: an online comparison's design

``model_experiments.design``: ``split`` (a share of people is served the challenger's list
alone, as before) or ``interleave`` (that share sees one list interleaved from the active
version's and the challenger's, every result remembering its team).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_experiments") as batch_op:
        batch_op.add_column(
            sa.Column("design", sa.String(length=16), nullable=False, server_default="split")
        )


def downgrade() -> None:
    with op.batch_alter_table("model_experiments") as batch_op:
        batch_op.drop_column("design")
