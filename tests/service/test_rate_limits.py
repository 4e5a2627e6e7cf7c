"""Rate limits counted in the database: anonymous reads, exports, failed logins and tokens hold
across processes and servers (two apps on one database stand for two servers)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lotse import ratelimits
from lotse.accounts import create_token, create_user
from lotse.db import make_engine, make_session_factory, transaction
from lotse.ratelimits import RateCounter

PASSWORD = "right-password-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
T0 = 1_800_000_000.0  # a moment at the start of a minute and of an hour


@pytest.fixture
def servers(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``servers(n, **settings)``: n apps on one database, all on one settable clock."""
    monkeypatch.setenv("LOTSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    from service.app import create_app

    made = []
    now = [T0]

    def _make(n: int = 2, **config):
        apps = []
        for _ in range(n):
            app = create_app(
                {"TESTING": True, "data_dir": tmp_path, "database_url": db_url, **config}
            )
            app.extensions["lotse_rate_limits"].clock = lambda: now[0]
            apps.append(app)
        made.extend(apps)
        return apps

    _make.now = now  # type: ignore[attr-defined]
    yield _make
    for app in made:
        app.extensions["lotse"].engine.dispose()


def _login(client, username: str, password: str):
    token = CSRF.search(client.get("/login").text).group(1)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


# --- the store -------------------------------------------------------------------------------


def test_counts_from_many_connections_add_up(db_url):
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(4)
    errors = []

    def count_25() -> None:
        try:
            barrier.wait()
            for _ in range(25):
                with transaction(factory) as s:
                    ratelimits.count(s, "anon:192.0.2.1", 60, T0 + 5)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=count_25) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with transaction(factory) as s:
        assert ratelimits.peek(s, "anon:192.0.2.1", 60, T0 + 59) == ratelimits.Window(100, 1)
        assert ratelimits.peek(s, "anon:192.0.2.1", 60, T0 + 60).count == 0  # a new window
        assert ratelimits.count(s, "anon:192.0.2.1", 60, T0 + 61).count == 1
        assert ratelimits.purge_expired(s, T0 + 60) == 1  # the ended window only
        assert s.scalar(select(func.count()).select_from(RateCounter)) == 1
    engine.dispose()


# --- anonymous reads -------------------------------------------------------------------------


def test_anonymous_reads_are_limited_per_address_across_servers(servers):
    one, two = servers(anon_reads_per_minute=3)
    a, b = one.test_client(), two.test_client()
    assert a.get("/v1/offers?q=Kurs").status_code == 200
    assert b.get("/hsds/services").status_code == 200
    assert a.get("/v1/offers").status_code == 200
    refused = b.get("/v1/offers?q=Kurs")  # the fourth in this minute, on the other server
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert a.get("/hsds/services").status_code == 429
    other = {"environ_base": {"REMOTE_ADDR": "192.0.2.8"}}
    assert a.get("/v1/offers", **other).status_code == 200  # another address
    servers.now[0] += 60
    assert a.get("/v1/offers").status_code == 200  # a new minute


def test_clients_with_credentials_are_not_counted_as_anonymous(servers):
    (app,) = servers(1, anon_reads_per_minute=1)
    with transaction(app.extensions["lotse"].sessions) as s:
        bearer = {"Authorization": "Bearer " + create_token(s, "analyst")}
        create_user(s, "vhs", PASSWORD, "agency", agency_id="vhs-wetzlar")
    client = app.test_client()
    assert client.get("/v1/offers").status_code == 200
    assert client.get("/v1/offers").status_code == 429
    for _ in range(3):
        assert client.get("/v1/offers", headers=bearer).status_code == 200
    assert _login(client, "vhs", PASSWORD).status_code == 302
    assert client.get("/v1/offers?q=Kurs").status_code == 200  # logged in with the cookie


def test_zero_turns_the_anonymous_limit_off(servers):
    (app,) = servers(1, anon_reads_per_minute=0, exports_per_hour=0)
    client = app.test_client()
    for _ in range(5):
        assert client.get("/v1/offers?q=x").status_code == 200
        assert _export(app) == 200
    with app.extensions["lotse"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(RateCounter)) == 0


def _export(app, query: str = "", **kwargs) -> int:
    """The status of an export, read to its end (a streamed response holds its context)."""
    resp = app.test_client().get("/v1/offers/export" + query, **kwargs)
    resp.get_data()
    resp.close()
    return resp.status_code


def test_exports_are_streamed_and_limited_per_client(servers):
    one, two = servers(exports_per_hour=2, anon_reads_per_minute=0)
    with transaction(one.extensions["lotse"].sessions) as s:
        bearer = {"Authorization": "Bearer " + create_token(s, "admin")}
    first = one.test_client().get("/v1/offers/export?format=json")
    assert first.status_code == 200 and first.is_streamed
    assert first.get_json() == []
    first.close()
    assert _export(two) == 200
    refused = one.test_client().get("/v1/offers/export?format=hsds")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    # A token is a client of its own, with its own allowance.
    assert _export(two, headers=bearer) == 200
    servers.now[0] += 3600
    assert _export(one) == 200


#: One read of each of the eleven HSDS operations (unknown ids: a 404 is a read too).
HSDS_READS = (
    "/hsds/",
    "/hsds/services",
    "/hsds/services/x",
    "/hsds/organizations",
    "/hsds/organizations/x",
    "/hsds/service_at_locations",
    "/hsds/service_at_locations/x",
    "/hsds/taxonomies",
    "/hsds/taxonomies/x",
    "/hsds/taxonomy_terms",
    "/hsds/taxonomy_terms/x",
)


def test_every_hsds_operation_counts_as_an_anonymous_read(servers):
    (app,) = servers(1, anon_reads_per_minute=len(HSDS_READS))
    client = app.test_client()
    for url in HSDS_READS:
        assert client.get(url).status_code in (200, 404), url
    for url in HSDS_READS:
        refused = client.get(url)
        assert refused.status_code == 429 and "Retry-After" in refused.headers, url
    doc = client.get("/openapi.json").get_json()  # the document is no catalogue read
    paths = [p for p in doc["paths"] if p.startswith("/hsds/")]
    assert len(paths) == len(HSDS_READS)
    for path in paths:
        assert "429" in doc["paths"][path]["get"]["responses"], path


def _read(app, url: str, **kwargs) -> int:
    """The status of a read, read to its end (a streamed response holds its context)."""
    resp = app.test_client().get(url, **kwargs)
    resp.get_data()
    resp.close()
    return resp.status_code


def test_hsds_ndjson_lists_count_as_exports(servers):
    """A list with format=ndjson is the whole catalogue without pages: an export."""
    (app,) = servers(1, exports_per_hour=2, anon_reads_per_minute=0)
    with transaction(app.extensions["lotse"].sessions) as s:
        bearer = {"Authorization": "Bearer " + create_token(s, "analyst")}
    assert _read(app, "/hsds/services?format=ndjson&full=true") == 200
    assert _read(app, "/hsds/service_at_locations?format=ndjson") == 200
    refused = app.test_client().get("/hsds/organizations?format=ndjson&full_service=true")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    assert _export(app) == 429  # one allowance with /v1/offers/export
    assert _read(app, "/hsds/services?per_page=100") == 200  # pages are no export
    assert _read(app, "/hsds/services?format=ndjson", headers=bearer) == 200  # its own


# --- failed logins and tokens ----------------------------------------------------------------


def test_failed_logins_count_on_every_server(servers):
    one, two = servers(login_max_failures=2)
    with transaction(one.extensions["lotse"].sessions) as s:
        create_user(s, "berater", PASSWORD, "counsellor", centre_id="mbe-wetzlar")
    assert _login(one.test_client(), "berater", "wrong-guess-1").status_code == 401
    assert _login(two.test_client(), "berater", "wrong-guess-2").status_code == 401
    blocked = _login(one.test_client(), "berater", PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert _login(two.test_client(), "berater", PASSWORD).status_code == 429
    servers.now[0] += 300
    assert _login(two.test_client(), "berater", PASSWORD).status_code == 302


def test_failed_tokens_count_on_every_server(servers):
    one, two = servers(token_max_failures=2)
    with transaction(one.extensions["lotse"].sessions) as s:
        good = {"Authorization": "Bearer " + create_token(s, "analyst")}
    bad = {"Authorization": "Bearer lotse_guess"}
    assert one.test_client().get("/v1/models", headers=bad).status_code == 401
    assert two.test_client().get("/v1/models", headers=bad).status_code == 401
    assert one.test_client().get("/v1/models", headers=good).status_code == 429
    assert two.test_client().get("/v1/models", headers=good).status_code == 429


def test_a_bad_token_does_not_escape_the_anonymous_limit(servers):
    (app,) = servers(1, anon_reads_per_minute=1, token_max_failures=0)
    client = app.test_client()
    bogus = {"Authorization": "Bearer lotse_made-up"}
    assert client.get("/v1/offers", headers=bogus).status_code == 200  # public: no 401
    assert client.get("/v1/offers", headers=bogus).status_code == 429
