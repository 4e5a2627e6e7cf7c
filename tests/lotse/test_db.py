"""Database plumbing: SQLite settings for every connection, and how SQLite transactions take
the write lock."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from lotse.accounts import Centre
from lotse.db import (
    SQLITE_WRITE_ATTEMPTS,
    make_engine,
    make_session_factory,
    transaction,
    utcnow,
)
from service.migrations_runner import migrate


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


# --- SQLite's write lock -----------------------------------------------------------------


def _centres(session, *ids):
    for centre_id in ids:
        session.add(Centre(id=centre_id, name=centre_id, created_at=utcnow()))
    session.flush()


def _hold_the_write_lock(path, seconds: float, started: threading.Event) -> None:
    """Another process's writer: takes the write lock, keeps it ``seconds``, commits."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO centres (id, name, created_at) VALUES (?, 'other', '2027-01-01')",
            (f"other-{time.monotonic_ns()}",),
        )
        started.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_a_half_read_result_does_not_keep_a_later_write_from_its_lock(sqlite_url):
    # A request ran a query and wrote before it iterated the result (the person export), while
    # another request wrote: the open statement's read snapshot was stale, so its first write
    # got "database is locked" at once (no waiting helps then). Rows are now read whole when
    # the query runs.
    sessions = make_session_factory(make_engine(sqlite_url))
    with transaction(sessions) as s:
        _centres(s, "a", "b", "c")
    with transaction(sessions) as s:
        rows = s.scalars(select(Centre).order_by(Centre.id))
        with transaction(sessions) as other:
            _centres(other, "d")
        _centres(s, "e")
        assert [c.id for c in rows] == ["a", "b", "c"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Centre)) == 5


def test_reading_takes_no_write_lock(sqlite_url, tmp_path):
    sessions = make_session_factory(make_engine(sqlite_url, busy_timeout=0.2))
    with transaction(sessions) as s:
        _centres(s, "a")
    started = threading.Event()
    holder = threading.Thread(
        target=_hold_the_write_lock, args=(sqlite_url.split("///", 1)[1], 2.0, started)
    )
    holder.start()
    try:
        assert started.wait(5)
        begun = time.monotonic()
        with transaction(sessions) as s:  # a unit of work that only reads
            assert [c.id for c in s.scalars(select(Centre))] == ["a"]
        assert time.monotonic() - begun < 1.0  # it did not wait for the writer
    finally:
        holder.join()


def test_a_write_retries_for_the_lock_a_bounded_number_of_times(sqlite_url, caplog):
    path = sqlite_url.split("///", 1)[1]
    sessions = make_session_factory(make_engine(sqlite_url, busy_timeout=0.2))
    with transaction(sessions) as s:  # (the engine's first connection turns on WAL)
        _centres(s, "first")
    # the lock comes free after a retry or two: the write goes through, and says it waited
    started = threading.Event()
    holder = threading.Thread(target=_hold_the_write_lock, args=(path, 0.5, started))
    holder.start()
    try:
        assert started.wait(5)
        with caplog.at_level(logging.WARNING, logger="lotse.db"), transaction(sessions) as s:
            _centres(s, "mine")
    finally:
        holder.join()
    assert "SQLite write lock" in caplog.text
    # held for longer than every attempt together: the write gives up, and does not hang
    started = threading.Event()
    holder = threading.Thread(target=_hold_the_write_lock, args=(path, 4.0, started))
    holder.start()
    try:
        assert started.wait(5)
        begun = time.monotonic()
        with pytest.raises(OperationalError), transaction(sessions) as s:
            _centres(s, "late")
        assert time.monotonic() - begun < SQLITE_WRITE_ATTEMPTS * (0.2 + 1.0)
    finally:
        holder.join()
