"""learning: impression propensities, online comparisons of ranker versions

``impressions.propensity``: the exact probability that the serving policy showed the offer at
its rank (1 without exploration), for counterfactual evaluation. ``model_state`` names the
challenger of a running online comparison and the share of people it serves;
``model_experiments`` keeps every comparison with who started and stopped it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("impressions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("propensity", sa.Float(), nullable=True))
    op.create_table(
        "model_experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenger", sa.String(length=32), nullable=False),
        sa.Column("control", sa.String(length=32), nullable=True),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["challenger"], ["model_versions.version"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("model_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("experiment_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_model_state_experiment", "model_experiments", ["experiment_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("model_state", schema=None) as batch_op:
        batch_op.drop_constraint("fk_model_state_experiment", type_="foreignkey")
        batch_op.drop_column("experiment_id")
    op.drop_table("model_experiments")
    with op.batch_alter_table("impressions", schema=None) as batch_op:
        batch_op.drop_column("propensity")
