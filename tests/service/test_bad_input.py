"""Hostile input is a 4xx, never a 500: JSON nested 100,000 deep (every JSON endpoint and the
JSON and HSDS imports), an ``If-Match`` of 5,000 digits, and the public history of an offer
that names no admin login or token."""

from __future__ import annotations

import pytest

from lotse.accounts import Principal
from lotse.db import transaction
from tests.casework.cases import draft, store_offers
from tests.factories import offer_data

DEEP = "[" * 100_000 + "]" * 100_000
#: Deep enough to pass the parser of a shallow stack, too deep for anything after it.
RATHER_DEEP = '{"a": ' + "[" * 900 + "]" * 900 + "}"


@pytest.fixture
def world(app, make_token):
    with transaction(app.extensions["lotse"].sessions) as s:
        offers = store_offers(s)
        agreement = draft(s, "P-1", [offers["ik"]])
    return {
        "offer": offers["ik"],
        "agreement": agreement.id,
        "admin": make_token("admin"),
        "agency": make_token("agency", agency_id="vhs-wetzlar"),
        "counsellor": make_token("counsellor", centre_id="mbe-wetzlar"),
        "analyst": make_token("analyst"),
    }


def _json_endpoints(w):
    o, a = w["offer"], w["agreement"]
    return [
        ("POST", "/v1/offers", w["agency"]),
        ("PUT", f"/v1/offers/{o}", {**w["agency"], "If-Match": "1"}),
        ("PATCH", f"/v1/offers/{o}", {**w["agency"], "If-Match": "1"}),
        ("POST", "/v1/offers/import?format=json", w["agency"]),
        ("POST", "/v1/offers/import?format=hsds", w["agency"]),
        ("POST", "/v1/offers/import?format=json&dry_run=true", w["agency"]),
        ("POST", "/v1/recommendations", w["counsellor"]),
        ("POST", "/v1/recommendations/explain", w["counsellor"]),
        ("POST", "/v1/referrals", w["counsellor"]),
        ("POST", "/v1/agreements", w["counsellor"]),
        ("PATCH", f"/v1/agreements/{a}", w["counsellor"]),
        ("POST", f"/v1/agreements/{a}/sign", w["counsellor"]),
        ("POST", f"/v1/agreements/{a}/reviews", w["counsellor"]),
        ("POST", f"/v1/agreements/{a}/close", w["counsellor"]),
        ("POST", "/v1/models/v1/promote", w["analyst"]),
        ("POST", "/v1/persons/erase", w["counsellor"]),
    ]


@pytest.mark.parametrize("body", [DEEP, RATHER_DEEP], ids=["100000-deep", "900-deep"])
def test_deeply_nested_json_is_refused(client, world, body):
    for method, url, headers in _json_endpoints(world):
        resp = client.open(
            url,
            method=method,
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert resp.status_code in (400, 413, 422), (method, url, resp.status_code)
        assert resp.mimetype == "application/problem+json", (method, url)
    resp = client.post(
        "/v1/offers", data=DEEP, headers={**world["agency"], "Content-Type": "application/json"}
    )
    assert "nested" in resp.get_json()["detail"]


def test_json_of_ordinary_depth_still_works(client, world):
    body = [offer_data(external_id="n-1", languages=["de"], extra_field=None)]
    body[0].pop("extra_field")
    resp = client.post("/v1/offers/import?format=json", json=body, headers=world["agency"])
    assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("value", ["9" * 5000, "1" * 20, '"' + "7" * 5000 + '"', "W/" + "3" * 4400])
def test_a_huge_if_match_is_400_or_412(client, world, value):
    url = f"/v1/offers/{world['offer']}"
    headers = {**world["agency"], "If-Match": value}
    for method, kwargs in (
        ("PATCH", {"json": {"capacity_free": 3}}),
        ("PUT", {"json": offer_data()}),
        ("DELETE", {}),
    ):
        resp = client.open(url, method=method, headers=headers, **kwargs)
        assert resp.status_code in (400, 412), (method, resp.status_code, resp.get_json())
    resp = client.patch(
        f"/v1/agreements/{world['agreement']}",
        json={"review_every_months": 2},
        headers={**world["counsellor"], "If-Match": value},
    )
    assert resp.status_code in (400, 412), resp.get_json()


def test_public_history_names_the_agency_or_admin_only(app, client, world, make_token):
    offer = world["offer"]
    with transaction(app.extensions["lotse"].sessions) as s:
        from catalog.store import patch_offer

        patch_offer(
            s,
            Principal(role="admin", name="user:erika.mustermann"),
            offer,
            {"capacity_free": 4},
            None,
        )
    client.patch(
        f"/v1/offers/{offer}",
        json={"capacity_free": 3},
        headers={**world["admin"], "If-Match": "2"},
    )
    client.patch(
        f"/v1/offers/{offer}",
        json={"capacity_free": 2},
        headers={**world["agency"], "If-Match": "3"},
    )
    history = client.get(f"/v1/offers/{offer}/history").get_json()["changes"]
    actors = [c["actor"] for c in history]
    assert actors == ["admin", "admin", "admin", "agency:vhs-wetzlar"], actors
    text = str(history)
    assert "erika" not in text and "token:" not in text and "user:" not in text
