"""learning: impression propensities, online comparisons of ranker versions

``impressions.propensity``: the exact probability that the serving policy showed the offer at
its rank (1 without exploration), for counterfactual evaluation. ``model_state`` names the
challenger of a running online comparison; ``model_experiments`` keeps every comparison with
who started and stopped it. ``uq_referrals_open_per_offer``: one open referral per person and
offer (a second referral reuses the first; two at once cannot both be made). A database that
already holds two open referrals of one person to one offer stops the upgrade and says so.

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


OPEN_REFERRAL = "status IN ('proposed', 'accepted', 'enrolled')"


def upgrade() -> None:
    clashes = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT centre_id, COUNT(*) FROM referrals "
                f"WHERE {OPEN_REFERRAL} GROUP BY centre_id, person_key, offer_id HAVING COUNT(*) > 1"
            )
        )
        .all()
    )
    if clashes:
        where = ", ".join(f"{n} in centre {centre}" for centre, n in clashes)
        raise RuntimeError(
            f"{len(clashes)} person(s) have more than one open referral to the same offer "
            f"({where}); move all but one of each on (declined or dropped) before upgrading"
        )
    op.create_index(
        "uq_referrals_open_per_offer",
        "referrals",
        ["centre_id", "person_key", "offer_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_REFERRAL),
        postgresql_where=sa.text(OPEN_REFERRAL),
    )
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
    op.drop_index("uq_referrals_open_per_offer", table_name="referrals")
    with op.batch_alter_table("model_state", schema=None) as batch_op:
        batch_op.drop_constraint("fk_model_state_experiment", type_="foreignkey")
        batch_op.drop_column("experiment_id")
    op.drop_table("model_experiments")
    with op.batch_alter_table("impressions", schema=None) as batch_op:
        batch_op.drop_column("propensity")
