"""impressions: no index by offer

``ix_impressions_offer_id`` served no query (impressions are read by request and by time;
offers are archived, never deleted) and cost every served request one insert into a random
page of a large index per shown offer.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 20:00:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


# Plain DROP/CREATE INDEX, not a batch operation: SQLite can do both in place, and a batch
# could copy the whole (large) table.
def upgrade() -> None:
    op.drop_index("ix_impressions_offer_id", table_name="impressions")


def downgrade() -> None:
    op.create_index("ix_impressions_offer_id", "impressions", ["offer_id"], unique=False)
