"""``POST /v1/offers/import`` and ``GET /v1/offers/export``: scope, reports, refusals."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from catalog.schema import OFFER_FIELDS
from tests.catalog.test_importing import courses, csv_text

CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def vhs(make_token):
    return {**make_token("agency", agency_id="vhs-wetzlar"), **CSV}


def total(client) -> int:
    return client.get("/v1/offers").get_json()["total"]


def test_agency_imports_csv_into_its_own_agency(client, vhs):
    resp = client.post("/v1/offers/import", data=csv_text(courses(3)), headers=vhs)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["created"], body["updated"], body["unchanged"]) == (3, 0, 0)
    assert body["written"] and body["rejected"] == [] and body["duplicates"] == []
    items = client.get("/v1/offers?agency_id=vhs-wetzlar").get_json()["items"]
    assert len(items) == 3
    again = client.post("/v1/offers/import", data=csv_text(courses(3)), headers=vhs).get_json()
    assert (again["created"], again["unchanged"]) == (0, 3)
    history = client.get(f"/v1/offers/{items[0]['id']}/history").get_json()["changes"]
    assert [c["action"] for c in history] == ["import"]


def test_atomic_rejection_is_422_with_the_full_report(client, vhs):
    rows = courses(3)
    rows[2]["min_age"] = 70
    rows[2]["max_age"] = 60
    resp = client.post("/v1/offers/import", data=csv_text(rows), headers=vhs)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["report"]["rejected"] == [
        {"row": 3, "field": "min_age", "message": "min_age 70 is above max_age 60", "line": 4}
    ]
    assert problem["report"]["created"] == 2 and not problem["report"]["written"]
    assert problem["errors"][0]["field"] == "row 3.min_age"
    assert total(client) == 0
    partial = client.post("/v1/offers/import?mode=partial", data=csv_text(rows), headers=vhs)
    assert partial.status_code == 200 and partial.get_json()["created"] == 2
    assert total(client) == 2


def test_dry_run_writes_nothing(client, vhs):
    resp = client.post("/v1/offers/import?dry_run=true", data=csv_text(courses(2)), headers=vhs)
    assert resp.status_code == 200
    assert resp.get_json()["created"] == 2 and resp.get_json()["dry_run"]
    assert total(client) == 0


@pytest.mark.parametrize(
    "body,detail",
    [
        (csv_text(courses(1)).encode("utf-16"), "not UTF-8"),
        (csv_text(courses(1), columns=("title", "category")), "missing required column(s)"),
        (csv_text(courses(1)).replace("street", "strasse"), "unknown column(s): 'strasse'"),
        (csv_text(courses(1)) + 'x,"a"b\n', "check the quoting"),
        ("", "empty"),
    ],
)
def test_unreadable_files_are_400_and_write_nothing(client, vhs, body, detail):
    resp = client.post("/v1/offers/import?mode=partial", data=body, headers=vhs)
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    assert detail in resp.get_json()["detail"]
    assert total(client) == 0


def test_scope_roles_and_parameters(client, vhs, make_token):
    body = csv_text(courses(1))
    other = {**make_token("agency", agency_id="awo"), **CSV}
    resp = client.post("/v1/offers/import?agency_id=vhs-wetzlar", data=body, headers=other)
    assert resp.status_code == 403
    assert client.post("/v1/offers/import", data=body, headers=CSV).status_code == 401
    counsellor = {**make_token("counsellor", centre_id="mbe"), **CSV}
    assert client.post("/v1/offers/import", data=body, headers=counsellor).status_code == 403
    admin = {**make_token("admin"), **CSV}
    resp = client.post("/v1/offers/import", data=body, headers=admin)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "agency_id"
    resp = client.post("/v1/offers/import?agency_id=vhs-wetzlar", data=body, headers=admin)
    assert resp.status_code == 200 and resp.get_json()["created"] == 1
    resp = client.post("/v1/offers/import?mode=sometimes", data=body, headers=vhs)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "mode"
    assert total(client) == 1


def test_json_body_and_hsds_category_parameter(client, vhs, hsds_dir):
    items = json.dumps(courses(2))
    headers = {**vhs, "Content-Type": "application/json"}
    resp = client.post("/v1/offers/import", data=items, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["created"] == 2
    service = json.loads((hsds_dir / "examples/service_full.json").read_text())
    resp = client.post("/v1/offers/import", data=json.dumps(service), headers=headers)
    assert resp.status_code == 422  # recognised as HSDS by its content
    assert any("pass category=CODE" in r["message"] for r in resp.get_json()["report"]["rejected"])
    resp = client.post("/v1/offers/import?format=hsds&category=kita", data="[]", headers=headers)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "category"


def test_too_large_bodies_are_413(app, client, vhs):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post("/v1/offers/import", data=csv_text(courses(20)), headers=vhs)
    assert resp.status_code == 413 and resp.mimetype == "application/problem+json"
    assert total(client) == 0


def test_export_csv_needs_no_token_and_round_trips(client, vhs):
    rows = courses(3)
    rows[1]["status"] = "inactive"
    client.post("/v1/offers/import", data=csv_text(rows), headers=vhs)
    resp = client.get("/v1/offers/export?format=csv&agency_id=vhs-wetzlar")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="lotse-offers-')
    table = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["external_id"] for r in table] == ["ik-1", "ik-3"]
    assert tuple(table[0]) == OFFER_FIELDS
    again = client.post("/v1/offers/import", data=resp.get_data(), headers=vhs).get_json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    for fmt in ("json", "hsds"):
        resp = client.get(f"/v1/offers/export?format={fmt}")
        assert resp.status_code == 200 and resp.mimetype == "application/json"
        assert len(resp.get_json()) == 2
    assert client.get("/v1/offers/export?format=xlsx").status_code == 422


def test_openapi_documents_the_bulk_operations(client):
    doc = client.get("/openapi.json").get_json()
    imp = doc["paths"]["/v1/offers/import"]["post"]
    assert set(imp["requestBody"]["content"]) == {"text/csv", "application/json", "application/zip"}
    params = {p["name"]: p for p in imp["parameters"]}
    assert set(params) >= {"format", "dry_run", "mode", "agency_id"}
    assert "hsds-tabular" in json.dumps(params["format"]["schema"])
    assert imp["security"] == [{"bearer": []}]
    assert "200" in imp["responses"] and "422" in imp["responses"]
    export = doc["paths"]["/v1/offers/export"]["get"]
    assert {"text/csv", "application/zip"} <= set(export["responses"]["200"]["content"])


def test_hsds_tabular_packages_are_exported_and_imported(client, vhs, make_token, hsds_dir):
    client.post("/v1/offers/import", data=csv_text(courses(2)), headers=vhs)
    resp = client.get("/v1/offers/export?format=hsds-tabular&agency_id=vhs-wetzlar")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.headers["Content-Disposition"].endswith('.hsds.zip"')
    package = resp.get_data()
    resp.close()  # a streamed response holds its request's database session until closed
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        services = list(csv.DictReader(io.StringIO(archive.read("services.csv").decode())))
    assert [s["name"] for s in services] == ["Integrationskurs Nr. 1", "Integrationskurs Nr. 2"]

    awo = {**make_token("agency", agency_id="awo"), "Content-Type": "application/zip"}
    resp = client.post("/v1/offers/import", data=package, headers=awo)  # recognised as a ZIP
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["created"] == 2 and resp.get_json()["duplicates"]
    url = "/v1/offers/import?format=hsds-tabular&dry_run=true"
    resp = client.post(url, data=package, headers=awo)
    assert resp.get_json()["unchanged"] == 2
    assert total(client) == 4

    resp = client.post("/v1/offers/import", data=package[:200], headers=awo)
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    assert "not a readable ZIP" in resp.get_json()["detail"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("../../services.csv", "id,name\n")
    resp = client.post("/v1/offers/import?format=hsds-tabular", data=buf.getvalue(), headers=awo)
    assert resp.status_code == 400 and "unsafe path" in resp.get_json()["detail"]
    resp = client.post("/v1/offers/import?format=hsds-tabular", data="a,b", headers=awo)
    assert resp.status_code == 400
    # the standard's example package: readable, but in Britain and without a Lotse category
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path in (hsds_dir / "examples/csv").iterdir():
            archive.write(path, path.name)
    resp = client.post("/v1/offers/import", data=buf.getvalue(), headers=awo)
    assert resp.status_code == 422
    assert {r["field"] for r in resp.get_json()["report"]["rejected"]} >= {"category", "latitude"}
    assert total(client) == 4


def test_csv_download_cannot_run_formulas_and_imports_back(client, vhs):
    title = '=HYPERLINK("https://evil.example","Kurs")'
    rows = [{**courses(1)[0], "title": title}]
    client.post("/v1/offers/import", data=csv_text(rows), headers=vhs)
    resp = client.get("/v1/offers/export?format=csv&agency_id=vhs-wetzlar")
    table = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert table[0]["title"] == "'" + title
    again = client.post("/v1/offers/import", data=resp.get_data(), headers=vhs).get_json()
    assert again["unchanged"] == 1
    assert client.get("/v1/offers").get_json()["items"][0]["title"] == title
