"""pages: the centres' case register, addresses, display names, who changed an offer

``cases``: one row per centre and person with the centre's pseudonymous reference (filled
from the agreements already there), so the case list can be searched and referrals named.
``agencies.address`` and ``centres.address`` for print views, ``users.display_name`` for
histories, ``offer_history.username`` for changes made in the pages,
``agreement_goals.target_by`` (a goal's date: "B1 by June 2027") and
``agreements.counsellor_username`` (the counsellor the print view names); offers'
``service_area_type`` and ``service_area`` (HSDS service areas), ``professions`` (the
professions a recognition offer serves) and ``location_approximate``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 06:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("person_key", sa.String(length=64), nullable=False),
        sa.Column("person_ref", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"]),
        sa.PrimaryKeyConstraint("centre_id", "person_key"),
    )
    op.create_index("ix_cases_person_ref", "cases", ["person_ref"])
    op.execute(
        "INSERT INTO cases (centre_id, person_key, person_ref, opened_at, updated_at) "
        "SELECT centre_id, person_key, MIN(person_ref), MIN(created_at), MAX(updated_at) "
        "FROM agreements WHERE person_ref IS NOT NULL AND anonymised_at IS NULL "
        "GROUP BY centre_id, person_key"
    )
    for table in ("agencies", "centres"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("address", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("display_name", sa.String(length=200), nullable=False, server_default="")
        )
    with op.batch_alter_table("offer_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username", sa.String(length=64), nullable=True))
    with op.batch_alter_table("agreement_goals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_by", sa.Date(), nullable=True))
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_area_type", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("service_area", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("professions", JSON_TYPE, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column(
                "location_approximate", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counsellor_username", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        for name in ("location_approximate", "professions", "service_area", "service_area_type"):
            batch_op.drop_column(name)
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("counsellor_username")
    with op.batch_alter_table("agreement_goals", schema=None) as batch_op:
        batch_op.drop_column("target_by")
    with op.batch_alter_table("offer_history", schema=None) as batch_op:
        batch_op.drop_column("username")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("display_name")
    for table in ("centres", "agencies"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("address")
    op.drop_index("ix_cases_person_ref", table_name="cases")
    op.drop_table("cases")
