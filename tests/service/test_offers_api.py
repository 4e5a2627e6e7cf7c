"""``/v1/offers``: CRUD with scope, versions and history; search; errors as problem+json."""

from __future__ import annotations

import pytest

from tests.factories import WETZLAR, offer_data


@pytest.fixture
def vhs(make_token):
    return make_token("agency", agency_id="vhs-wetzlar")


@pytest.fixture
def other(make_token):
    return make_token("agency", agency_id="awo-hamburg")


def create(client, headers, **overrides):
    resp = client.post("/v1/offers", json=offer_data(**overrides), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_create_read_and_server_fields(client, vhs):
    body = create(client, vhs)
    assert body["agency_id"] == "vhs-wetzlar" and body["version"] == 1
    assert body["possible_duplicates"] == []
    got = client.get(f"/v1/offers/{body['id']}")
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    assert got.get_json()["title"] == offer_data()["title"]
    assert got.get_json()["start_date"] == "2027-01-11"


def test_reading_needs_no_token_but_writing_does(client):
    assert client.get("/v1/offers").status_code == 200
    resp = client.post("/v1/offers", json=offer_data())
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert (
        client.post(
            "/v1/offers", json=offer_data(), headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )


def test_wrong_role_is_forbidden(client, make_token):
    counsellor = make_token("counsellor", centre_id="mbe-x")
    assert client.post("/v1/offers", json=offer_data(), headers=counsellor).status_code == 403


def test_agency_edits_only_its_own_offers(client, vhs, other, make_token):
    offer = create(client, vhs)
    url = f"/v1/offers/{offer['id']}"
    resp = client.patch(url, json={"capacity_free": 1}, headers={**other, "If-Match": "1"})
    assert resp.status_code == 403
    assert client.delete(url, headers=other).status_code == 403
    resp = client.post(
        "/v1/offers", json={**offer_data(), "agency_id": "vhs-wetzlar"}, headers=other
    )
    assert resp.status_code == 403
    admin = make_token("admin")
    resp = client.patch(url, json={"capacity_free": 1}, headers={**admin, "If-Match": "1"})
    assert resp.status_code == 200 and resp.get_json()["version"] == 2


def test_admin_creates_for_a_named_agency(client, make_token):
    admin = make_token("admin")
    resp = client.post("/v1/offers", json=offer_data(), headers=admin)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "agency_id"
    resp = client.post(
        "/v1/offers", json={**offer_data(), "agency_id": "jc-wetzlar"}, headers=admin
    )
    assert resp.status_code == 201 and resp.get_json()["agency_id"] == "jc-wetzlar"


def test_validation_errors_name_fields(client, vhs):
    resp = client.post(
        "/v1/offers", json=offer_data(min_age=40, max_age=30, category="kita"), headers=vhs
    )
    assert resp.status_code == 422
    body = resp.get_json()
    assert resp.mimetype == "application/problem+json"
    assert body["status"] == 422 and body["title"] and body["type"]
    assert {e["field"] for e in body["errors"]} == {"category", "min_age"}  # all at once


def test_stale_version_gets_412_and_missing_version_428(client, vhs):
    offer = create(client, vhs)
    url = f"/v1/offers/{offer['id']}"
    assert (
        client.patch(url, json={"capacity_free": 4}, headers={**vhs, "If-Match": '"1"'}).status_code
        == 200
    )
    stale = client.patch(url, json={"capacity_free": 3}, headers={**vhs, "If-Match": "1"})
    assert stale.status_code == 412
    assert client.patch(url, json={"capacity_free": 3}, headers=vhs).status_code == 428
    assert client.get(url).get_json()["capacity_free"] == 4


def test_patch_validates_the_merged_offer(client, vhs):
    offer = create(client, vhs)
    url = f"/v1/offers/{offer['id']}"
    resp = client.patch(url, json={"capacity_free": 99}, headers={**vhs, "If-Match": "1"})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "capacity_free"
    resp = client.patch(url, json={"id": "x"}, headers={**vhs, "If-Match": "1"})
    assert resp.status_code == 422
    assert client.get(url).get_json()["version"] == 1


def test_put_replaces_and_history_lists_changes(client, vhs):
    offer = create(client, vhs)
    url = f"/v1/offers/{offer['id']}"
    resp = client.put(
        url,
        json=offer_data(title="Integrationskurs am Abend", times=["evening"]),
        headers={**vhs, "If-Match": "1"},
    )
    assert resp.status_code == 200 and resp.get_json()["version"] == 2
    # an identical PUT changes nothing and keeps the version
    same = client.put(
        url,
        json=offer_data(title="Integrationskurs am Abend", times=["evening"]),
        headers={**vhs, "If-Match": "2"},
    )
    assert same.get_json()["version"] == 2
    assert client.delete(url, headers=vhs).status_code == 200
    history = client.get(f"{url}/history").get_json()["changes"]
    assert [c["action"] for c in history] == ["create", "update", "archive"]
    assert history[1]["changes"]["times"] == [["morning"], ["evening"]]
    assert history[1]["actor"] == "agency:vhs-wetzlar"
    assert history[2]["changes"] == {"archived": [False, True]}
    # archived offers leave search but stay readable
    assert client.get(url).get_json()["archived"] is True
    assert client.get("/v1/offers").get_json()["total"] == 0


def test_external_id_unique_per_agency(client, vhs, other):
    create(client, vhs)
    resp = client.post("/v1/offers", json=offer_data(), headers=vhs)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "external_id"
    create(client, other)  # another agency may use the same key


def test_created_look_alike_is_reported_not_merged(client, vhs, other):
    first = create(client, vhs)
    second = create(
        client,
        other,
        title="Allgemeiner Integrationskurs, Volkshochschule Wetzlar",
        organization="Volkshochschule Wetzlar",
    )
    assert second["id"] != first["id"]
    dupes = second["possible_duplicates"]
    assert dupes and dupes[0]["offer_id"] == first["id"] and dupes[0]["similarity"] >= 0.85


def test_search_filters(client, vhs):
    a = create(client, vhs, external_id="a")
    b = create(
        client,
        vhs,
        external_id="b",
        title="Kita Sonnenschein",
        category="daycare",
        organization="Stadt Wetzlar",
        min_age=0,
        max_age=6,
    )
    create(
        client,
        vhs,
        external_id="c",
        title="Integrationskurs Hamburg",
        municipality="Hamburg",
        latitude=53.55,
        longitude=9.99,
    )
    ids = lambda resp: [i["id"] for i in resp.get_json()["items"]]  # noqa: E731
    assert ids(client.get("/v1/offers?category=childcare")) == [b["id"]]
    near = client.get(f"/v1/offers?near={WETZLAR[0]},{WETZLAR[1]}&radius_km=10")
    assert set(ids(near)) == {a["id"], b["id"]}
    assert all(i["distance_km"] < 1 for i in near.get_json()["items"])
    assert ids(client.get("/v1/offers?q=sonenschein"))[0] == b["id"]
    paged = client.get("/v1/offers?per_page=2&page=2").get_json()
    assert paged["total"] == 3 and len(paged["items"]) == 1
    assert client.get("/v1/offers?agency_id=nobody").get_json()["total"] == 0
    assert client.get("/v1/offers?modified_after=2999-01-01T00:00:00Z").get_json()["total"] == 0


@pytest.mark.parametrize(
    "query,field",
    [
        ("category=kitas", "category"),
        ("near=abc", "near"),
        ("radius_km=5", "radius_km"),
        ("per_page=1000", "per_page"),
        ("page=0", "page"),
        ("colour=red", "colour"),
        ("modified_after=yesterday", "modified_after"),
    ],
)
def test_search_rejects_bad_parameters(client, query, field):
    resp = client.get(f"/v1/offers?{query}")
    assert resp.status_code == 422
    assert resp.get_json()["errors"][0]["field"] == field


def test_unknown_offer_and_bad_bodies(client, vhs):
    assert client.get("/v1/offers/nope").status_code == 404
    resp = client.post(
        "/v1/offers", data="{not json", headers={**vhs, "Content-Type": "application/json"}
    )
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    assert client.post("/v1/offers", data="", headers=vhs).status_code == 400
    assert client.post("/v1/offers", json=[1, 2], headers=vhs).status_code == 422
