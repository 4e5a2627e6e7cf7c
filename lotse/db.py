"""Database plumbing: the declarative base, engines, sessions and migrations.

SQLite (a file in ``LOTSE_DATA_DIR``) by default, PostgreSQL through ``LOTSE_DATABASE_URL``.
The schema is owned by Alembic (``lotse/migrations``); ``migrate`` brings any database to head.

SQLite has one writer at a time. A transaction that only reads never takes the write lock
(readers and the writer run side by side in WAL mode); one that writes takes it with
``BEGIN IMMEDIATE`` just before its first write, waiting for it a bounded time (the busy
timeout, a few attempts). That wait works only while no statement of the connection is still
reading: a half-read result holds a read snapshot, and a snapshot that another writer has
overtaken can never be upgraded to a write ("database is locked" at once, however long one
waits). So the rows of every ORM query of Lotse's sessions are read whole when it runs.
"""

from __future__ import annotations

import logging
import random
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, Table, create_engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, sessionmaker

log = logging.getLogger("lotse.db")

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

    if TYPE_CHECKING:
        # Every model here maps one Table (none maps a join or a select), so Core statements
        # (bulk inserts) may take ``Model.__table__``; SQLAlchemy declares the wider FromClause.
        __table__: ClassVar[Table]


def changed_rows(result: Result[Any]) -> int:
    """How many rows the UPDATE or DELETE that gave ``result`` matched (≥ 0).

    ``Session.execute`` is declared to return a plain ``Result``; for those statements it is a
    ``CursorResult``, which alone carries the count."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"not the result of an UPDATE or DELETE: {type(result).__name__}")
    return int(result.rowcount)


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


#: How long one attempt to take SQLite's write lock waits for another writer (seconds; SQLite
#: itself retries within it, with growing pauses), and how many attempts a write makes, with
#: a pause between them that doubles (plus jitter) from ``SQLITE_RETRY_PAUSE``.
SQLITE_BUSY_TIMEOUT = 10.0
SQLITE_WRITE_ATTEMPTS = 3
SQLITE_RETRY_PAUSE = 0.1

#: Statements before which pysqlite would begin a transaction itself (it looks at the first
#: keyword the same way); Lotse begins it first, as ``BEGIN IMMEDIATE``.
_SQLITE_WRITE = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _sqlite_busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (``SQLITE_BUSY`` and its extended codes)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(exc)


def _take_sqlite_write_lock(cursor: sqlite3.Cursor, statement: str) -> None:
    """Before the first write of a transaction: ``BEGIN IMMEDIATE``, a bounded number of times.

    Each attempt waits up to the busy timeout; an attempt that still finds another writer
    gives way for a moment, so that two waiting writers do not retry in step.
    """
    conn = cursor.connection
    if conn.in_transaction or not _SQLITE_WRITE.match(statement):
        return
    for attempt in range(1, SQLITE_WRITE_ATTEMPTS + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if attempt == SQLITE_WRITE_ATTEMPTS or not _sqlite_busy(exc):
                raise
            pause = SQLITE_RETRY_PAUSE * 2 ** (attempt - 1) * (0.5 + random.random())
            log.warning(
                "SQLite write lock still held by another writer (attempt %d of %d); "
                "trying again in %.2f s",
                attempt,
                SQLITE_WRITE_ATTEMPTS,
                pause,
            )
            time.sleep(pause)


def make_engine(url: str, *, busy_timeout: float = SQLITE_BUSY_TIMEOUT, **kwargs: object) -> Engine:
    """Create an engine; for SQLite, make the file's folder, enable WAL and foreign keys, take
    the write lock before a transaction's first write (see above), and read timezone-aware
    columns back as UTC. ``busy_timeout``: seconds one attempt waits for the write lock."""
    if url.startswith("sqlite"):
        ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"timeout": busy_timeout}, **kwargs)
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: _SQLiteUtcDateTime}

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        # Inside SQLAlchemy's error handling (unlike before_cursor_execute), so a lock that
        # never came free is an OperationalError like any other.
        @event.listens_for(engine, "do_execute")
        def _lock_before_write(cursor, statement, _parameters, _context) -> None:
            _take_sqlite_write_lock(cursor, statement)

        @event.listens_for(engine, "do_executemany")
        def _lock_before_writes(cursor, statement, _parameters, _context) -> None:
            _take_sqlite_write_lock(cursor, statement)

        @event.listens_for(engine, "do_execute_no_params")
        def _lock_before_bare_write(cursor, statement, _context) -> None:
            _take_sqlite_write_lock(cursor, statement)

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _read_rows_at_once(state: ORMExecuteState) -> None:
    """Fetch every row of an ORM query when it runs (unless it streams with ``yield_per``),
    so that no half-read result keeps a SQLite read snapshot open into a later write."""
    options = state.execution_options
    if state.is_select and not options.get("yield_per") and not options.get("stream_results"):
        state.update_execution_options(prebuffer_rows=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    if engine.dialect.name == "sqlite":
        event.listen(factory, "do_orm_execute", _read_rows_at_once)
    return factory


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
