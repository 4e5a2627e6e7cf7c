"""agreement documents: the person's print language and the signed record as PDF

``agreements.language``: the person's preferred language for printouts (German, plain, for
agreements made before). ``agreement_documents``: what was signed — the bilingual print as
HTML, kept with the signature, and the PDF made from it with its SHA-256.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 09:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="de", nullable=False)
        )
    op.create_table(
        "agreement_documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agreement_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("html_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreements.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agreement_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_documents_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agreement_documents_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agreement_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_documents_status"))
        batch_op.drop_index(batch_op.f("ix_agreement_documents_agreement_id"))
    op.drop_table("agreement_documents")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("language")
