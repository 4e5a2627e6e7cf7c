"""``/v1/agreements`` over HTTP: the whole casework journey (suggestions → agreement →
print → signatures → enrolment → review → closing → report → training data), scope (403
for another centre on every endpoint, 401 without a token), and the print view."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from casework import monitoring
from casework.agreements import add_months
from lotse.db import transaction
from tests.casework.cases import draft, signed
from tests.matcher.catalogue import SCENARIO, nurse_profile, store_offers
from tests.races import ROUNDS, failures, race

URL = "/v1/agreements"


@pytest.fixture
def tokens(make_token):
    return {
        "counsellor": make_token("counsellor", centre_id="mbe-wetzlar"),
        "other": make_token("counsellor", centre_id="mbe-hamm"),
        "agency": make_token("agency", agency_id="vhs-wetzlar"),
        "analyst": make_token("analyst"),
        "admin": make_token("admin"),
    }


@pytest.fixture
def catalogue(app):
    future = {k: {**v} for k, v in SCENARIO.items()}
    for v in future.values():  # keep the scenario valid whatever today is
        if v.get("end_date"):
            v["end_date"] = "2099-12-31"
        if v.get("start_date"):
            v["start_date"] = "2099-01-04"
    with transaction(app.extensions["lotse"].sessions) as session:
        return store_offers(session, future)


def suggestions(client, tokens, person_ref="case-4711"):
    resp = client.post(
        "/v1/recommendations",
        json={"profile": nurse_profile(person_ref=person_ref)},
        headers=tokens["counsellor"],
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def one_per_need(rec):
    picked = {}
    for r in rec["results"]:
        picked.setdefault(r["need"], r["offer_id"])
    return picked


def test_the_done_when_journey(app, client, tokens, catalogue):
    today = date.today()
    signed_on = today - timedelta(days=95)
    c, agency = tokens["counsellor"], tokens["agency"]
    # a counsellor records a person and gets suggestions …
    rec = suggestions(client, tokens)
    picked = one_per_need(rec)
    assert set(picked) == {"language", "childcare", "recognition"}
    # … and turns three of them into an agreement
    body = {
        "person_ref": "case-4711",
        "start_date": signed_on.isoformat(),
        "goals": [
            {"category": "language", "priority": 1, "target": "B1 bis Juni 2027"},
            {"category": "childcare", "priority": 1, "target": "Kita-Platz für die Jüngste"},
            {"category": "recognition", "priority": 2, "target": "Anerkennung als Pflegefachfrau"},
        ],
        "steps": [
            {"kind": "referral", "request_id": rec["request_id"], "offer_id": picked[need],
             "consent": True, "responsible": "agency",
             "due": (signed_on + timedelta(days=60)).isoformat()}
            for need in ("language", "childcare", "recognition")
        ] + [{"kind": "action", "text": "Zeugnisse übersetzen lassen", "responsible": "person",
              "due": (signed_on + timedelta(days=30)).isoformat(), "goal": 2}],
    }  # fmt: skip
    resp = client.post(URL, json=body, headers=c)
    assert resp.status_code == 201, resp.get_json()
    agreement = resp.get_json()
    aid = agreement["id"]
    assert resp.headers["Location"] == f"{URL}/{aid}"
    assert agreement["status"] == "draft" and agreement["municipality"] == "Wetzlar"
    assert [s["goal"] for s in agreement["steps"]] == [0, 1, 2, 2]
    referral_ids = [s["referral"]["id"] for s in agreement["steps"][:3]]
    assert {s["referral"]["request_id"] for s in agreement["steps"][:3]} == {rec["request_id"]}
    # prints it (German) and both sides sign
    page = client.get(f"{URL}/{aid}/print?lang=de", headers=c)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Integrationsvereinbarung" in page.get_data(as_text=True)
    for party in ("person", "counsellor"):
        resp = client.post(
            f"{URL}/{aid}/sign", json={"party": party, "date": signed_on.isoformat()}, headers=c
        )
        assert resp.status_code == 200, resp.get_json()
    agreement = resp.get_json()
    assert agreement["status"] == "signed" and agreement["binding"] is True
    assert agreement["next_review"] == add_months(signed_on, 3).isoformat()
    # the agency accepts and enrols; the course is completed
    for rid in referral_ids:
        for status in ("accepted", "enrolled"):
            resp = client.patch(f"/v1/referrals/{rid}", json={"status": status}, headers=agency)
            assert resp.status_code == 200, resp.get_json()
    resp = client.patch(f"/v1/referrals/{referral_ids[0]}", json={"status": "completed"}, headers=c)
    assert resp.status_code == 200
    # three months on, the review is due
    listing = client.get(f"{URL}?review_due=true", headers=c).get_json()
    assert [i["id"] for i in listing["items"]] == [aid] and listing["reviews_due"] == 1
    assert [s["text"] for s in listing["overdue_steps"]] == ["Zeugnisse übersetzen lassen"]
    steps = agreement["steps"]
    review = {
        "date": today.isoformat(),
        "steps": [{"step_id": steps[0]["id"], "status": "done"},
                  {"step_id": steps[1]["id"], "status": "done"},
                  {"step_id": steps[3]["id"], "status": "obstacle"}],
        "note": "Kurs abgeschlossen, Kind in der Kita",
        "successes": "B1 bestanden",
        "obstacles": [{"code": "documents_missing", "step_id": steps[3]["id"],
                       "text": "Zeugnis fehlt"}],
    }  # fmt: skip
    resp = client.post(f"{URL}/{aid}/reviews", json=review, headers=c)
    assert resp.status_code == 201, resp.get_json()
    agreement = resp.get_json()
    assert agreement["next_review"] == add_months(today, 3).isoformat()
    assert agreement["reviews"][0]["obstacles"][0]["code"] == "documents_missing"
    assert client.get(f"{URL}?review_due=true", headers=c).get_json()["items"] == []
    # … and closes the agreement
    outcomes = {"outcomes": [{"goal": 0, "outcome": "reached"},
                             {"goal": 1, "outcome": "reached"},
                             {"goal": 2, "outcome": "partly_reached"}]}  # fmt: skip
    resp = client.post(f"{URL}/{aid}/close", json=outcomes, headers=c)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "closed"
    assert client.get(URL, headers=c).get_json()["items"] == []
    assert [i["id"] for i in client.get(f"{URL}?status=closed", headers=c).get_json()["items"]] == [
        aid
    ]
    # the monitoring report of the quarter it was signed in counts it (with four more people
    # in Wetzlar, so that the group is shown) — but nothing about this one person alone
    with transaction(app.extensions["lotse"].sessions) as s:
        for i in range(4):
            signed(s, f"case-{i}", [picked["language"], picked["recognition"]], on=signed_on)
    period = monitoring.Period.containing(signed_on).label
    report = client.get(
        f"/v1/reports/monitoring?by=municipality&period={period}", headers=tokens["analyst"]
    )
    assert report.status_code == 200, report.get_json()
    wetzlar = next(g for g in report.get_json()["groups"] if g["group"] == "Wetzlar")
    assert wetzlar["suppressed"] is False and wetzlar["agreements_signed"] == 5
    assert wetzlar["goals"] == 15 and wetzlar["goals_not_reached"] == 0
    assert wetzlar["goals_reached"] is None and wetzlar["goals_partly_reached"] is None
    assert report.get_json()["total"]["top_obstacles"] == []  # one person's obstacle
    # and the completed referral is training data for the ranker
    from casework.outcomes import referral_outcomes
    from models.training import build_training_frame, load_impressions

    with transaction(app.extensions["lotse"].sessions) as s:
        frame = build_training_frame(load_impressions(s), referral_outcomes(s))
    row = frame[
        (frame["request_id"] == rec["request_id"]) & (frame["offer_id"] == picked["language"])
    ]
    assert list(row["status"]) == ["completed"] and list(row["label"]) == [3]


@pytest.fixture
def agreement(client, tokens, catalogue):
    rec = suggestions(client, tokens)
    picked = one_per_need(rec)
    body = {
        "person_ref": "case-4711",
        "goals": [{"category": "language", "target": "B1"}],
        "steps": [{"kind": "referral", "request_id": rec["request_id"],
                   "offer_id": picked["language"], "consent": True, "goal": 0}],
    }  # fmt: skip
    resp = client.post(URL, json=body, headers=tokens["counsellor"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


ENDPOINTS = [
    ("get", "", None),
    ("patch", "", {"municipality": "Hamm"}),
    ("post", "/sign", {"party": "person"}),
    ("post", "/reviews", {}),
    ("post", "/close", {"outcomes": []}),
    ("get", "/print", None),
]


def test_another_centre_gets_403_and_no_token_401_everywhere(client, tokens, agreement):
    aid = agreement["id"]
    for method, suffix, body in ENDPOINTS:
        call = getattr(client, method)
        kwargs = {"json": body} if body is not None else {}
        resp = call(f"{URL}/{aid}{suffix}", headers=tokens["other"], **kwargs)
        assert resp.status_code == 403, (method, suffix, resp.get_json())
        assert resp.mimetype == "application/problem+json"
        assert call(f"{URL}/{aid}{suffix}", **kwargs).status_code == 401
        for role in ("agency", "analyst"):
            assert call(f"{URL}/{aid}{suffix}", headers=tokens[role], **kwargs).status_code == 403
    assert client.get(URL).status_code == 401
    assert client.post(URL, json={"person_ref": "x"}).status_code == 401
    assert client.get(URL, headers=tokens["other"]).get_json()["items"] == []
    assert client.get(f"{URL}?centre_id=mbe-wetzlar", headers=tokens["other"]).status_code == 403
    body = {"person_ref": "x", "centre_id": "mbe-wetzlar"}
    assert client.post(URL, json=body, headers=tokens["other"]).status_code == 403
    # admin acts everywhere, and reads the agreement
    assert client.get(f"{URL}/{aid}", headers=tokens["admin"]).status_code == 200
    assert len(client.get(URL, headers=tokens["admin"]).get_json()["items"]) == 1


def test_validation_conflicts_and_versions(client, tokens, agreement):
    c, aid = tokens["counsellor"], agreement["id"]
    resp = client.post(URL, json={"person_ref": "y", "goals": [{"category": "sprache"}]}, headers=c)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "goals.0.category"
    resp = client.post(URL, json={"person_ref": "case-4711"}, headers=c)
    assert resp.status_code == 409  # one open agreement per person
    step = {**agreement["steps"][0]}
    resp = client.patch(
        f"{URL}/{aid}", json={"municipality": "Wetzlar"}, headers={**c, "If-Match": '"7"'}
    )
    assert resp.status_code == 412
    resp = client.patch(
        f"{URL}/{aid}",
        json={"steps": [{"kind": "action", "text": "Kita-Anmeldung", "responsible": "person"}]},
        headers={**c, "If-Match": str(agreement["version"])},
    )
    assert resp.status_code == 200 and len(resp.get_json()["steps"]) == 2
    assert resp.headers["ETag"] == f'"{agreement["version"] + 1}"'
    assert client.post(f"{URL}/{aid}/reviews", json={}, headers=c).status_code == 409
    resp = client.post(f"{URL}/{aid}/sign", json={"party": "witness"}, headers=c)
    assert resp.status_code == 422
    for party in ("person", "counsellor"):
        assert client.post(f"{URL}/{aid}/sign", json={"party": party}, headers=c).status_code == 200
    resp = client.patch(f"{URL}/{aid}", json={"goals": []}, headers=c)
    assert resp.status_code == 409
    resp = client.post(f"{URL}/{aid}/close", json={"outcomes": []}, headers=c)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "outcomes"
    resp = client.get(f"{URL}?status=nonsense", headers=c)
    assert resp.status_code == 422
    assert step["referral"]["status"] == "proposed"


def test_print_view_in_german_and_english(client, tokens, agreement):
    c, aid = tokens["counsellor"], agreement["id"]
    client.post(f"{URL}/{aid}/sign", json={"party": "person", "date": "2026-01-15"}, headers=c)
    de = client.get(f"{URL}/{aid}/print?lang=de", headers=c)
    en = client.get(f"{URL}/{aid}/print?lang=en", headers=c)
    assert de.headers["Content-Language"] == "de" and en.headers["Content-Language"] == "en"
    de, en = de.get_data(as_text=True), en.get_data(as_text=True)
    for html in (de, en):
        assert 'id="signature-person"' in html and 'id="signature-counsellor"' in html
        assert "case-4711" in html and "@media print" in html
        assert "<script" not in html.lower()
        assert agreement["steps"][0]["referral"]["offer_title"].split(" – ")[0] in html
    assert "Integrationsvereinbarung" in de and "Sprache" in de and "Ziele" in de
    assert "Ratsuchende Person" in de and "Beratungsfachkraft" in de
    assert "unterschrieben am 15.01.2026" in de and "Entwurf" in de
    assert "Integration agreement" in en and "Language" in en and "Goals" in en
    assert "Person seeking advice" in en and "Counsellor" in en
    assert "signed on 2026-01-15" in en
    assert client.get(f"{URL}/{aid}/print?lang=fr", headers=c).status_code == 422
    assert "Integrationsvereinbarung" in client.get(f"{URL}/{aid}/print", headers=c).get_data(
        as_text=True
    )


# --- two counsellors at once: requests in threads, released together ----------------------


def _at_once(app, *requests):
    """Send ``(method, path, body, headers)`` requests from threads, each with its own client,
    released together; their responses in order."""

    def send(method, path, body, headers):
        def action():
            resp = getattr(app.test_client(), method)(path, json=body, headers=headers)
            return resp.status_code, resp.get_json()

        return action

    outcomes = race(*(send(*r) for r in requests))
    assert not failures(outcomes), outcomes
    return outcomes


def _made(app, catalogue, make, person_ref, **kwargs):
    with transaction(app.extensions["lotse"].sessions) as s:
        a = make(s, person_ref, [catalogue["ik-wetzlar"]], **kwargs)
    return a.id, a.version


def test_two_changes_with_one_if_match_one_wins_and_one_gets_412(app, tokens, catalogue):
    c = tokens["counsellor"]
    for r in range(ROUNDS):
        aid, version = _made(app, catalogue, draft, f"case-r{r}")
        headers = {**c, "If-Match": f'"{version}"'}
        outcomes = _at_once(
            app,
            ("patch", f"{URL}/{aid}", {"municipality": "Hamm"}, headers),
            ("patch", f"{URL}/{aid}", {"municipality": "Gießen"}, headers),
        )
        assert sorted(status for status, _ in outcomes) == [200, 412], outcomes
        [won] = [body for status, body in outcomes if status == 200]
        now = app.test_client().get(f"{URL}/{aid}", headers=c).get_json()
        assert (now["version"], now["municipality"]) == (version + 1, won["municipality"])


def test_both_sides_signing_at_once_over_http(app, tokens, catalogue):
    c, on = tokens["counsellor"], date.today() - timedelta(days=3)
    for r in range(ROUNDS):
        aid, version = _made(app, catalogue, draft, f"case-r{r}")
        outcomes = _at_once(
            app,
            ("post", f"{URL}/{aid}/sign", {"party": "person", "date": on.isoformat()}, c),
            ("post", f"{URL}/{aid}/sign", {"party": "counsellor", "date": on.isoformat()}, c),
        )
        assert [status for status, _ in outcomes] == [200, 200], outcomes
        assert sorted(body["status"] for _, body in outcomes) == ["draft", "signed"]
        now = app.test_client().get(f"{URL}/{aid}", headers=c).get_json()
        assert (now["status"], now["version"], now["next_review"]) == (
            "signed",
            version + 2,
            add_months(on, 3).isoformat(),
        )


def test_a_review_and_a_closing_with_one_if_match_exactly_one_wins(app, tokens, catalogue):
    c, today = tokens["counsellor"], date.today()
    review = {"date": (today - timedelta(days=2)).isoformat(), "note": "halfway"}
    close = {
        "date": (today - timedelta(days=1)).isoformat(),
        "outcomes": [{"goal": g, "outcome": "reached"} for g in range(3)],
    }
    for r in range(ROUNDS):
        on = today - timedelta(days=30)
        aid, version = _made(app, catalogue, signed, f"case-r{r}", on=on)
        headers = {**c, "If-Match": str(version)}
        outcomes = _at_once(
            app,
            ("post", f"{URL}/{aid}/reviews", review, headers),
            ("post", f"{URL}/{aid}/close", close, headers),
        )
        statuses = [status for status, _ in outcomes]
        assert statuses in ([201, 409], [201, 412], [409, 200], [412, 200]), outcomes
        now = app.test_client().get(f"{URL}/{aid}", headers=c).get_json()
        assert now["version"] == version + 1
        assert (now["status"], len(now["reviews"])) == (
            ("signed", 1) if statuses[0] == 201 else ("closed", 0)
        )


def test_two_creations_for_one_person_at_once_give_one_agreement_and_a_409(app, tokens, catalogue):
    c = tokens["counsellor"]
    for r in range(ROUNDS):
        body = {"person_ref": f"case-r{r}", "goals": [{"category": "language"}]}
        outcomes = _at_once(app, ("post", URL, body, c), ("post", URL, body, c))
        assert sorted(status for status, _ in outcomes) == [201, 409], outcomes
        [lost] = [body for status, body in outcomes if status == 409]
        assert "already has an open agreement" in lost["detail"]
    listing = app.test_client().get(URL, headers=c).get_json()
    assert sorted(i["person_ref"] for i in listing["items"]) == [
        f"case-r{r}" for r in range(ROUNDS)
    ]
