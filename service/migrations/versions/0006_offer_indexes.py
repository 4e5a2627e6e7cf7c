"""offer indexes: drop two that no query needs

``ix_offers_agency_id`` repeats the first column of the unique (agency_id, external_id)
index, which serves every lookup by agency; ``ix_offers_archived`` indexes a flag that nearly
every offer shares. Each cost time on every insert and update of an offer.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 03:45:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offers_agency_id"))
        batch_op.drop_index(batch_op.f("ix_offers_archived"))


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offers_archived"), ["archived"], unique=False)
        batch_op.create_index(batch_op.f("ix_offers_agency_id"), ["agency_id"], unique=False)
