"""Database plumbing: the declarative base, engines, sessions and migrations.

SQLite (a file in ``LOTSE_DATA_DIR``) by default, PostgreSQL through ``LOTSE_DATABASE_URL``.
The schema is owned by Alembic (``lotse/migrations``); ``migrate`` brings any database to head.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON on SQLite, JSONB on PostgreSQL.
JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Timezone-aware now; every stored timestamp is UTC."""
    return datetime.now(UTC)


class _SQLiteUtcDateTime(sqlite.DATETIME):
    """``DateTime(timezone=True)`` on SQLite, which keeps no time zone: aware values are
    stored as UTC and read back marked as UTC, as PostgreSQL hands them back (a naive
    timestamp in a response is not an RFC 3339 ``date-time``)."""

    def bind_processor(self, dialect):
        process = super().bind_processor(dialect)
        if not self.timezone:
            return process

        def bind(value):
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return process(value) if process else value

        return bind

    def result_processor(self, dialect, coltype):
        process = super().result_processor(dialect, coltype)
        if not self.timezone:
            return process

        def result(value):
            value = process(value) if process else value
            if isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value

        return result


#: Page size of a new SQLite database (an existing one keeps its own): offers are about a
#: kilobyte each, and larger pages take less time to write. Set before the first table, by
#: ``make_engine`` and by the migrations (which create the file).
SQLITE_PAGE_SIZE = 8192


def ensure_sqlite_folder(url: str) -> None:
    """Make the folder of a SQLite database file, so that SQLite can create the file."""
    path = url.split("///", 1)[-1]
    if url.startswith("sqlite") and path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine; for SQLite, make the file's folder, enable WAL and foreign keys, and
    read timezone-aware columns back as UTC."""
    if url.startswith("sqlite"):
        ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: _SQLiteUtcDateTime}

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
