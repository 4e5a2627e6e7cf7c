"""Fixtures for the page tests: one SQLite database with a small demo catalogue and the four
demo users, an app on it, and a helper that logs a test client in through the login form."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lotse.db import make_engine, make_session_factory, transaction
from tests.clients import ClosingClient, close_responses

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
    app.test_client_class = ClosingClient
    yield app
    close_responses(app)
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


def draft_agreement(client, suggestions, offers: int = 1, **extra: str):
    """Draft an agreement from a suggestions page as its form does: the first ``offers``
    suggested offers, every need, the person's consent (``extra``: more form fields, e.g.
    ``due``)."""
    page = suggestions.text
    return client.post(
        "/counsel/agreements",
        data={
            "csrf_token": csrf_token(page),
            "offer_id": re.findall(r'name="offer_id" value="([^"]+)"', page)[:offers],
            "need": re.findall(r'name="need" value="([^"]+)"', page),
            "request_id": re.search(r'name="request_id" value="([^"]+)"', page).group(1),
            "consent": "1",
            **extra,
        },
        follow_redirects=True,
    )


# --- the browser: Debian's headless Chromium through Playwright, and axe-core ------------------

CHROMIUM = os.environ.get("LOTSE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def server(web_app) -> Iterator[str]:
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, web_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def shot(page, name: str, full_page: bool = True) -> None:
    """A screenshot for ``docs/screenshots`` (``LOTSE_SCREENSHOTS=1``); ``full_page=False``
    for pages with a sticky bar, which a full-page capture draws across the middle."""
    if os.environ.get("LOTSE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def log_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.set_default_timeout(10_000)
    page.goto(f"{base}/login")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()


#: WCAG 2.1 A and AA, as axe-core tags its rules.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_check(page, what: str) -> None:
    """Run axe-core (shipped by axe-playwright-python) on the page: no serious or critical
    WCAG 2.1 AA violation."""
    from axe_playwright_python.base import AXE_SCRIPT

    # a page still loading after a click has no document to check yet
    page.wait_for_load_state()
    page.evaluate(AXE_SCRIPT)
    result = page.evaluate(
        "opts => axe.run(document, opts)",
        {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    detail = "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}" for v in bad
    )
    assert not bad, f"axe on {what}: {detail}"
