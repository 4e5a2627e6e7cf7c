"""``/hsds/``: the HSDS 3.0 read API; every service it returns is checked against the compiled
HSDS schemas, and every page against the ``Page`` envelope of the HSDS OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from catalog.hsds import category_term_id
from tests.catalog.test_hsds import assert_valid, hsds_schemas  # noqa: F401 (a fixture)
from tests.catalog.test_importing import courses, csv_text
from tests.factories import offer_data


@pytest.fixture(scope="session")
def page_schema(hsds_dir: Path) -> Draft202012Validator:
    openapi = json.loads((hsds_dir / "schema/openapi.json").read_text())
    page = openapi["components"]["schemas"]["Page"]
    schema = {**page, "required": [*page["properties"], "contents"]}
    return Draft202012Validator(schema)


@pytest.fixture
def catalogue(client, make_token):
    headers = {**make_token("agency", agency_id="vhs"), "Content-Type": "text/csv"}
    rows = [
        *courses(3),
        offer_data(external_id="kita", title="Kita Sonnenschein", category="daycare"),
        offer_data(external_id="old", title="Alter Kurs", status="inactive"),
    ]
    resp = client.post("/v1/offers/import", data=csv_text(rows), headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return {o["external_id"]: o for o in client.get("/v1/offers").get_json()["items"]}


def get_page(client, hsds_schemas, page_schema, query: str = "") -> dict:  # noqa: F811
    resp = client.get(f"/hsds/services{query}")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert_valid(page_schema, body)
    for service in body["contents"]:
        assert_valid(hsds_schemas["service_list"], service)
        assert_valid(hsds_schemas["service"], service)
    return body


def test_api_info(client):
    info = client.get("/hsds/").get_json()
    assert info["version"] == "3.0"
    assert info["openapi_url"].endswith("/schema/openapi.json") and info["profile"]


def test_services_are_paginated_and_valid(client, catalogue, hsds_schemas, page_schema):  # noqa: F811
    first = get_page(client, hsds_schemas, page_schema, "?per_page=3")
    assert (first["total_items"], first["total_pages"], first["size"]) == (4, 2, 3)
    assert first["first_page"] and not first["last_page"] and not first["empty"]
    second = get_page(client, hsds_schemas, page_schema, "?per_page=3&page=2")
    assert second["size"] == 1 and second["last_page"] and not second["first_page"]
    ids = {s["id"] for s in first["contents"] + second["contents"]}
    assert ids == {catalogue[k]["id"] for k in ("ik-1", "ik-2", "ik-3", "kita")}
    beyond = get_page(client, hsds_schemas, page_schema, "?page=9")
    assert beyond["empty"] and beyond["contents"] == []
    full = get_page(client, hsds_schemas, page_schema, "?full=true")
    assert all("service_at_locations" in s for s in full["contents"])


def test_filters(client, catalogue, hsds_schemas, page_schema):  # noqa: F811
    kita = catalogue["kita"]["id"]
    for term in (category_term_id("daycare"), "daycare", category_term_id("childcare")):
        found = get_page(client, hsds_schemas, page_schema, f"?taxonomy_term_id={term}")
        assert [s["id"] for s in found["contents"]] == [kita]
    unknown = get_page(client, hsds_schemas, page_schema, "?taxonomy_term_id=nope")
    assert unknown["total_items"] == 0 and unknown["total_pages"] == 0 and unknown["empty"]
    search = get_page(client, hsds_schemas, page_schema, "?search=sonnenschein")
    assert search["contents"][0]["id"] == kita
    later = get_page(client, hsds_schemas, page_schema, "?modified_after=2999-01-01T00:00:00Z")
    assert later["total_items"] == 0
    assert client.get("/hsds/services?per_page=1000").status_code == 422


def test_one_service_fully_nested(client, catalogue, hsds_schemas):  # noqa: F811
    offer = catalogue["ik-1"]
    resp = client.get(f"/hsds/services/{offer['id']}")
    assert resp.status_code == 200
    service = resp.get_json()
    assert_valid(hsds_schemas["service"], service)
    assert service["name"] == offer["title"]
    location = service["service_at_locations"][0]["location"]
    assert location["addresses"][0]["city"] == "Wetzlar"
    missing = client.get("/hsds/services/3f1c2d4e-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_archived_offers_are_not_served(client, catalogue, make_token):
    offer = catalogue["ik-2"]
    client.delete(f"/v1/offers/{offer['id']}", headers=make_token("admin"))
    assert client.get(f"/hsds/services/{offer['id']}").status_code == 404
    assert client.get("/hsds/services").get_json()["total_items"] == 3
