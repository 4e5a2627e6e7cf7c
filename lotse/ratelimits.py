"""Counters for rate limits, kept in the database so that every process and every server
behind a load balancer counts together.

A counter is a row per key (``anon:<address>``, ``login:<hash>|<address>`` …) and fixed time
window. Counting is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (SQLite and
PostgreSQL alike), so two processes counting the same key at once both see the sum. Fixed
windows are simple and cheap; a client can at worst spend two windows' allowance across a
window boundary, which the limits' defaults allow for.

Rows of windows that have ended are deleted by ``purge_expired``; callers do that now and
then (``service.security`` at most once a minute per process).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from lotse.db import Base, changed_rows

#: Longest key stored; longer keys are refused (keys are built by the service, not users).
MAX_KEY = 160


class RateCounter(Base):
    """How many times ``key`` was counted in the window starting at ``window_start``."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    #: When the window ends (Unix seconds); rows past it are purged.
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


@dataclass(frozen=True)
class Window:
    """A key's count in the current window, and the whole seconds until that window ends
    (at least 1)."""

    count: int
    resets_in: int


def _bounds(now: float, seconds: int) -> tuple[int, int, int]:
    start = int(now // seconds) * seconds
    end = start + seconds
    return start, end, max(1, int(-(-(end - now) // 1)))


def count(session: Session, key: str, seconds: int, now: float) -> Window:
    """Count one for ``key`` in its current window of ``seconds``; returns the new count."""
    if len(key) > MAX_KEY:
        raise ValueError("rate-limit key too long")
    start, end, resets_in = _bounds(now, seconds)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = (
        insert(RateCounter)
        .values(key=key, window_start=start, count=1, expires_at=end)
        .on_conflict_do_update(
            index_elements=[RateCounter.key, RateCounter.window_start],
            set_={"count": RateCounter.count + 1},
        )
        .returning(RateCounter.count)
    )
    return Window(int(session.execute(upsert).scalar_one()), resets_in)


_PEEK = select(RateCounter.count).where(
    RateCounter.key == bindparam("key"), RateCounter.window_start == bindparam("start")
)


def peek(session: Session, key: str, seconds: int, now: float) -> Window:
    """``key``'s count in its current window, without counting."""
    start, _end, resets_in = _bounds(now, seconds)
    # A statement built once, through the session's connection (no ORM layer): this read
    # runs on every request with a bearer token.
    found = session.connection().execute(_PEEK, {"key": key, "start": start}).scalar()
    return Window(int(found or 0), resets_in)


def forget(session: Session, key: str) -> None:
    """Drop every window of ``key`` (a successful login forgets its failures)."""
    session.execute(delete(RateCounter).where(RateCounter.key == key))


def purge_expired(session: Session, now: float) -> int:
    """Delete the rows of windows that have ended; returns how many."""
    return changed_rows(
        session.execute(delete(RateCounter).where(RateCounter.expires_at <= int(now)))
    )
