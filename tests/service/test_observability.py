"""``/metrics``, request ids, the access log, and the proof that no personal data is logged."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from lotse.db import transaction
from service.observability import Metrics, gunicorn_child_exit, prepare_multiprocess_dir
from tests.factories import offer_data
from tests.matcher.catalogue import SCENARIO, nurse_profile, store_offers

ROOT = Path(__file__).resolve().parents[2]
CSV_HEADER = "external_id,title,category,organization,municipality,latitude,longitude\n"
GOOD_ROWS = (
    "cafe-1,Sprachcafé am Dom,language_cafe,VHS,Wetzlar,50.5558,8.5047\n"
    "cafe-2,Sprachcafé am Markt,language_cafe,VHS,Wetzlar,50.5558,8.5047\n"
)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """``{(sample name, labels): value}`` of a Prometheus text exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def catalogue(app):
    future = {k: {**v} for k, v in SCENARIO.items()}
    for v in future.values():  # keep the scenario valid whatever today is
        if v.get("end_date"):
            v["end_date"] = "2099-12-31"
    with transaction(app.extensions["lotse"].sessions) as session:
        return store_offers(session, future)


# --- request ids -------------------------------------------------------------------------


def test_request_id_is_kept_when_sane_and_made_otherwise(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42:1"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.42:1"
    for insane in ("two words", "x" * 200, "ü-umlaut", "<script>"):
        made = client.get("/healthz", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
        assert made != insane and len(made) == 32
    first, second = (client.get("/healthz").headers["X-Request-ID"] for _ in range(2))
    assert first != second


# --- metrics -----------------------------------------------------------------------------


def test_metrics_count_requests_by_rule_recommendations_and_imports(client, make_token, catalogue):
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    agency = make_token("agency", agency_id="vhs-wetzlar")
    for offer_id in list(catalogue.values())[:3]:
        assert client.get(f"/v1/offers/{offer_id}").status_code == 200
    assert client.get("/v1/offers/no-such-offer").status_code == 404
    assert client.get("/nowhere/at/all").status_code == 404
    for _ in range(2):
        resp = client.post(
            "/v1/recommendations", json={"profile": nurse_profile()}, headers=counsellor
        )
        assert resp.status_code == 200
    version = resp.get_json()["model_version"]
    csv_headers = {**agency, "Content-Type": "text/csv"}
    url = "/v1/offers/import?format=csv"
    written = client.post(url, data=CSV_HEADER + GOOD_ROWS, headers=csv_headers)
    assert written.get_json()["created"] == 2
    bad = "cafe-3,Sprachcafé,language_caf,VHS,Wetzlar,50.5558,8.5047\n"
    assert client.post(url, data=CSV_HEADER + bad, headers=csv_headers).status_code == 422
    client.post(url + "&dry_run=true", data=CSV_HEADER + GOOD_ROWS, headers=csv_headers)

    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    found = samples(resp.text)
    count = "lotse_http_request_duration_seconds_count"
    rule = "/v1/offers/<offer_id>"
    assert value(found, count, method="GET", endpoint=rule, status_class="2xx") == 3
    assert value(found, count, method="GET", endpoint=rule, status_class="4xx") == 1
    assert value(found, count, method="GET", endpoint="<unmatched>", status_class="4xx") == 1
    assert not any(offer_id in resp.text for offer_id in catalogue.values())
    assert value(found, "lotse_recommendations_total", model_version=version) == 2
    assert value(found, "lotse_model_serving", version=version) == 1
    assert value(found, "lotse_imports_total", outcome="written") == 1
    assert value(found, "lotse_imports_total", outcome="rejected") == 1
    assert value(found, "lotse_imports_total", outcome="dry_run") == 1
    assert value(found, "lotse_import_rows_total", result="created") == 2
    assert value(found, "lotse_import_rows_total", result="rejected") == 1
    assert value(found, "lotse_import_rows_total", result="updated") == 0


def test_metrics_is_documented_in_openapi(client):
    doc = client.get("/openapi.json").get_json()
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


@pytest.fixture
def multiprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Multiprocess mode in this process, undone afterwards (other tests use plain values)."""
    folder = tmp_path / "prom"
    folder.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    previous = values.ValueClass
    yield folder
    values.ValueClass = previous
    values.close_all_multiprocess_files()


def test_multiprocess_mode_adds_up_all_workers(multiprocess):
    """Two workers (told apart by their process id) write their own files; any one of them
    answers /metrics with the sum."""
    workers = []
    for n, (pid, model) in enumerate(((1001, "v6"), (1002, "v7")), start=1):
        # Labelled values are made on first use, with the value class in force then.
        values.ValueClass = values.MultiProcessValue(process_identifier=lambda pid=pid: pid)
        m = Metrics()
        for _ in range(n):
            m.request_seconds.labels("GET", "/v1/offers", "2xx").observe(0.01)
        m.recommendations.labels(model_version="v7").inc(n)
        m.note_model(model)
        workers.append(m)
    body, _content_type = workers[0].exposition()
    found = samples(body.decode())
    count = "lotse_http_request_duration_seconds_count"
    assert value(found, count, method="GET", endpoint="/v1/offers", status_class="2xx") == 3
    assert value(found, "lotse_recommendations_total", model_version="v7") == 3
    assert value(found, "lotse_model_serving", version="v6") == 1  # mid-switch: both show
    assert value(found, "lotse_model_serving", version="v7") == 1
    assert {p.name.rsplit("_", 1)[-1] for p in multiprocess.glob("*.db")} == {
        "1001.db",
        "1002.db",
    }

    class Worker:
        pid = 1001

    gunicorn_child_exit(None, Worker())  # worker 1001 died: its live gauge goes
    found = samples(workers[1].exposition()[0].decode())
    assert value(found, "lotse_model_serving", version="v6") == 0
    assert value(found, "lotse_recommendations_total", model_version="v7") == 3  # counters stay


def test_serve_prepares_a_fresh_metrics_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    folder = prepare_multiprocess_dir(tmp_path, 8123)
    assert folder.parent == tmp_path / "metrics" and folder.name.endswith("-8123")
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)
    (folder / "counter_99.db").write_bytes(b"old")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert not any(prepare_multiprocess_dir(tmp_path, 8123).iterdir())  # emptied at start
    chosen = tmp_path / "ops-choice"
    chosen.mkdir()
    (chosen / "gauge_livemax_5.db").write_bytes(b"old")
    (chosen / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(chosen))
    assert prepare_multiprocess_dir(tmp_path, 8123) == chosen
    assert [p.name for p in chosen.iterdir()] == ["keep.txt"]


# --- logs --------------------------------------------------------------------------------

PERSON_REF = "PERSONREF-Quokka-4711"
PROFESSION = "Glasbläsermeisterin-Xylem"
USERNAME = "login-name-wombat"
OFFER_TITLE = "Angebotstitel-Narwal-Kurs"
BAD_TOKEN = "lotse_badtoken-Axolotl-0042"
QUERY_TEXT = "suchtext-Pangolin"
SECRETS = (PERSON_REF, PROFESSION, USERNAME, OFFER_TITLE, BAD_TOKEN, "Axolotl", QUERY_TEXT)


@pytest.fixture
def json_app(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOTSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    from service.app import create_app

    app = create_app(
        {
            "TESTING": True,
            "data_dir": tmp_path,
            "database_url": db_url,
            "log_format": "json",
            "log_level": "DEBUG",
        }
    )
    yield app
    app.extensions["lotse"].engine.dispose()


def test_no_personal_data_reaches_the_log(json_app, caplog, monkeypatch):
    app = json_app
    written = io.StringIO()
    app.extensions["lotse_log_handler"].setStream(written)
    caplog.set_level(logging.DEBUG, logger="lotse")
    from lotse.accounts import create_token

    with transaction(app.extensions["lotse"].sessions) as s:
        store_offers(s, {"ik": offer_data(end_date="2099-12-31")})
        counsellor = {
            "Authorization": "Bearer " + create_token(s, "counsellor", None, "mbe-wetzlar")
        }
        agency = {"Authorization": "Bearer " + create_token(s, "agency", "vhs-wetzlar")}
    client = app.test_client()

    profile = nurse_profile(person_ref=PERSON_REF, profession=PROFESSION)
    resp = client.post("/v1/recommendations", json={"profile": profile}, headers=counsellor)
    assert resp.status_code == 200
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    login = client.post(
        "/login", data={"username": USERNAME, "password": "wrong-pw-1", "csrf_token": token}
    )
    assert login.status_code == 401
    offer = client.post(
        "/v1/offers", json=offer_data(external_id="n-1", title=OFFER_TITLE), headers=agency
    )
    assert offer.status_code == 201
    bad = client.get("/v1/models", headers={"Authorization": f"Bearer {BAD_TOKEN}"})
    assert bad.status_code == 401
    assert client.get(f"/v1/offers?q={QUERY_TEXT}").status_code == 200
    export = client.get(f"/v1/persons/{PERSON_REF}/export", headers=counsellor)
    assert export.status_code == 200
    query = {"person_ref": PERSON_REF}
    assert (
        client.get("/v1/persons/export", query_string=query, headers=counsellor).status_code == 200
    )
    erase = client.post("/v1/persons/erase", json={"person_ref": PERSON_REF}, headers=counsellor)
    assert erase.status_code == 200
    # A failure inside a request with the person in its path and in the exception message.
    from casework import privacy

    def failing(*args, **kwargs):
        raise RuntimeError(f"could not export {PERSON_REF}")

    monkeypatch.setattr(privacy, "export_person", failing)
    assert client.get(f"/v1/persons/{PERSON_REF}/export", headers=counsellor).status_code == 500

    handler_output = written.getvalue()
    captured = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in SECRETS:
        assert secret not in handler_output, secret
        assert secret not in captured, secret

    lines = [json.loads(line) for line in handler_output.splitlines()]
    access = [e for e in lines if e["logger"] == "lotse.access"]
    assert len(access) >= 8
    for entry in access:
        assert {"ts", "level", "request_id", "method", "endpoint", "status", "duration_ms"} <= set(
            entry
        )
    assert {e["endpoint"] for e in access} >= {
        "/v1/recommendations",
        "/login",
        "/v1/offers",
        "/v1/models",
        "/v1/persons/<path:person_ref>/export",
        "/v1/persons/export",
        "/v1/persons/erase",
    }
    failure = next(e for e in lines if e["level"] == "ERROR")
    assert failure["endpoint"] == "/v1/persons/<path:person_ref>/export"
    assert failure["error"]["type"] == "builtins.RuntimeError" and failure["error"]["stack"]
    assert "message" not in failure["error"]
    assert failure["request_id"] in {e["request_id"] for e in access if e["status"] == 500}


def test_text_format_is_readable_and_carries_the_request_id(app, client):
    written = io.StringIO()
    app.extensions["lotse_log_handler"].setStream(written)
    resp = client.get("/v1/offers/some-id", headers={"X-Request-ID": "req-1234"})
    assert resp.status_code == 404
    line = written.getvalue().strip().splitlines()[-1]
    assert "[req-1234]" in line and "GET /v1/offers/<offer_id> 404" in line
    assert "some-id" not in line


# --- lotse serve ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_lotse_serve_logs_json_and_adds_up_metrics_of_its_workers(sqlite_url, tmp_path):
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PROMETHEUS_MULTIPROC_DIR", "LOTSE_LOG_FORMAT") and not k.startswith("PYTEST")
    }
    env.update(LOTSE_DATABASE_URL=sqlite_url, LOTSE_DATA_DIR=str(tmp_path))
    stale = tmp_path / "metrics" / f"{socket.gethostname()}-{port}"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"from an old run")
    log_path = tmp_path / "serve.log"
    lotse = [sys.executable, "-c", "from service.cli import main; main()"]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [*lotse, "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "lotse serve did not come up"
                time.sleep(0.2)
        for i in range(20):
            req = urllib.request.Request(base + "/v1/offers", headers={"X-Request-ID": f"r-{i}"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.headers["X-Request-ID"] == f"r-{i}"
        found = samples(urllib.request.urlopen(base + "/metrics", timeout=10).read().decode())
    finally:
        server.terminate()
        server.wait(timeout=30)
    count = "lotse_http_request_duration_seconds_count"
    assert value(found, count, method="GET", endpoint="/v1/offers", status_class="2xx") == 20
    assert value(found, "lotse_model_serving", version="rules-v2") == 1
    assert not (stale / "counter_1.db").exists()
    entries = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    ids = {e.get("request_id") for e in entries if e.get("logger") == "lotse.access"}
    assert {f"r-{i}" for i in range(20)} <= ids
