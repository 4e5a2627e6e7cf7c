"""Database plumbing: SQLite settings for every connection."""

from __future__ import annotations

from sqlalchemy import text

from lotse.db import make_engine
from service.schema import migrate


def test_a_new_sqlite_database_gets_large_pages_wal_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert conn.execute(text("PRAGMA page_size")).scalar() == 8192
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_a_database_created_by_the_migrations_gets_large_pages(tmp_path):
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA page_size")).scalar() == 8192
    engine.dispose()
