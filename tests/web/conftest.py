"""Fixtures for the page tests: one SQLite database with a small demo catalogue and the four
demo users, an app on it, and a helper that logs a test client in through the login form."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from lotse.db import make_engine, make_session_factory, transaction

PASSWORD = "demo-password-1"
#: The demo users of ``lotse demo bootstrap`` (username, role, agency, centre).
USERS = (
    ("admin", "admin", None, None),
    ("berater", "counsellor", None, "mbe-wetzlar"),
    ("vhs", "agency", "vhs-wetzlar", None),
    ("analyst", "analyst", None, None),
)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed_demo(url: str, offers: int = 200) -> None:
    """A small demo catalogue and the demo users in the database at ``url``."""
    from catalog.demo import seed_catalogue
    from lotse.accounts import create_user

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        seed_catalogue(session, offers=offers, seed=1)
        for username, role, agency, centre in USERS:
            create_user(session, username, PASSWORD, role, agency, centre)
    engine.dispose()


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the demo catalogue and users, made once per worker."""
    from service.migrations_runner import migrate

    path = tmp_path_factory.mktemp("web-seed") / "lotse.db"
    url = f"sqlite:///{path}"
    migrate(url)
    seed_demo(url)
    return path


@pytest.fixture
def web_url(seeded_db: Path, tmp_path: Path) -> str:
    """A private copy of the seeded database for one test."""
    path = tmp_path / "lotse.db"
    shutil.copyfile(seeded_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def web_app(web_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOTSE_DATABASE_URL", web_url)
    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    from lotse.cli_support import sessions as cli_sessions
    from service.app import create_app

    cli_sessions.cache_clear()
    app = create_app({"TESTING": True, "data_dir": tmp_path, "database_url": web_url})
    yield app
    app.extensions["lotse"].engine.dispose()
    cli_sessions.cache_clear()


@pytest.fixture
def web(web_app):
    return web_app.test_client()


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log ``client`` in through the form; returns the response after the redirect."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )
