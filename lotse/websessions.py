"""Web sessions kept in the database (``accounts.WebSession``), so that every server behind a
load balancer sees the same logins and a logout or a disabled user takes effect everywhere.

The browser holds a random id (256 bits) and nothing else; the table holds the id's SHA-256
digest, the user, the session's data (serialised by the caller) and three times. A session
ends ``idle`` after its last request or ``absolute`` after it began, whichever comes first;
``expires_at`` holds that moment, so finding and purging ended sessions is one indexed
comparison. Sessions without a user keep a visitor's language and CSRF secret before login.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lotse.accounts import Principal, User, WebSession, principal_of
from lotse.db import changed_rows

#: What ``new_id`` makes: 43 URL-safe characters. Anything else in a cookie is not looked up.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: ``last_seen_at`` is written at most this often per session (reads stay reads).
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Lifetimes:
    """How long a session may stay unused (``idle``) and how long it may last at all."""

    idle: timedelta
    absolute: timedelta

    def expiry(self, created_at: datetime, now: datetime) -> datetime:
        return min(created_at + self.absolute, now + self.idle)


@dataclass(frozen=True)
class StoredSession:
    """A live session as read from the database."""

    id_hash: str
    data: str
    created_at: datetime
    last_seen_at: datetime
    principal: Principal | None
    username: str | None


def new_id() -> str:
    """A fresh random session id for the cookie."""
    return secrets.token_urlsafe(32)


def digest(session_id: str) -> str:
    """What the table stores for ``session_id``."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def load(
    session: Session, session_id: str, now: datetime, lifetimes: Lifetimes
) -> StoredSession | None:
    """The live session ``session_id``, or None when it is unknown, has ended, or belongs to a
    user who is disabled or gone (an ended session's row is deleted). Moves the idle timeout
    on when the last request was more than ``TOUCH_EVERY`` ago."""
    if not ID_PATTERN.match(session_id):
        return None
    id_hash = digest(session_id)
    found = session.execute(
        select(WebSession, User)
        .outerjoin(User, User.id == WebSession.user_id)
        .where(WebSession.id_hash == id_hash)
    ).first()
    if found is None:
        return None
    row, user = found
    gone = row.user_id is not None and (user is None or user.disabled_at is not None)
    if row.expires_at <= now or gone:
        end(session, id_hash)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        session.execute(
            update(WebSession)
            .where(WebSession.id_hash == id_hash)
            .values(last_seen_at=now, expires_at=lifetimes.expiry(row.created_at, now))
        )
    return StoredSession(
        id_hash=id_hash,
        data=row.data,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        principal=principal_of(user) if user is not None else None,
        username=user.username if user is not None else None,
    )


def create(
    session: Session,
    data: str,
    now: datetime,
    lifetimes: Lifetimes,
    user_id: int | None = None,
) -> str:
    """Store a new session (of ``user_id``, or of a visitor) and return its id for the cookie."""
    session_id = new_id()
    session.add(
        WebSession(
            id_hash=digest(session_id),
            user_id=user_id,
            data=data,
            created_at=now,
            last_seen_at=now,
            expires_at=lifetimes.expiry(now, now),
        )
    )
    session.flush()
    return session_id


def save_data(
    session: Session,
    id_hash: str,
    data: str,
    created_at: datetime,
    now: datetime,
    lifetimes: Lifetimes,
) -> None:
    """Replace the session's data (and count the request as use)."""
    session.execute(
        update(WebSession)
        .where(WebSession.id_hash == id_hash)
        .values(data=data, last_seen_at=now, expires_at=lifetimes.expiry(created_at, now))
    )


def end(session: Session, id_hash: str) -> None:
    """End one session (logout)."""
    session.execute(delete(WebSession).where(WebSession.id_hash == id_hash))


def purge_expired(session: Session, now: datetime) -> int:
    """Delete every session that has ended; returns how many (one indexed delete)."""
    return changed_rows(session.execute(delete(WebSession).where(WebSession.expires_at <= now)))
