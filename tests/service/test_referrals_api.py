"""``/v1/referrals`` and ``/v1/agency/referrals`` over HTTP: roles, scope, 409, 422."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from casework.tables import AuditEntry
from lotse.db import transaction
from lotse.pseudonyms import person_key
from matcher.tables import RecommendationRequest
from tests.factories import offer_data


@pytest.fixture
def setup(app, client, make_token):
    agency = make_token("agency", agency_id="vhs-wetzlar")
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    offer = client.post("/v1/offers", json=offer_data(capacity_free=1), headers=agency).get_json()
    request_id = str(uuid.uuid4())
    with transaction(app.extensions["lotse"].sessions) as s:
        s.add(
            RecommendationRequest(
                request_id=request_id,
                model_version="rules-v2",
                feature_schema="test",
                catalog_seq=1,
                centre_id="mbe-wetzlar",
                person_key=person_key("mbe-wetzlar", "P-1"),
                k=10,
                lang="de",
                context={},
            )
        )
    return {"agency": agency, "counsellor": counsellor, "offer": offer["id"], "request": request_id}


def refer(client, setup, **body):
    payload = {"request_id": setup["request"], "offer_id": setup["offer"], "consent": True, **body}
    return client.post("/v1/referrals", json=payload, headers=setup["counsellor"])


def test_refer_accept_enrol_complete(client, setup):
    resp = refer(client, setup)
    assert resp.status_code == 201, resp.get_json()
    rid = resp.get_json()["id"]
    assert resp.get_json()["status"] == "proposed"
    seen = client.get("/v1/agency/referrals", headers=setup["agency"]).get_json()["items"]
    assert [r["id"] for r in seen] == [rid]
    assert "person_key" not in seen[0] and "centre_id" not in seen[0]
    for status, who in (
        ("accepted", "agency"),
        ("enrolled", "agency"),
        ("completed", "counsellor"),
    ):
        resp = client.patch(f"/v1/referrals/{rid}", json={"status": status}, headers=setup[who])
        assert resp.status_code == 200, resp.get_json()
    body = client.get(f"/v1/referrals/{rid}", headers=setup["counsellor"]).get_json()
    assert [e["to_status"] for e in body["events"]] == [
        "proposed",
        "accepted",
        "enrolled",
        "completed",
    ]
    assert client.get(f"/v1/offers/{setup['offer']}").get_json()["capacity_free"] == 0


def test_illegal_transition_409_and_reason_422(client, setup):
    rid = refer(client, setup).get_json()["id"]
    resp = client.patch(
        f"/v1/referrals/{rid}", json={"status": "completed"}, headers=setup["counsellor"]
    )
    assert resp.status_code == 409 and resp.mimetype == "application/problem+json"
    resp = client.patch(
        f"/v1/referrals/{rid}", json={"status": "declined"}, headers=setup["counsellor"]
    )
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "reason"
    resp = client.patch(
        f"/v1/referrals/{rid}", json={"status": "nope"}, headers=setup["counsellor"]
    )
    assert resp.status_code == 422


def test_consent_and_unknown_request(client, setup):
    assert refer(client, setup, consent=False).status_code == 422
    resp = refer(client, setup, request_id="nope")
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "request_id"


def test_roles_and_scope(client, setup, make_token):
    other_centre = make_token("counsellor", centre_id="mbe-hamm")
    other_agency = make_token("agency", agency_id="awo-essen")
    assert client.post("/v1/referrals", json={}).status_code == 401
    payload = {"request_id": setup["request"], "offer_id": setup["offer"], "consent": True}
    assert client.post("/v1/referrals", json=payload, headers=setup["agency"]).status_code == 403
    assert client.post("/v1/referrals", json=payload, headers=other_centre).status_code == 403
    rid = refer(client, setup).get_json()["id"]
    assert client.get(f"/v1/referrals/{rid}", headers=other_centre).status_code == 403
    assert client.get(f"/v1/referrals/{rid}", headers=other_agency).status_code == 403
    assert client.get("/v1/agency/referrals", headers=other_agency).get_json()["items"] == []
    assert client.get("/v1/agency/referrals", headers=setup["counsellor"]).status_code == 403


def test_reading_a_referral_is_audited(app, client, setup):
    rid = refer(client, setup).get_json()["id"]
    assert client.get(f"/v1/referrals/{rid}", headers=setup["counsellor"]).status_code == 200
    with transaction(app.extensions["lotse"].sessions) as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.action == "read")).all()
        assert [(e.actor, e.person_key) for e in reads] == [
            ("counsellor:mbe-wetzlar", person_key("mbe-wetzlar", "P-1"))
        ]
