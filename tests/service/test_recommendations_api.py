"""``POST /v1/recommendations`` and ``/explain``: roles, validation, the Syrian-nurse scenario
over HTTP, and explanations of left-out offers."""

from __future__ import annotations

import pytest

from lotse.db import transaction
from tests.matcher.catalogue import SCENARIO, nurse_profile, store_offers

URL = "/v1/recommendations"


@pytest.fixture
def counsellor(make_token):
    return make_token("counsellor", centre_id="mbe-wetzlar")


@pytest.fixture
def catalogue(app):
    future = {k: {**v} for k, v in SCENARIO.items()}
    for v in future.values():  # keep the scenario valid whatever today is
        if v.get("end_date"):
            v["end_date"] = "2099-12-31"
    with transaction(app.extensions["lotse"].sessions) as session:
        return store_offers(session, future)


def test_needs_a_token_and_the_right_role(client, make_token):
    body = {"profile": nurse_profile()}
    assert client.post(URL, json=body).status_code == 401
    agency = make_token("agency", agency_id="vhs-wetzlar")
    resp = client.post(URL, json=body, headers=agency)
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert (
        client.post(f"{URL}/explain", json={**body, "offer_id": "x"}, headers=agency).status_code
        == 403
    )


def test_syrian_nurse_gets_all_three_needs_with_reasons(client, counsellor, catalogue):
    resp = client.post(URL, json={"profile": nurse_profile()}, headers=counsellor)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {
        "request_id",
        "model_version",
        "resolved",
        "results",
        "waitlist",
        "excluded",
    }
    assert body["model_version"] == "rules-v2"
    assert body["resolved"]["location"]["place"] == "Wetzlar"
    assert [n["category"] for n in body["resolved"]["needs"]] == [
        "language",
        "childcare",
        "recognition",
    ]
    assert {r["need"] for r in body["results"][:3]} == {"language", "childcare", "recognition"}
    by_id = {v: k for k, v in catalogue.items()}
    shown = {by_id[r["offer_id"]] for r in body["results"]}
    assert {"ik-wetzlar", "kita-wetzlar", "iq-beratung"} <= shown
    assert {"ik-hamburg", "c1-wetzlar"}.isdisjoint(shown)
    for r in body["results"]:
        assert set(r) == {
            "rank",
            "offer_id",
            "title",
            "category",
            "need",
            "score",
            "distance_km",
            "reasons",
        }
        assert r["reasons"] and all(set(x) == {"code", "text"} for x in r["reasons"])
    assert [by_id[w["offer_id"]] for w in body["waitlist"]] == ["ik-voll"]
    assert body["excluded"]["distance"] == 1 and body["excluded"]["german_level"] == 2


def test_k_and_german_texts(client, counsellor, catalogue):
    resp = client.post(
        URL,
        json={"profile": nurse_profile(), "k": 2},
        headers={**counsellor, "Accept-Language": "de-DE,de;q=0.9,en;q=0.5"},
    )
    body = resp.get_json()
    assert len(body["results"]) == 2
    assert any("entfernt" in x["text"] for x in body["results"][0]["reasons"])
    assert (
        client.post(URL, json={"profile": nurse_profile(), "k": 51}, headers=counsellor).status_code
        == 422
    )


def test_unknown_place_gets_422_with_candidates(client, counsellor):
    resp = client.post(
        URL, json={"profile": nurse_profile(location={"place": "Neustadt"})}, headers=counsellor
    )
    assert resp.status_code == 422
    (err,) = resp.get_json()["errors"]
    assert err["field"] == "profile.location.place"
    assert "Neustadt an der Weinstraße" in err["message"]
    resp = client.post(
        URL, json={"profile": nurse_profile(location={"place": "Atlantis"})}, headers=counsellor
    )
    assert "closest" in resp.get_json()["errors"][0]["message"]


def test_invalid_profile_names_fields(client, counsellor):
    resp = client.post(
        URL, json={"profile": nurse_profile(age=-3, needs=["blabla"])}, headers=counsellor
    )
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.get_json()["errors"]}
    assert fields == {"profile.age"}
    resp = client.post(URL, json={"profile": nurse_profile(needs=["blabla"])}, headers=counsellor)
    assert {e["field"] for e in resp.get_json()["errors"]} == {"profile.needs.0"}
    assert (
        client.post(URL, json={}, headers=counsellor).get_json()["errors"][0]["field"] == "profile"
    )


def test_explain_hamburg_course_and_c1_course(client, counsellor, catalogue):
    resp = client.post(
        f"{URL}/explain",
        json={"profile": nurse_profile(), "offer_id": catalogue["ik-hamburg"]},
        headers=counsellor,
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["eligible"] is False and body["waitlist"] is False
    failed = {r["code"]: r["text"] for r in body["rules"] if not r["passed"]}
    assert list(failed) == ["distance"] and "beyond the person's 25 km" in failed["distance"]
    assert len(body["rules"]) == 15  # with "profession"
    resp = client.post(
        f"{URL}/explain",
        json={"profile": nurse_profile(), "offer_id": catalogue["c1-wetzlar"]},
        headers=counsellor,
    )
    failed = {r["code"]: r["text"] for r in resp.get_json()["rules"] if not r["passed"]}
    assert failed == {"german_level": "needs German B2; the person's level is A2"}


def test_explain_agrees_with_recommendation(client, counsellor, catalogue):
    body = client.post(
        URL, json={"profile": nurse_profile(), "k": 50}, headers=counsellor
    ).get_json()
    shown = {r["offer_id"] for r in body["results"]}
    for offer_id in catalogue.values():
        e = client.post(
            f"{URL}/explain",
            json={"profile": nurse_profile(), "offer_id": offer_id},
            headers=counsellor,
        ).get_json()
        assert e["eligible"] == (offer_id in shown)


def test_explain_unknown_offer_is_404(client, counsellor):
    resp = client.post(
        f"{URL}/explain", json={"profile": nurse_profile(), "offer_id": "nope"}, headers=counsellor
    )
    assert resp.status_code == 404


def test_an_agency_edit_shows_in_the_next_request(client, counsellor, catalogue, make_token):
    agency = make_token("agency", agency_id="vhs-wetzlar")
    before = client.post(URL, json={"profile": nurse_profile()}, headers=counsellor).get_json()
    assert [w["offer_id"] for w in before["waitlist"]] == [catalogue["ik-voll"]]
    resp = client.patch(
        f"/v1/offers/{catalogue['ik-voll']}",
        json={"capacity_free": 2},
        headers={**agency, "If-Match": "1"},
    )
    assert resp.status_code == 200
    after = client.post(URL, json={"profile": nurse_profile()}, headers=counsellor).get_json()
    assert after["waitlist"] == []
    assert catalogue["ik-voll"] in {r["offer_id"] for r in after["results"]}


def test_the_ranker_can_be_swapped(app, client, counsellor, catalogue, monkeypatch):
    class Constant:
        version = "test-v9"
        feature_names = ("distance_km",)

        def score(self, features):
            return -features[:, 0]

    from models.serving import Assignment

    monkeypatch.setattr(
        "service.ranking.ranker_for", lambda _centre, _ref: Assignment(Constant(), None)
    )
    body = client.post(URL, json={"profile": nurse_profile()}, headers=counsellor).get_json()
    assert body["model_version"] == "test-v9"


def test_openapi_documents_the_endpoints(client):
    doc = client.get("/openapi.json").get_json()
    post = doc["paths"]["/v1/recommendations"]["post"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "RecommendationOut"
    )
    assert "/v1/recommendations/explain" in doc["paths"]
    assert "ProfileIn" in doc["components"]["schemas"]


def test_admin_without_a_centre_may_not_name_a_person(app, client, make_token, catalogue):
    """A request stored without a centre could never be exported or erased."""
    from sqlalchemy import func, select

    from matcher.tables import RecommendationRequest

    admin = make_token("admin")
    resp = client.post(
        URL, json={"profile": nurse_profile(person_ref="MBE/2026/017")}, headers=admin
    )
    assert resp.status_code == 422
    error = resp.get_json()["errors"][0]
    assert error["field"] == "profile.person_ref" and "centre" in error["message"]
    with transaction(app.extensions["lotse"].sessions) as s:
        assert s.scalar(select(func.count()).select_from(RecommendationRequest)) == 0
    # without a person, or as admin of a centre, it is served
    anonymous = nurse_profile(person_ref=None)
    assert client.post(URL, json={"profile": anonymous}, headers=admin).status_code == 200
    scoped = make_token("admin", centre_id="mbe-wetzlar")
    resp = client.post(
        URL, json={"profile": nurse_profile(person_ref="MBE/2026/017")}, headers=scoped
    )
    assert resp.status_code == 200, resp.get_json()
    export = client.get(
        "/v1/persons/export",
        headers=scoped,
        query_string={"person_ref": "MBE/2026/017", "centre_id": "mbe-wetzlar"},
    )
    assert len(export.get_json()["recommendations"]) == 1


def test_features_served_equal_those_recomputed_at_the_request_time(
    app, client, counsellor, catalogue, make_token
):
    """Training reads the features stored with each impression; they must be exactly what
    the engine computes for that request at its time — outcome history included (as of the
    request: every referral step recorded before it, none after)."""
    from datetime import UTC, datetime

    import numpy as np
    from sqlalchemy import select

    from casework.outcomes import events_after
    from lotse.settings import current
    from matcher.engine import rank_offers
    from matcher.features import FEATURE_NAMES
    from matcher.history import OutcomeHistory
    from matcher.profile import resolve_profile, validate_profile
    from matcher.snapshot import Snapshot, load_offers
    from matcher.tables import Impression, RecommendationRequest

    admin = make_token("admin")
    first = client.post(URL, json={"profile": nurse_profile(person_ref="P-a")}, headers=counsellor)
    body = first.get_json()
    for offer in body["results"][:3]:
        made = client.post(
            "/v1/referrals",
            json={"request_id": body["request_id"], "offer_id": offer["offer_id"], "consent": True},
            headers=counsellor,
        ).get_json()
        for status in ("accepted", "enrolled", "completed"):
            client.patch(f"/v1/referrals/{made['id']}", json={"status": status}, headers=admin)
    profile = nurse_profile(person_ref="P-b")
    second = client.post(URL, json={"profile": profile}, headers=counsellor).get_json()
    later = client.post(
        "/v1/referrals",
        json={
            "request_id": second["request_id"],
            "offer_id": second["results"][0]["offer_id"],
            "consent": True,
        },
        headers=counsellor,
    ).get_json()
    client.patch(
        f"/v1/referrals/{later['id']}",
        json={"status": "declined", "reason": "other"},
        headers=counsellor,
    )  # after the request: must not count for it
    with app.extensions["lotse"].sessions() as s:
        served_at = s.get(RecommendationRequest, second["request_id"]).served_at
        stored = {
            i.offer_id: i.features
            for i in s.scalars(
                select(Impression).where(Impression.request_id == second["request_id"])
            )
        }
        history = OutcomeHistory(current().history_half_life_days)
        history.apply(
            sorted(
                (e for e in events_after(s, 0) if e.at <= served_at),
                key=lambda e: (e.at, e.event_id),
            )
        )
        snapshot = Snapshot.from_records(load_offers(s))
    recomputed = rank_offers(
        snapshot,
        resolve_profile(validate_profile(profile)),
        history=history,
        now=served_at.astimezone(UTC) if served_at.tzinfo else served_at.replace(tzinfo=UTC),
    )
    assert stored and datetime.now(UTC) >= served_at
    assert any(stored[o]["offer_outcome_evidence"] > 0 for o in stored)
    for s in recomputed.results:
        if s.offer_id in stored:
            served = [stored[s.offer_id][n] for n in FEATURE_NAMES]
            np.testing.assert_allclose(
                np.array([np.nan if v is None else v for v in served], dtype=float),
                s.features,
                rtol=1e-6,
                equal_nan=True,
            )
