"""The migrations build exactly the schema the table classes declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from lotse.db import Base
from service.schema import register_tables


def test_migrations_match_the_table_classes(db_url):
    # e.g. an index dropped by a migration (0006) but still declared on a column, or the
    # other way round, would show here
    register_tables()
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
