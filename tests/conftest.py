"""Fixtures shared by every test package.

``db_url`` is a fresh, migrated database per test: a SQLite file in a temporary folder, and
(when ``LOTSE_TEST_POSTGRES_URL`` is set, as in CI) a PostgreSQL database too, so the same
tests run against both. ``app``, ``client`` and ``runner`` are built from the factory.
"""

from __future__ import annotations

import gc
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lotse import settings as lotse_settings
from lotse.db import make_engine, make_session_factory, transaction
from service.migrations_runner import migrate, register_tables
from tests.clients import ClosingClient, close_responses
from tests.hsds_schemas import HSDS_DIR, Schemas

PG_URL = os.environ.get("LOTSE_TEST_POSTGRES_URL")


def pytest_configure(config: pytest.Config) -> None:
    """Random secrets for this test run: the app refuses to serve without strong ones, and
    person keys need one. Set in the environment so that servers the tests start inherit
    them; a developer's own values (or a ``.env``) never leak into a test."""
    os.environ["LOTSE_SECRET_KEY"] = secrets.token_urlsafe(32)
    os.environ["LOTSE_PSEUDONYM_SECRET"] = secrets.token_urlsafe(32)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test reads the settings anew (tests change the environment with monkeypatch)."""
    lotse_settings.reset()
    yield
    lotse_settings.reset()


@pytest.fixture(scope="session")
def hsds_dir() -> Path:
    """The HSDS 3.0 schemas and examples the tests use, kept in the repository."""
    return HSDS_DIR


@pytest.fixture(scope="session")
def hsds_schemas() -> Schemas:
    """Validators for the HSDS schemas, by name (``tests.hsds_schemas``)."""
    return Schemas()


@pytest.fixture(scope="session")
def pg_template(worker_id: str) -> Iterator[str | None]:
    """A per-worker PostgreSQL database migrated once; tests truncate it between uses."""
    if not PG_URL:
        yield None
        return
    url = make_url(PG_URL)
    # The process id keeps two test runs on one server (or two xdist workers) apart.
    name = f"{url.database}_{worker_id}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    worker_url = url.set(database=name).render_as_string(hide_password=False)
    migrate(worker_url)
    yield worker_url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_LEFT_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
)


def _truncate_postgres(url: str) -> None:
    register_tables()
    from lotse.db import Base

    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        if conn.execute(_LEFT_IN_TRANSACTION).scalar():
            # A session of an earlier test that nothing refers to any more still holds a
            # transaction: finalise it now, while its connection works, rather than let a
            # later collection find it after the terminate below (see ``ClosingClient``). A
            # full collection costs about 0.1 s, so only when there is something to find.
            gc.collect()
        # Tests of one worker run one after another, so any other connection to its database
        # is left over from an earlier test, e.g. one that failed while it streamed a
        # response (its traceback keeps the response and so its transaction open). Without
        # this, TRUNCATE would wait for that transaction for ever and hang the whole run.
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.execute(text("SET LOCAL lock_timeout = '60s'"))
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO catalog_state (id, seq) VALUES (1, 0)"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per worker; each test gets a copy (migrating costs far
    more than copying). The migrations write no WAL file, so the copy is whole."""
    path = tmp_path_factory.mktemp("sqlite-template") / "lotse.db"
    migrate(f"sqlite:///{path}")
    return path


def _fresh_sqlite(template: Path, folder: Path) -> str:
    path = folder / "lotse.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(
    request, tmp_path: Path, pg_template: str | None, sqlite_template: Path
) -> Iterator[str]:
    """A fresh migrated database: SQLite always, PostgreSQL when CI provides one."""
    if request.param == "sqlite":
        yield _fresh_sqlite(sqlite_template, tmp_path)
        return
    if pg_template is None:
        pytest.skip("LOTSE_TEST_POSTGRES_URL not set (CI sets it)")
    _truncate_postgres(pg_template)
    yield pg_template


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh migrated SQLite database, for tests that need not run on both backends."""
    return _fresh_sqlite(sqlite_template, tmp_path)


@pytest.fixture
def sessions(db_url: str):
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def app(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOTSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    from lotse.cli_support import sessions as cli_sessions
    from service.app import create_app

    cli_sessions.cache_clear()
    app = create_app({"TESTING": True, "data_dir": tmp_path, "database_url": db_url})
    app.test_client_class = ClosingClient
    yield app
    close_responses(app)
    app.extensions["lotse"].engine.dispose()
    cli_sessions.cache_clear()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_token(app):
    """``make_token("agency", agency_id="vhs")`` → an auth header dict for that principal."""
    from lotse.accounts import create_token

    def _make(role: str, agency_id: str | None = None, centre_id: str | None = None) -> dict:
        with transaction(app.extensions["lotse"].sessions) as session:
            token = create_token(session, role, agency_id, centre_id)
        return {"Authorization": f"Bearer {token}"}

    return _make


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """xdist's worker id ("gw0", …), or "main" without xdist."""
    return getattr(request.config, "workerinput", {}).get("workerid", "main")
