"""The per-request database session, bound to the app's engine in ``app.extensions``."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lotse.db import make_engine, make_session_factory
from lotse.settings import Settings


@dataclass
class Lotse:
    """What one app instance holds: its settings, engine and session factory."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


def pool_options(settings: Settings) -> dict[str, int]:
    """PostgreSQL connection pool per process (``LOTSE_DB_POOL_SIZE``, ``LOTSE_DB_MAX_OVERFLOW``;
    SQLAlchemy's defaults 5 and 10); see docs/operations.md for sizing."""
    if settings.is_sqlite:
        return {}
    options = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
    return {k: v for k, v in options.items() if v is not None}


def init_db(app: Flask, settings: Settings) -> Lotse:
    engine = make_engine(settings.database, **pool_options(settings))
    state = Lotse(settings=settings, engine=engine, sessions=make_session_factory(engine))
    app.extensions["lotse"] = state

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is None:
            return
        try:
            if exc is not None:
                session.rollback()
            session.close()
        except SQLAlchemyError as err:
            # The database went away after the answer was made (the rollback that returns the
            # connection failed): drop the connection and keep the answer, which would
            # otherwise become a bare 500 from gunicorn.
            logging.getLogger("lotse.service").warning(
                "closing the request's database session failed: %s", type(err).__name__
            )
            with contextlib.suppress(SQLAlchemyError):
                session.invalidate()

    return state


def state() -> Lotse:
    return current_app.extensions["lotse"]


def request_session() -> Session:
    """The request's session; views commit explicitly after a successful domain call."""
    if "db_session" not in g:
        g.db_session = state().sessions()
    return g.db_session
