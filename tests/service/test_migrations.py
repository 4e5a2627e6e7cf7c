"""The migrations build exactly the schema the table classes declare."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from lotse.db import Base
from service.migrations_runner import register_tables


def test_migrations_match_the_table_classes(db_url):
    # e.g. an index dropped by a migration (0006) but still declared on a column, or the
    # other way round, would show here
    register_tables()
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_the_upgrade_names_people_with_two_open_agreements_instead_of_guessing(tmp_path):
    # two open agreements for one person, as concurrent creations made them before 0008:
    # the partial unique index cannot be built, and the upgrade says why
    from alembic import command
    from sqlalchemy import text

    from service.migrations_runner import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0006")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO centres (id, name, created_at) VALUES ('mbe', 'MBE', '2027-01-04 10:00:00')"
            )
        )
        for aid in ("a1", "a2"):
            conn.execute(
                text(
                    "INSERT INTO agreements (id, centre_id, person_key, status, start_date, "
                    "review_every_months, version, created_at, updated_at, created_by) VALUES "
                    "(:id, 'mbe', 'k', 'draft', '2027-01-04', 3, 1, '2027-01-04 10:00:00', "
                    "'2027-01-04 10:00:00', 'test')"
                ),
                {"id": aid},
            )
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"1 person.* more than one open agreement"):
        command.upgrade(alembic_config(url), "head")
