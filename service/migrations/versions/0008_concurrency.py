"""concurrency: at most one open agreement per centre and person

A partial unique index on ``agreements (centre_id, person_key)`` over open (draft or signed)
agreements that erasure has not anonymised. The check in ``create_agreement`` alone let two
creations that ran at once both pass it; the index refuses the second insert.

A database that already holds two open agreements for one person (made by that race) cannot
get the index: the upgrade stops and says where they are, so that one of each pair is closed
(signed) or deleted (draft) first; nothing here guesses which one is meant.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "uq_agreements_open_per_person"
OPEN = "status IN ('draft', 'signed') AND anonymised_at IS NULL"


def upgrade() -> None:
    clashes = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT centre_id, COUNT(*) AS n FROM agreements "
                f"WHERE {OPEN} GROUP BY centre_id, person_key HAVING COUNT(*) > 1"
            )
        )
        .all()
    )
    if clashes:
        where = ", ".join(f"{n} in centre {centre}" for centre, n in clashes)
        raise RuntimeError(
            f"{len(clashes)} person(s) have more than one open agreement ({where}); keep one "
            "of each and close (signed) or delete (draft) the others before upgrading"
        )
    op.create_index(
        INDEX,
        "agreements",
        ["centre_id", "person_key"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="agreements")
