"""Web sessions on the server, revocation, and CSRF for cookie-authenticated API calls.

Every test runs on SQLite and PostgreSQL (``app`` is built on ``db_url``); "another server" is
a second app on the same database, as two ``lotse serve`` behind a load balancer would be.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from lotse.accounts import ApiToken, User, WebSession, create_token, create_user
from lotse.db import transaction
from tests.casework.cases import store_offers

PASSWORD = "right-password-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "lotse_session"


def _sessions(app):
    return app.extensions["lotse"].sessions


def _user(app, username: str = "berater", role: str = "counsellor") -> None:
    scope = {"centre_id": "mbe-wetzlar"} if role == "counsellor" else {}
    with transaction(_sessions(app)) as s:
        create_user(s, username, PASSWORD, role, **scope)


def _login(client, username: str = "berater", password: str = PASSWORD):
    token = CSRF.search(client.get("/login").text).group(1)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def _cookie(resp) -> str:
    """The session id the response sets (its ``Set-Cookie`` for ``lotse_session``)."""
    for header in resp.headers.getlist("Set-Cookie"):
        if header.startswith(COOKIE + "="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError("no session cookie set")


def _with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


@pytest.fixture
def other_app(app, db_url, tmp_path: Path):
    """A second server on the same database."""
    from service.app import create_app

    other = create_app({"TESTING": True, "data_dir": tmp_path, "database_url": db_url})
    yield other
    other.extensions["lotse"].engine.dispose()


# --- the cookie ------------------------------------------------------------------------------


def test_the_cookie_is_an_opaque_random_id_and_not_persistent(app, client):
    _user(app)
    resp = _login(client)
    assert resp.status_code == 302
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(COOKIE))
    value = _cookie(resp)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Expires" not in header and "Max-Age" not in header  # ends with the browser
    with _sessions(app)() as s:
        row = s.scalar(select(WebSession))
        assert row.id_hash == hashlib.sha256(value.encode()).hexdigest()
        assert value not in row.data  # the id itself is stored nowhere


def test_login_starts_a_new_session_id(app, client):
    """A session id known before the login (fixation) is worth nothing after it."""
    _user(app)
    client.get("/login")
    before = client.get_cookie(COOKIE).value
    after = _cookie(_login(client))
    assert after != before
    assert _with_cookie(app, before).get("/counsel/").status_code == 302


# --- revocation ------------------------------------------------------------------------------


def test_logout_ends_the_session_on_the_server(app, client):
    _user(app)
    cookie = _cookie(_login(client))
    page = client.get("/counsel/")
    assert page.status_code == 200
    client.post("/logout", data={"csrf_token": CSRF.search(page.text).group(1)})
    replay = _with_cookie(app, cookie)  # the old cookie, kept by someone
    assert replay.get("/counsel/").status_code == 302
    assert replay.get("/v1/agreements").status_code == 401
    with _sessions(app)() as s:
        assert s.scalar(select(WebSession).where(WebSession.user_id.is_not(None))) is None


def test_sessions_and_logouts_hold_on_every_server(app, other_app):
    _user(app)
    cookie = _cookie(_login(app.test_client()))
    elsewhere = _with_cookie(other_app, cookie)
    page = elsewhere.get("/counsel/")
    assert page.status_code == 200  # logged in on server 1, known on server 2
    assert elsewhere.get("/v1/agreements").status_code == 200
    elsewhere.post("/logout", data={"csrf_token": CSRF.search(page.text).group(1)})
    assert _with_cookie(app, cookie).get("/counsel/").status_code == 302


def test_idle_and_absolute_timeouts(app):
    _user(app)
    now = [datetime(2027, 3, 1, 8, 0, tzinfo=UTC).timestamp()]
    app.session_interface.clock = lambda: now[0]
    cookie = _cookie(_login(app.test_client()))
    client = _with_cookie(app, cookie)
    # Busy all day: a request every 50 minutes keeps the session (idle timeout 60 minutes)…
    for _ in range(9):
        assert client.get("/counsel/").status_code == 200
        now[0] += 50 * 60
    # … until eight hours after the login, however busy (8:00 + 9 × 50 min = 15:30; 16:10).
    now[0] += 40 * 60
    assert client.get("/counsel/").status_code == 302
    cookie = _cookie(_login(app.test_client()))
    client = _with_cookie(app, cookie)
    assert client.get("/counsel/").status_code == 200
    now[0] += 61 * 60  # idle for more than an hour
    assert client.get("/counsel/").status_code == 302


def test_ended_sessions_are_purged_at_the_next_login(app):
    _user(app)
    now = [datetime(2027, 3, 1, 8, 0, tzinfo=UTC).timestamp()]
    app.session_interface.clock = lambda: now[0]
    for _ in range(3):
        _login(app.test_client())
    now[0] += 2 * 3600
    _login(app.test_client())
    with _sessions(app)() as s:
        assert len(s.scalars(select(WebSession).where(WebSession.user_id.is_not(None))).all()) == 1


def test_a_deleted_user_loses_access_at_once(app):
    _user(app)
    cookie = _cookie(_login(app.test_client()))
    with transaction(_sessions(app)) as s:
        s.execute(delete(User).where(User.username == "berater"))
    assert _with_cookie(app, cookie).get("/v1/agreements").status_code == 401


def test_disabling_a_user_ends_their_sessions_and_tokens_at_once(app, other_app, runner):
    _user(app)
    cookie = _cookie(_login(app.test_client()))
    with transaction(_sessions(app)) as s:
        token = create_token(s, "counsellor", centre_id="mbe-wetzlar", user="berater")
    bearer = {"Authorization": f"Bearer {token}"}
    assert other_app.test_client().get("/v1/agreements", headers=bearer).status_code == 200
    result = runner.invoke(args=["users", "disable", "berater"])
    assert result.exit_code == 0, result.output
    assert "1 session" in result.output and "1 token" in result.output
    assert _with_cookie(other_app, cookie).get("/counsel/").status_code == 302
    assert other_app.test_client().get("/v1/agreements", headers=bearer).status_code == 401
    assert _login(other_app.test_client()).status_code == 401  # the right password, refused
    listed = runner.invoke(args=["users", "list"])
    assert "berater" in listed.output and "disabled" in listed.output
    assert runner.invoke(args=["users", "enable", "berater"]).exit_code == 0
    assert _login(other_app.test_client()).status_code == 302
    assert other_app.test_client().get("/v1/agreements", headers=bearer).status_code == 401


def test_revoked_tokens_get_401(app, client, runner):
    with transaction(_sessions(app)) as s:
        token = create_token(s, "analyst", label="nightly report")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/models", headers=bearer).status_code == 200
    listed = runner.invoke(args=["tokens", "list"])
    assert listed.exit_code == 0 and "nightly report" in listed.output
    assert token not in listed.output  # only ids and labels, never a token
    with _sessions(app)() as s:
        token_id = s.scalar(select(ApiToken.id))
    revoked = runner.invoke(args=["tokens", "revoke", str(token_id)])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/v1/models", headers=bearer).status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output
    assert runner.invoke(args=["tokens", "revoke", "99999"]).exit_code != 0


def test_a_new_password_ends_the_users_sessions(app, runner, monkeypatch):
    _user(app)
    cookie = _cookie(_login(app.test_client()))
    monkeypatch.setenv("LOTSE_PASSWORD", "another-password-2")
    result = runner.invoke(args=["users", "passwd", "berater"])
    assert result.exit_code == 0, result.output
    assert _with_cookie(app, cookie).get("/counsel/").status_code == 302
    assert _login(app.test_client()).status_code == 401
    assert _login(app.test_client(), password="another-password-2").status_code == 302


# --- CSRF on cookie-authenticated API writes -------------------------------------------------


def _recommendation(app) -> dict:
    with transaction(_sessions(app)) as s:
        store_offers(s)
    profile = {"person_ref": "P-csrf", "age": 30, "location": {"place": "Wetzlar"},
               "needs": ["Deutschkurs"]}  # fmt: skip
    return {"profile": profile, "k": 3}


def test_cookie_api_writes_need_the_csrf_token_and_the_same_origin(app, client):
    _user(app)
    body = _recommendation(app)
    _login(client)
    token = CSRF.search(client.get("/counsel/").text).group(1)
    url = "/v1/recommendations"
    # The review's reproduction: a cross-site form post (text/plain, foreign Origin).
    forged = client.post(
        url,
        data='{"profile": {"age": 30}, "x": "="}',
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert forged.status_code == 403 and forged.mimetype == "application/problem+json"
    assert client.post(url, json=body).status_code == 403  # no token
    assert client.post(url, json=body, headers={"X-CSRFToken": "forged"}).status_code == 403
    foreign = {"X-CSRFToken": token, "Origin": "https://evil.example"}
    assert client.post(url, json=body, headers=foreign).status_code == 403
    referer = {"X-CSRFToken": token, "Referer": "https://evil.example/page"}
    assert client.post(url, json=body, headers=referer).status_code == 403
    same = {"X-CSRFToken": token, "Origin": "http://localhost"}
    assert client.post(url, json=body, headers=same).status_code == 200
    assert client.post(url, json=body, headers={"X-CSRFToken": token}).status_code == 200
    assert client.get("/v1/agreements").status_code == 200  # reads need no token


def test_bearer_api_calls_need_no_csrf_token(app, client, make_token):
    body = _recommendation(app)
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    headers = {**counsellor, "Origin": "https://elsewhere.example"}
    assert client.post("/v1/recommendations", json=body, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_json_endpoints_refuse_other_content_types(app, client, make_token, content_type):
    body = '{"profile": {"age": 30, "location": {"place": "Wetzlar"}, "needs": ["Kita"]}}'
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    resp = client.post(
        "/v1/recommendations", data=body, headers={**counsellor, "Content-Type": content_type}
    )
    assert resp.status_code == 415 and resp.mimetype == "application/problem+json"
    agency = make_token("agency", agency_id="vhs-wetzlar")
    resp = client.post("/v1/offers", data="{}", headers={**agency, "Content-Type": content_type})
    assert resp.status_code == 415


def test_merge_patch_json_is_json_too(app, client, make_token):
    agency = make_token("agency", agency_id="vhs-wetzlar")
    from tests.factories import offer_data

    offer = client.post("/v1/offers", json=offer_data(), headers=agency).get_json()
    resp = client.patch(
        f"/v1/offers/{offer['id']}",
        data='{"capacity_free": 1}',
        headers={**agency, "Content-Type": "application/merge-patch+json", "If-Match": "1"},
    )
    assert resp.status_code == 200, resp.text


def test_the_session_data_stays_on_the_server(app, client):
    """The language, the CSRF secret and the login live in the table, not in the cookie."""
    _user(app)
    page = client.get("/login")
    client.post("/language", data={"lang": "en", "csrf_token": CSRF.search(page.text).group(1)})
    cookie = _cookie(_login(client))
    assert 'lang="en"' in client.get("/counsel/").text
    with _sessions(app)() as s:
        row = s.scalar(select(WebSession).where(WebSession.user_id.is_not(None)))
    assert "en" in row.data and "csrf_token" in row.data
    assert len(cookie) == 43
    assert row.expires_at <= datetime.now(UTC) + timedelta(hours=1, minutes=1)
