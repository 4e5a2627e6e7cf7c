"""Security headers, HTTPS, rate limits on failed logins and tokens, body limits on imports,
and 500s that give nothing away."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, ProgrammingError

from lotse.accounts import create_user
from lotse.db import transaction
from tests.casework.cases import draft, store_offers

PASSWORD = "right-password-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Permissions-Policy",
)


@pytest.fixture
def make_app(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``make_app(https=True, …)``: an app with extra settings (on SQLite: what these
    tests check happens before any database work)."""
    db_url = sqlite_url
    monkeypatch.setenv("LOTSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    from service.app import create_app

    made = []

    def _make(**config):
        app = create_app({"TESTING": True, "data_dir": tmp_path, "database_url": db_url, **config})
        made.append(app)
        return app

    yield _make
    for app in made:
        app.extensions["lotse"].engine.dispose()


def _user(app, username: str = "berater") -> None:
    with transaction(app.extensions["lotse"].sessions) as s:
        create_user(s, username, PASSWORD, "counsellor", centre_id="mbe-wetzlar")


def _login(client, username: str, password: str, **kwargs):
    token = CSRF.search(client.get("/login", **kwargs).text).group(1)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        **kwargs,
    )


# --- headers -----------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_response(client):
    for resp in (
        client.get("/healthz"),
        client.get("/v1/offers"),
        client.get("/login"),
        client.get("/static/lotse.css"),
        client.get("/nowhere"),
        client.get("/v1/models"),
    ):
        for name in HEADERS:
            assert resp.headers.get(name), (resp.request.path, name)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in resp.headers
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "script-src" not in csp


def test_pages_have_no_inline_scripts_or_style_attributes():
    """The policy allows no script at all and only hashed inline style blocks."""
    templates = Path(__file__).resolve().parents[2] / "service" / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text()
        assert "<script" not in text, path
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path


def test_printable_agreement_style_is_allowed_by_its_hash(app, client, make_token):
    with transaction(app.extensions["lotse"].sessions) as s:
        offers = store_offers(s)
        agreement = draft(s, "P-print", [offers["ik"]]).id
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    resp = client.get(f"/v1/agreements/{agreement}/print", headers=counsellor)
    assert resp.status_code == 200
    style = re.search(r"<style>(.*?)</style>", resp.text, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in resp.headers["Content-Security-Policy"]


def test_https_adds_hsts_and_a_secure_session_cookie(make_app):
    app = make_app(https=True)
    _user(app)
    client = app.test_client()
    # Under HTTPS Flask-WTF also checks the Referer (which Referrer-Policy: same-origin keeps).
    resp = _login(
        client,
        "berater",
        PASSWORD,
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
    )
    assert resp.status_code == 302
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- rate limits -------------------------------------------------------------------------


def test_failed_logins_are_limited_per_username_and_address(make_app):
    app = make_app(login_max_failures=3)
    _user(app)
    _user(app, "kollegin")
    now = [1_800_000_000.0]  # the start of a window
    app.extensions["lotse_rate_limits"].clock = lambda: now[0]
    client = app.test_client()
    for _ in range(3):
        assert _login(client, "berater", "wrong-guess").status_code == 401
    blocked = _login(client, "berater", PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) == 300  # until the window ends
    assert "Zu viele fehlgeschlagene Versuche" in blocked.text  # German by default
    # Another person at the same address, and the same name from another address, go on.
    assert _login(client, "kollegin", PASSWORD).status_code == 302
    other = app.test_client()
    elsewhere = {"environ_base": {"REMOTE_ADDR": "192.0.2.7"}}
    assert _login(other, "berater", PASSWORD, **elsewhere).status_code == 302
    now[0] += 300
    assert _login(client, "berater", PASSWORD).status_code == 302


def test_many_names_from_one_address_are_limited_too(make_app):
    app = make_app(login_max_failures=1)  # per address: 5 × 1
    client = app.test_client()
    codes = [_login(client, f"user{i}", "wrong-guess").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]


def test_failed_tokens_are_limited_per_address(make_app):
    app = make_app(token_max_failures=3)
    from lotse.accounts import create_token

    with transaction(app.extensions["lotse"].sessions) as s:
        good = {"Authorization": "Bearer " + create_token(s, "analyst")}
    now = [1_800_000_000.0]
    app.extensions["lotse_rate_limits"].clock = lambda: now[0]
    client = app.test_client()
    assert client.get("/v1/models").status_code == 401  # no token: not a failed token
    for bad in ("Bearer lotse_guess-1", "Basic dXNlcjpwdw==", "Bearer lotse_guess-2"):
        assert client.get("/v1/models", headers={"Authorization": bad}).status_code == 401
    resp = client.get("/v1/models", headers=good)
    assert resp.status_code == 429 and resp.mimetype == "application/problem+json"
    assert resp.get_json()["status"] == 429 and int(resp.headers["Retry-After"]) >= 1
    other = client.get("/v1/models", headers=good, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.status_code == 200
    assert client.get("/v1/offers").status_code == 200  # reading offers needs no token
    now[0] += 300
    assert client.get("/v1/models", headers=good).status_code == 200


def test_behind_a_proxy_the_forwarded_address_counts(make_app):
    app = make_app(token_max_failures=1, proxy_hops=1)
    client = app.test_client()
    bad = {"Authorization": "Bearer lotse_nope"}
    first = {**bad, "X-Forwarded-For": "198.51.100.1"}
    second = {**bad, "X-Forwarded-For": "198.51.100.2"}
    assert client.get("/v1/models", headers=first).status_code == 401
    assert client.get("/v1/models", headers=first).status_code == 429
    assert client.get("/v1/models", headers=second).status_code == 401


# --- size limits and failures ------------------------------------------------------------


def test_oversized_import_gets_413(app, client, make_token):
    agency = make_token("agency", agency_id="vhs-wetzlar")
    app.config["MAX_CONTENT_LENGTH"] = 4096
    header = b"external_id,title,category,organization,municipality,latitude,longitude\n"
    body = header + b"ik-1,Kurs,integration_course,VHS,Wetzlar,50.5,8.5\n" * 200
    resp = client.post(
        "/v1/offers/import?format=csv",
        data=body,
        headers={**agency, "Content-Type": "text/csv"},
    )
    assert resp.status_code == 413 and resp.mimetype == "application/problem+json"
    assert client.get("/v1/offers").get_json()["total"] == 0


SECRET = "Geheimname-Zyxw"


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(f"boom for {SECRET}"),
        IntegrityError(
            "INSERT INTO offers (title) VALUES (?)", {"title": SECRET}, Exception(SECRET)
        ),
        ProgrammingError("SELECT * FROM users WHERE name = ?", (SECRET,), Exception(SECRET)),
    ],
    ids=["runtime", "integrity", "programming"],
)
def test_internal_errors_leak_no_trace_or_sql(app, client, monkeypatch, error):
    from catalog import store

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(store, "search_offers", failing)
    resp = client.get("/v1/offers?q=x")
    assert resp.status_code == 500 and resp.mimetype == "application/problem+json"
    assert set(resp.get_json()) == {"type", "title", "status", "detail"}
    for leak in (SECRET, "Traceback", "INSERT", "SELECT", "sqlalchemy", ".py", "line "):
        assert leak not in resp.text


def test_internal_errors_on_pages_leak_nothing_either(make_app, monkeypatch):
    app = make_app()
    _user(app)
    client = app.test_client()
    assert _login(client, "berater", PASSWORD).status_code == 302
    from casework import referrals

    def failing(*args, **kwargs):
        raise ProgrammingError("SELECT secret FROM referrals", (SECRET,), Exception(SECRET))

    monkeypatch.setattr(referrals, "centre_referrals", failing)
    resp = client.get("/counsel/referrals")
    assert resp.status_code == 500 and resp.mimetype == "text/html"
    for leak in (SECRET, "Traceback", "SELECT", "sqlalchemy", ".py"):
        assert leak not in resp.text


# --- secrets: no public default, no empty value, no unsafe server ---------------------------


def _bare_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOTSE_", "PYTEST"))}
    env.update(extra)
    return env


def test_a_cookie_forged_with_the_old_published_default_is_nobody(client):
    """The review's critical finding: sessions were signed with a built-in string, so anyone
    could forge an admin cookie. Sessions are now random ids looked up on the server; a signed
    cookie, whatever its key, is nobody."""
    from flask.sessions import SecureCookieSessionInterface
    from itsdangerous import URLSafeTimedSerializer

    iface = SecureCookieSessionInterface()
    forger = URLSafeTimedSerializer(
        "dev-only-not-secret",
        salt=iface.salt,
        serializer=iface.serializer,
        signer_kwargs={
            "key_derivation": iface.key_derivation,
            "digest_method": iface.digest_method,
        },
    )
    cookie = forger.dumps(
        {"principal": {"role": "admin", "agency_id": None, "centre_id": None, "name": "x"}}
    )
    client.set_cookie("lotse_session", cookie)
    assert client.get("/v1/agreements").status_code == 401
    assert client.get("/v1/reports/monitoring").status_code == 401


def test_the_app_refuses_to_be_built_without_strong_secrets(sqlite_url, tmp_path, monkeypatch):
    from lotse.settings import UnsafeConfiguration
    from service.app import create_app

    monkeypatch.delenv("LOTSE_SECRET_KEY")
    monkeypatch.delenv("LOTSE_PSEUDONYM_SECRET")
    monkeypatch.chdir(tmp_path)
    config = {"data_dir": tmp_path, "database_url": sqlite_url}
    with pytest.raises(UnsafeConfiguration):
        create_app(config)
    with pytest.raises(UnsafeConfiguration, match="LOTSE_SECRET_KEY is a published default"):
        create_app({**config, "secret_key": "dev-only-not-secret"})


def test_readyz_fails_on_an_unsafe_configuration(sqlite_url, tmp_path, monkeypatch):
    """Only the command line builds an app without the check; should it ever answer
    requests, the load balancer sees it as not ready."""
    from service.app import create_app

    monkeypatch.setenv("LOTSE_PSEUDONYM_SECRET", "")
    monkeypatch.chdir(tmp_path)
    app = create_app({"data_dir": tmp_path, "database_url": sqlite_url}, check_secrets=False)
    try:
        resp = app.test_client().get("/readyz")
        assert resp.status_code == 503
        assert "configuration" in resp.get_json()["detail"]
        assert app.secret_key not in ("", None, "dev-only-not-secret")
    finally:
        app.extensions["lotse"].engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    "secrets_env",
    [
        {},  # unset
        {"LOTSE_SECRET_KEY": "", "LOTSE_PSEUDONYM_SECRET": ""},  # empty, as from .env.example
        {"LOTSE_SECRET_KEY": "dev-only-not-secret", "LOTSE_PSEUDONYM_SECRET": "x" * 40},
        {
            "LOTSE_SECRET_KEY": "Ab3" * 5,
            "LOTSE_PSEUDONYM_SECRET": "Zr8mW2qPx5LvN7cKt1bYh4sGj9dFe3Ua",
        },
    ],
    ids=["unset", "empty", "default", "short"],
)
def test_lotse_serve_refuses_to_start_with_unsafe_secrets(sqlite_url, tmp_path, secrets_env):
    env = _bare_env(LOTSE_DATABASE_URL=sqlite_url, LOTSE_DATA_DIR=str(tmp_path), **secrets_env)
    proc = subprocess.run(
        [sys.executable, "-c", "from service.cli import main; main()", "serve", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "refusing to serve" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for value in secrets_env.values():
        if len(value) > 3:
            assert value not in proc.stderr, "a secret was printed"


@pytest.mark.slow
def test_secrets_generate_makes_serving_safe(sqlite_url, tmp_path):
    env = _bare_env(LOTSE_DATABASE_URL=sqlite_url, LOTSE_DATA_DIR=str(tmp_path / "data"))
    lotse = [sys.executable, "-c", "from service.cli import main; main()"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*lotse, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    assert run("secrets", "check").returncode == 1
    made = run("secrets", "generate")
    assert made.returncode == 0 and "generated" in made.stdout
    path = tmp_path / "data" / "secrets.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    checked = run("secrets", "check")
    assert checked.returncode == 0, checked.stderr
