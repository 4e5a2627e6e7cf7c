"""The per-request database session, bound to the app's engine in ``app.extensions``."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lotse.config import Config
from lotse.db import make_engine, make_session_factory


@dataclass
class Lotse:
    """What one app instance holds: its configuration, engine and session factory."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]


def pool_options(config: Config) -> dict[str, int]:
    """PostgreSQL connection pool per process: ``LOTSE_DB_POOL_SIZE`` (SQLAlchemy's default 5)
    and ``LOTSE_DB_MAX_OVERFLOW`` (default 10); see docs/operations.md for sizing."""
    if config.is_sqlite:
        return {}
    options = {}
    for name, key in (
        ("LOTSE_DB_POOL_SIZE", "pool_size"),
        ("LOTSE_DB_MAX_OVERFLOW", "max_overflow"),
    ):
        raw = os.environ.get(name, "").strip()
        if raw:
            options[key] = int(raw)
    return options


def init_db(app: Flask, config: Config) -> Lotse:
    engine = make_engine(config.database_url, **pool_options(config))
    state = Lotse(config=config, engine=engine, sessions=make_session_factory(engine))
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


def db() -> Session:
    """The request's session; views commit explicitly after a successful domain call."""
    if "db_session" not in g:
        g.db_session = state().sessions()
    return g.db_session
