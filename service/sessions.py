"""Web sessions stored in the database, behind Flask's ``session``.

``init_sessions(app, settings)`` (called by the app factory) installs
``DatabaseSessionInterface``. The cookie ``lotse_session`` carries a random id and nothing
else; the session's data (language, Flask-WTF's CSRF secret, flashed messages) and its user
live in ``web_sessions`` (``lotse.websessions``), so every server behind a load balancer sees
the same sessions, and a logout, a timeout or a disabled user ends access everywhere on the
next request. The cookie has no expiry (it ends with the browser), is HttpOnly, SameSite=Lax,
and Secure with ``LOTSE_HTTPS``.

A session is looked up once per request that carries the cookie. A visitor gets a row only
when something is stored for them (the CSRF secret of the login form, the language); the
login replaces it with a fresh id (no fixation), and ended sessions are purged then.
``session.principal`` is the logged-in person, read from the user's row on each request, so
a changed role or a disabled user counts at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, g
from flask import session as flask_session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from lotse import websessions
from lotse.accounts import Principal, active_user_id
from lotse.db import transaction
from lotse.settings import Settings
from service.db import request_session, state

COOKIE_NAME = "lotse_session"


class ServerSession(CallbackDict, SessionMixin):
    """``flask.session`` for one request: its data, plus who is logged in (``principal``).

    ``log_in`` and ``log_out`` only mark what is to happen; ``DatabaseSessionInterface``
    writes it when the response is saved."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        *,
        stored: websessions.StoredSession | None = None,
        stale_cookie: bool = False,
    ) -> None:
        def on_update(self: ServerSession) -> None:
            self.modified = True
            self.accessed = True

        super().__init__(initial, on_update)
        self.stored = stored
        self.stale_cookie = stale_cookie
        self.principal: Principal | None = stored.principal if stored else None
        self.username: str | None = stored.username if stored else None
        self.login_user_id: int | None = None
        self.ended = False
        self.modified = False
        self.accessed = False

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().setdefault(key, default)

    @property
    def key(self) -> str | None:
        """The stored session's key (the digest of its id), or None before it is stored."""
        return self.stored.id_hash if self.stored else None

    def log_in(self, user_id: int, principal: Principal, username: str) -> None:
        """Begin a fresh session for this user when the response is saved; the data (but
        the language) of the session before is dropped."""
        lang = self.get("lang")
        self.clear()
        if lang:
            self["lang"] = lang
        self.login_user_id = user_id
        self.principal = principal
        self.username = username

    def log_out(self) -> None:
        """End this session on the server (every copy of the cookie stops working); only the
        language is kept, in a new visitor's session."""
        lang = self.get("lang")
        self.clear()
        if lang:
            self["lang"] = lang
        self.ended = True
        self.principal = None
        self.username = None


class DatabaseSessionInterface(SessionInterface):
    """Sessions in ``web_sessions``; see the module docstring."""

    serializer = TaggedJSONSerializer()

    def __init__(self, lifetimes: websessions.Lifetimes) -> None:
        self.lifetimes = lifetimes
        #: Seconds since the epoch; tests set their own.
        self.clock: Callable[[], float] = time.time

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        session_id = request.cookies.get(self.get_cookie_name(app))
        if not session_id:
            return ServerSession()
        with transaction(state().sessions) as tx:
            stored = websessions.load(tx, session_id, self.now(), self.lifetimes)
        if stored is None:
            return ServerSession(stale_cookie=True)
        data = self.serializer.loads(stored.data) if stored.data else {}
        return ServerSession(data, stored=stored)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if session.accessed or session.stored or session.stale_cookie:
            response.vary.add("Cookie")
        if session.ended:
            self._end(app, session, response)
            return
        if session.login_user_id is not None:
            self._start(app, session, response)
            return
        if not session.modified:
            if session.stale_cookie:
                self._forget_cookie(app, response)
            return
        data = self.serializer.dumps(dict(session))
        if session.stored:
            stored = session.stored
            self._write(
                lambda tx, now: websessions.save_data(
                    tx, stored.id_hash, data, stored.created_at, now, self.lifetimes
                )
            )
        elif session:
            session_id = self._write(
                lambda tx, now: websessions.create(tx, data, now, self.lifetimes)
            )
            self._set_cookie(app, response, session_id)

    def _end(self, app: Flask, session: ServerSession, response: Response) -> None:
        data = self.serializer.dumps(dict(session)) if session else None
        old = session.key

        def end(tx, now: datetime) -> str | None:
            if old:
                websessions.end(tx, old)
            return websessions.create(tx, data, now, self.lifetimes) if data else None

        session_id = self._write(end)
        if session_id:
            self._set_cookie(app, response, session_id)
        else:
            self._forget_cookie(app, response)

    def _start(self, app: Flask, session: ServerSession, response: Response) -> None:
        data = self.serializer.dumps(dict(session))
        old = session.key

        def start(tx, now: datetime) -> str:
            if old:
                websessions.end(tx, old)
            websessions.purge_expired(tx, now)
            return websessions.create(tx, data, now, self.lifetimes, user_id=session.login_user_id)

        self._set_cookie(app, response, self._write(start))

    def _write(self, action: Callable[[Any, datetime], Any]) -> Any:
        # What the request itself left uncommitted is discarded at teardown anyway; ending
        # its transaction now keeps it from holding SQLite's write lock against this one.
        request_db = g.get("db_session")
        if request_db is not None and request_db.in_transaction():
            request_db.rollback()
        with transaction(state().sessions) as tx:
            return action(tx, self.now())

    def _set_cookie(self, app: Flask, response: Response, session_id: str) -> None:
        # No expires: the cookie ends with the browser; the server ends the session itself.
        response.set_cookie(
            self.get_cookie_name(app),
            session_id,
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
        )

    def _forget_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
            secure=self.get_cookie_secure(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app),
        )


def init_sessions(app: Flask, settings: Settings) -> None:
    """Keep ``app``'s sessions in the database, with the cookie set up for people."""
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
    )
    app.session_interface = DatabaseSessionInterface(
        websessions.Lifetimes(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_hours),
        )
    )


def current_session() -> ServerSession:
    """This request's session."""
    return flask_session  # type: ignore[return-value]


def session_principal() -> Principal | None:
    """Who is logged in with this request's session, or None."""
    return current_session().principal


def log_in(username: str, principal: Principal) -> bool:
    """Log ``username`` in with a fresh session; False when the user is gone or disabled
    (between the password check and now)."""
    user_id = active_user_id(request_session(), username)
    if user_id is None:
        return False
    current_session().log_in(user_id, principal, username)
    return True


def log_out() -> None:
    """End this request's session on the server."""
    current_session().log_out()
