"""``/hsds/``: the HSDS 3.0 read API, all eleven operations of the HSDS OpenAPI document.

Every answer is checked against the HSDS schemas kept in ``tests/data/hsds``: pages against
the ``Page`` envelope of the HSDS OpenAPI document, services, organizations and lists against
the compiled schemas, taxonomies, terms and service-at-locations against their object schemas
(no compiled one exists). ``test_an_hsds_client_walks_every_operation`` lists everything and
follows every id it is given.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from catalog.hsds import (
    CATEGORY_TAXONOMY,
    FIELD_TAXONOMY,
    category_term_id,
    field_term_id,
    organization_id,
    taxonomy_id,
)
from tests.catalog.test_importing import courses, csv_text
from tests.factories import offer_data
from tests.hsds_schemas import HSDS_DIR, assert_valid

GIESSEN = {"municipality": "Gießen", "postcode": "35390", "latitude": 50.5841,
           "longitude": 8.6784}  # fmt: skip
#: The compiled (or object) schema of each list's items, and of each record by id.
ITEM_SCHEMA = {
    "services": "service_list",
    "organizations": "organization_list",
    "service_at_locations": "service_at_location_list",
    "taxonomies": "raw:taxonomy",
    "taxonomy_terms": "raw:taxonomy_term",
}
RECORD_SCHEMA = {
    "services": "service",
    "organizations": "organization",
    "service_at_locations": "raw:service_at_location",
    "taxonomies": "raw:taxonomy",
    "taxonomy_terms": "raw:taxonomy_term",
}


def import_csv(client, make_token, agency: str, rows: list[dict]) -> None:
    headers = {**make_token("agency", agency_id=agency), "Content-Type": "text/csv"}
    resp = client.post("/v1/offers/import", data=csv_text(rows), headers=headers)
    assert resp.status_code == 200, resp.get_json()


@pytest.fixture
def catalogue(client, make_token) -> dict[str, dict]:
    """Offers of two agencies: three courses, a daycare and an online course of VHS Wetzlar,
    an inactive offer of a provider with no other, and a course in Gießen of a provider of
    another agency with the same name."""
    import_csv(
        client,
        make_token,
        "vhs",
        [
            *courses(3),
            offer_data(external_id="kita", title="Kita Sonnenschein", category="daycare",
                       organization="Kita Sonnenschein e.V.", min_age=0, max_age=6),
            offer_data(external_id="online", title="Online-Sprachcafé", category="language_cafe",
                       online=True, latitude=None, longitude=None, street=None, postcode=None),
        ],
    )  # fmt: skip
    import_csv(
        client,
        make_token,
        "awo",
        [
            offer_data(external_id="g-1", title="Integrationskurs Gießen", **GIESSEN,
                       wheelchair_accessible=True, capacity_free=None, capacity_total=None)
        ],
    )  # fmt: skip
    items = client.get("/v1/offers?per_page=100").get_json()["items"]
    assert len(items) == 6
    offers = {o["external_id"]: o for o in items}
    old = offer_data(external_id="old", title="Alter Kurs", status="inactive",
                     organization="Alter Träger")  # fmt: skip
    resp = client.post("/v1/offers", json=old, headers=make_token("agency", agency_id="vhs"))
    assert resp.status_code == 201, resp.get_json()
    offers["old"] = resp.get_json()
    return offers


def get_json(client, url: str, status: int = 200) -> Any:
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.get_json())
    if status >= 400:
        assert resp.mimetype == "application/problem+json"
    return resp.get_json()


def get_page(client, hsds_schemas, kind: str, query: str = "") -> dict:
    """A page of a list, checked: the envelope, and every item (fully nested ones too)."""
    body = get_json(client, f"/hsds/{kind}{query}")
    assert_valid(hsds_schemas["page"], body)
    for item in body["contents"]:
        assert_valid(hsds_schemas[ITEM_SCHEMA[kind]], item)
        if "full=true" in query or "full_service=true" in query:
            assert_valid(hsds_schemas[RECORD_SCHEMA[kind]], item)
    return body


def get_record(client, hsds_schemas, kind: str, record_id: str, query: str = "") -> dict:
    body = get_json(client, f"/hsds/{kind}/{record_id}{query}")
    assert_valid(hsds_schemas[RECORD_SCHEMA[kind]], body)
    assert body["id"] == record_id
    return body


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["contents"]]


def test_api_info_points_at_lotses_own_openapi_document(client):
    info = get_json(client, "/hsds/")
    assert info["version"] == "3.0" and info["profile"].startswith("https://")
    assert info["openapi_url"] == "http://localhost/openapi.json"
    doc = get_json(client, info["openapi_url"].removeprefix("http://localhost"))
    assert "/hsds/service_at_locations/{record_id}" in doc["paths"]


def test_services_are_paginated_and_valid(client, catalogue, hsds_schemas):
    first = get_page(client, hsds_schemas, "services", "?per_page=3")
    assert (first["total_items"], first["total_pages"], first["size"]) == (6, 2, 3)
    assert first["first_page"] and not first["last_page"] and not first["empty"]
    second = get_page(client, hsds_schemas, "services", "?per_page=3&page=2")
    assert second["size"] == 3 and second["last_page"] and not second["first_page"]
    active = {k for k in catalogue if k != "old"}
    assert set(ids(first) + ids(second)) == {catalogue[k]["id"] for k in active}
    beyond = get_page(client, hsds_schemas, "services", "?page=9")
    assert beyond["empty"] and beyond["contents"] == []
    full = get_page(client, hsds_schemas, "services", "?full=true&format=json")
    assert all("service_at_locations" in s for s in full["contents"])
    minimal = get_page(client, hsds_schemas, "services", "?minimal=true&per_page=1000")
    assert all(set(s) == {"id", "name", "status", "last_modified"} for s in minimal["contents"])


def test_service_filters(client, catalogue, hsds_schemas, make_token):
    def found(query: str) -> set[str]:
        page = get_page(client, hsds_schemas, "services", query)
        return {s["name"] for s in page["contents"]}

    kita, online = catalogue["kita"]["title"], catalogue["online"]["title"]
    for term in (category_term_id("daycare"), "daycare", category_term_id("childcare")):
        assert found(f"?taxonomy_term_id={term}") == {kita}
    assert found("?taxonomy_term_id=nope") == set()
    assert found(f"?taxonomy_term_id={category_term_id('language')}") == {
        *(f"Integrationskurs Nr. {i}" for i in (1, 2, 3)),
        online,
        "Integrationskurs Gießen",
    }
    # an offer field's term: the offers in which that field has a value (bool, text, list…)
    assert found(f"?taxonomy_term_id={field_term_id('wheelchair_accessible')}") == {
        "Integrationskurs Gießen"
    }
    assert found(f"?taxonomy_term_id={field_term_id('online')}") == {online}
    assert len(found(f"?taxonomy_term_id={field_term_id('capacity_free')}")) == 5
    assert found(f"?taxonomy_term_id={field_term_id('genders')}") == set()
    everything = found("")
    assert found(f"?taxonomy_id={taxonomy_id(CATEGORY_TAXONOMY)}") == everything
    assert found(f"?taxonomy_id={FIELD_TAXONOMY}") == everything  # all have an external_id
    assert found("?taxonomy_id=nope") == set()
    awo = organization_id("awo", "VHS Wetzlar")
    assert found(f"?organization_id={awo}") == {"Integrationskurs Gießen"}
    assert len(found(f"?organization_id={organization_id('vhs', 'VHS Wetzlar')}")) == 4
    assert found(f"?organization_id={organization_id('vhs', 'nobody')}") == set()
    assert kita in found("?search=sonnenschein")
    assert found("?modified_after=2999-01-01T00:00:00Z") == set()
    # "on or after": the latest change itself is included
    latest = max(o["last_modified"] for k, o in catalogue.items() if k != "old")
    newest = found(f"?modified_after={latest.replace('+', '%2B')}")
    assert newest and newest <= everything


def test_one_service_fully_nested(client, catalogue, hsds_schemas):
    offer = catalogue["ik-1"]
    service = get_record(client, hsds_schemas, "services", offer["id"])
    assert service["name"] == offer["title"]
    location = service["service_at_locations"][0]["location"]
    assert location["addresses"][0]["city"] == "Wetzlar"
    get_json(client, "/hsds/services/3f1c2d4e-0000-4000-8000-000000000000", 404)
    inactive = get_record(client, hsds_schemas, "services", catalogue["old"]["id"])
    assert inactive["status"] == "inactive"


def test_archived_offers_are_not_served(client, catalogue, hsds_schemas, make_token):
    offer = catalogue["ik-2"]
    service = get_record(client, hsds_schemas, "services", offer["id"])
    record = service["service_at_locations"][0]["id"]
    get_record(client, hsds_schemas, "service_at_locations", record)
    client.delete(f"/v1/offers/{offer['id']}", headers=make_token("admin"))
    get_json(client, f"/hsds/services/{offer['id']}", 404)
    get_json(client, f"/hsds/service_at_locations/{record}", 404)
    assert get_json(client, "/hsds/services")["total_items"] == 5


def test_organizations(client, catalogue, hsds_schemas, make_token):
    page = get_page(client, hsds_schemas, "organizations")
    names = [(o["name"], o["id"]) for o in page["contents"]]
    vhs, awo = organization_id("vhs", "VHS Wetzlar"), organization_id("awo", "VHS Wetzlar")
    kita = organization_id("vhs", "Kita Sonnenschein e.V.")
    # in order of name; one per agency and name; none with inactive offers only
    assert [n for n, _ in names] == ["Kita Sonnenschein e.V.", "VHS Wetzlar", "VHS Wetzlar"]
    assert {i for _, i in names} == {vhs, awo, kita}
    assert page["total_items"] == 3
    second = get_page(client, hsds_schemas, "organizations", "?per_page=2&page=2")
    assert second["size"] == 1 and second["total_pages"] == 2
    assert ids(get_page(client, hsds_schemas, "organizations", "?search=sonnenschein")) == [kita]

    full = get_page(client, hsds_schemas, "organizations", "?full=true")
    services = {o["id"]: o["services"] for o in full["contents"]}
    assert len(services[vhs]) == 4 and "service_at_locations" not in services[vhs][0]
    nested = get_page(client, hsds_schemas, "organizations", "?full_service=true")
    assert all("service_at_locations" in s for o in nested["contents"] for s in o["services"])

    record = get_record(client, hsds_schemas, "organizations", awo)
    assert [s["name"] for s in record["services"]] == ["Integrationskurs Gießen"]
    record = get_record(client, hsds_schemas, "organizations", awo, "?full_service=true")
    assert record["services"][0]["service_at_locations"]
    # a provider whose offers are all inactive is found by id (its services say so)
    old = get_record(client, hsds_schemas, "organizations", organization_id("vhs", "Alter Träger"))
    assert [s["status"] for s in old["services"]] == ["inactive"]
    get_json(client, f"/hsds/organizations/{organization_id('vhs', 'nobody')}", 404)

    # a renamed provider is seen at once (the directory follows the catalogue)
    offer = catalogue["kita"]
    client.patch(
        f"/v1/offers/{offer['id']}",
        json={"organization": "Kita Regenbogen"},
        headers={**make_token("admin"), "If-Match": str(offer["version"])},
    )
    get_json(client, f"/hsds/organizations/{kita}", 404)
    renamed = get_record(
        client, hsds_schemas, "organizations", organization_id("vhs", "Kita Regenbogen")
    )
    assert renamed["services"][0]["id"] == offer["id"]


def test_service_at_locations(client, catalogue, hsds_schemas):
    page = get_page(client, hsds_schemas, "service_at_locations", "?per_page=100")
    assert page["total_items"] == 6
    by_service = {item["service_id"]: item for item in page["contents"]}
    item = by_service[catalogue["ik-1"]["id"]]
    assert item["service"]["name"] == catalogue["ik-1"]["title"]
    assert item["location"]["latitude"] == 50.5558 and "addresses" not in item["location"]
    assert item["location_id"] == item["location"]["id"]
    online = by_service[catalogue["online"]["id"]]["location"]
    assert online["location_type"] == "virtual"

    record = get_record(client, hsds_schemas, "service_at_locations", item["id"])
    assert record["location"]["addresses"][0]["postal_code"] == "35576"
    assert record["service"]["id"] == catalogue["ik-1"]["id"]
    assert "service_at_locations" not in record["service"]
    assert_valid(hsds_schemas["service"], record["service"])
    full = get_page(client, hsds_schemas, "service_at_locations", "?full=true&search=Gießen")
    assert full["contents"][0]["location"]["addresses"][0]["city"] == "Gießen"
    for bad in ("not-a-uuid", "3f1c2d4e-0000-4000-8000-000000000000"):
        get_json(client, f"/hsds/service_at_locations/{bad}", 404)

    def services(query: str) -> set[str]:
        found = get_page(client, hsds_schemas, "service_at_locations", query)
        return {i["service"]["name"] for i in found["contents"]}

    assert services("?postcode=35390") == {"Integrationskurs Gießen"}
    # Wetzlar to Gießen is about 12 km
    assert services("?postcode=35390&proximity=5000") == {"Integrationskurs Gießen"}
    assert len(services("?postcode=35390&proximity=15000")) == 5  # all but the online one
    awo = organization_id("awo", "VHS Wetzlar")
    assert services(f"?organization_id={awo}&taxonomy_term_id=language") == {
        "Integrationskurs Gießen"
    }
    problem = get_json(client, "/hsds/service_at_locations?postcode=99999&proximity=1000", 422)
    assert problem["errors"][0]["field"] == "postcode"
    problem = get_json(client, "/hsds/service_at_locations?proximity=1000", 422)
    assert problem["errors"][0]["field"] == "proximity"


def test_taxonomies_and_terms(client, hsds_schemas):
    taxonomies = get_page(client, hsds_schemas, "taxonomies")
    assert {t["name"] for t in taxonomies["contents"]} == {CATEGORY_TAXONOMY, FIELD_TAXONOMY}
    categories = taxonomy_id(CATEGORY_TAXONOMY)
    assert get_record(client, hsds_schemas, "taxonomies", categories)["name"] == CATEGORY_TAXONOMY
    found = get_page(client, hsds_schemas, "taxonomies", "?search=eligibility")
    assert [t["name"] for t in found["contents"]] == [FIELD_TAXONOMY]
    get_json(client, f"/hsds/taxonomies/{category_term_id('language')}", 404)

    terms = get_page(
        client, hsds_schemas, "taxonomy_terms", f"?taxonomy_id={categories}&per_page=100"
    )
    codes = [t["code"] for t in terms["contents"]]
    assert codes[:3] == ["language", "integration_course", "integration_course_literacy"]
    assert len(codes) == 8 + 26
    by_code = {t["code"]: t for t in terms["contents"]}
    assert "parent_id" not in by_code["childcare"]
    assert by_code["daycare"]["parent_id"] == by_code["childcare"]["id"]
    assert by_code["daycare"]["taxonomy_detail"]["id"] == categories
    top = get_page(
        client, hsds_schemas, "taxonomy_terms", f"?top_only=true&taxonomy_id={categories}"
    )
    assert [t["code"] for t in top["contents"]] == [
        "language", "childcare", "recognition", "work", "counselling", "health", "housing",
        "community",
    ]  # fmt: skip
    children = get_page(
        client, hsds_schemas, "taxonomy_terms", f"?parent_id={category_term_id('childcare')}"
    )
    assert [t["code"] for t in children["contents"]] == ["daycare", "childminder",
                                                         "childcare_during_course"]  # fmt: skip
    fields = get_page(client, hsds_schemas, "taxonomy_terms", f"?taxonomy_id={FIELD_TAXONOMY}")
    assert "wheelchair_accessible" in {t["code"] for t in fields["contents"]}
    search = get_page(client, hsds_schemas, "taxonomy_terms", "?search=Kita")
    assert search["contents"][0]["code"] == "daycare"
    term = get_record(client, hsds_schemas, "taxonomy_terms", category_term_id("daycare"))
    assert term["name"] == "Kita" and term["taxonomy"] == CATEGORY_TAXONOMY
    get_json(client, f"/hsds/taxonomy_terms/{categories}", 404)
    get_json(client, "/hsds/taxonomy_terms/daycare", 404)


def test_ndjson_streams_every_item_without_pages(client, catalogue, hsds_schemas):
    for kind, count in (("services", 6), ("service_at_locations", 6), ("organizations", 3),
                        ("taxonomies", 2), ("taxonomy_terms", 53)):  # fmt: skip
        resp = client.get(f"/hsds/{kind}?format=ndjson&per_page=1")
        assert resp.status_code == 200 and resp.mimetype == "application/x-ndjson"
        items = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
        assert len(items) == count, kind
        assert len({i["id"] for i in items}) == count
        for item in items:
            assert_valid(hsds_schemas[ITEM_SCHEMA[kind]], item)
    # bad filters are refused before the stream starts
    get_json(client, "/hsds/service_at_locations?format=ndjson&postcode=99999&proximity=9", 422)
    resp = client.get("/hsds/services?format=ndjson&minimal=true&taxonomy_term_id=daycare")
    assert [json.loads(line)["name"] for line in resp.get_data(as_text=True).splitlines()] == [
        "Kita Sonnenschein"
    ]


@pytest.mark.parametrize(
    "url,field",
    [
        ("/hsds/services?per_page=1000", "per_page"),
        ("/hsds/services?minimal=true&per_page=1001", "per_page"),
        ("/hsds/services?page=0", "page"),
        ("/hsds/services?format=xml", "format"),
        ("/hsds/services?full=perhaps", "full"),
        ("/hsds/services?modified_after=yesterday", "modified_after"),
        ("/hsds/services?postcode=35390", "postcode"),  # only service_at_locations has it
        ("/hsds/organizations?minimal=true", "minimal"),
        ("/hsds/organizations/x?full_service=maybe", "full_service"),
        ("/hsds/service_at_locations?postcode=3539", "postcode"),
        ("/hsds/service_at_locations?postcode=35390&proximity=-5", "proximity"),
        ("/hsds/service_at_locations?postcode=35390&proximity=far", "proximity"),
        ("/hsds/taxonomies?parent_id=x", "parent_id"),
        ("/hsds/taxonomy_terms?top_only=sometimes", "top_only"),
        ("/hsds/taxonomy_terms?per_page=101", "per_page"),
    ],
)
def test_bad_parameters_are_422(client, url, field):
    problem = get_json(client, url, 422)
    assert problem["errors"][0]["field"] == field, problem


def _hsds_operations() -> dict[tuple[str, str], set[str]]:
    """``{(path, operationId): query parameter names}`` of the HSDS OpenAPI document."""
    doc = json.loads((HSDS_DIR / "schema" / "openapi.json").read_text())
    out = {}
    for path, item in doc["paths"].items():
        names = set()
        for param in item["get"].get("parameters", []):
            if "$ref" in param:
                param = doc["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
            if param["in"] == "query":
                names.add(param["name"])
        out[(path, item["get"]["operationId"])] = names
    return out


def test_openapi_lists_every_hsds_operation_with_its_standard_parameters(client):
    doc = get_json(client, "/openapi.json")
    ours = {}
    for path, item in doc["paths"].items():
        if path.startswith("/hsds/"):
            standard = re.sub(r"\{[a-z_]+\}", "{id}", path.removeprefix("/hsds"))
            params = {p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"}
            ours[standard] = (item["get"]["operationId"], params)
    hsds = _hsds_operations()
    assert set(ours) == {path for path, _ in hsds}
    # (the HSDS document swaps the ids of the two taxonomy term operations; Lotse does not)
    assert {op for op, _ in ours.values()} == {op for _, op in hsds}
    for (path, _op), names in hsds.items():
        assert ours[path][1] == names, path


def test_an_hsds_client_walks_every_operation(client, catalogue, hsds_schemas, make_token):
    """List each kind of record, open every record listed, and follow every id a record
    gives (its organization, taxonomy terms, their taxonomies and parents, its service).

    The walk takes more requests than an address may make without credentials in a minute
    (``LOTSE_ANON_READS_PER_MINUTE``), so it reads with a token, as a portal would."""
    client.environ_base["HTTP_AUTHORIZATION"] = make_token("analyst")["Authorization"]
    visited: set[str] = set()
    info = get_json(client, "/hsds/")
    visited.add("/")
    assert info["version"] == "3.0"
    seen: dict[str, set[str]] = {kind: set() for kind in ITEM_SCHEMA}
    pending: list[tuple[str, str]] = []
    for kind in ITEM_SCHEMA:
        page_number = 1
        while True:
            page = get_page(client, hsds_schemas, kind, f"?per_page=4&page={page_number}")
            visited.add(f"/{kind}")
            pending += [(kind, item["id"]) for item in page["contents"]]
            if page["last_page"]:
                break
            page_number += 1
    while pending:
        kind, record_id = pending.pop()
        if record_id in seen[kind]:
            continue
        seen[kind].add(record_id)
        record = get_record(client, hsds_schemas, kind, record_id)
        visited.add(f"/{kind}/{{id}}")
        pending += _links(kind, record)
    assert len(visited) == 11
    assert len(seen["services"]) == len(seen["service_at_locations"]) == 6
    assert len(seen["organizations"]) == 3
    assert len(seen["taxonomies"]) == 2 and len(seen["taxonomy_terms"]) == 8 + 26 + 19


def _links(kind: str, record: dict) -> list[tuple[str, str]]:
    """The ids a record names, with the kind of record each names."""
    links: list[tuple[str, str]] = []
    if kind == "services":
        links.append(("organizations", record["organization_id"]))
        links += [("service_at_locations", s["id"]) for s in record["service_at_locations"]]
        for attribute in record["attributes"]:
            links.append(("taxonomy_terms", attribute["taxonomy_term_id"]))
            links.append(("taxonomies", attribute["taxonomy_term"]["taxonomy_id"]))
    elif kind == "organizations":
        links += [("services", s["id"]) for s in record["services"]]
    elif kind == "service_at_locations":
        links.append(("services", record["service_id"]))
    elif kind == "taxonomy_terms":
        links.append(("taxonomies", record["taxonomy_id"]))
        if "parent_id" in record:
            links.append(("taxonomy_terms", record["parent_id"]))
    return links
