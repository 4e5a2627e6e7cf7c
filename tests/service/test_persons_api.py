"""``/v1/persons/{person_ref}``: export and erasure over HTTP — scope, admin's centre_id,
and that erasure leaves the monitoring totals as they were."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from casework.tables import AuditEntry
from lotse.db import transaction
from lotse.pseudonyms import person_key
from tests.casework.cases import draft, signed, store_offers

URL = "/v1/persons"


#: A quarter that is over whenever the tests run, and a day in it.
PERIOD, ON = "2026-Q3", date(2026, 8, 10)


@pytest.fixture
def population(app):
    with transaction(app.extensions["lotse"].sessions) as s:
        offers = store_offers(s)
        cases = [signed(s, f"P-{i}", [offers["ik"], offers["kita"]], on=ON) for i in range(5)]
        draft(s, "P-draft", [offers["iq"]])
    return cases


@pytest.fixture
def tokens(make_token):
    return {
        "counsellor": make_token("counsellor", centre_id="mbe-wetzlar"),
        "other": make_token("counsellor", centre_id="mbe-hamm"),
        "admin": make_token("admin"),
        "analyst": make_token("analyst"),
        "agency": make_token("agency", agency_id="vhs-wetzlar"),
    }


def test_export_one_person(client, tokens, population):
    resp = client.get(f"{URL}/P-0/export", headers=tokens["counsellor"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["person_ref"] == "P-0" and body["centre_id"] == "mbe-wetzlar"
    assert [a["id"] for a in body["agreements"]] == [population[0].id]
    assert len(body["referrals"]) == 2 and len(body["recommendations"]) == 1
    assert body["audit"][-1]["action"] == "export"
    assert resp.headers["Cache-Control"] == "no-store"
    assert not any(p.id in resp.get_data(as_text=True) for p in population[1:])
    # another centre sees nothing of this centre's people, and may not name the centre
    assert client.get(f"{URL}/P-0/export", headers=tokens["other"]).get_json()["agreements"] == []
    resp = client.get(f"{URL}/P-0/export?centre_id=mbe-wetzlar", headers=tokens["other"])
    assert resp.status_code == 403
    resp = client.get(f"{URL}/P-0/export", headers=tokens["admin"])
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "centre_id"
    resp = client.get(f"{URL}/P-0/export?centre_id=mbe-wetzlar", headers=tokens["admin"])
    assert len(resp.get_json()["agreements"]) == 1
    assert client.get(f"{URL}/P-0/export").status_code == 401
    for role in ("analyst", "agency"):
        assert client.get(f"{URL}/P-0/export", headers=tokens[role]).status_code == 403
        assert client.delete(f"{URL}/P-0", headers=tokens[role]).status_code == 403


def test_erasure_keeps_the_report_totals(app, client, tokens, population):
    analyst = tokens["analyst"]
    report = f"/v1/reports/monitoring?by=category&period={PERIOD}"
    before = client.get(report, headers=analyst).get_json()
    with transaction(app.extensions["lotse"].sessions) as s:
        key = person_key("mbe-wetzlar", "P-0")
        audited = len(s.scalars(select(AuditEntry).where(AuditEntry.person_key == key)).all())
    assert audited >= 3  # create, sign, review … were audited under the key
    assert client.delete(f"{URL}/P-0").status_code == 401
    resp = client.delete(f"{URL}/P-0", headers=tokens["counsellor"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {
        "agreements_deleted": 0, "agreements_anonymised": 1, "referrals_anonymised": 2,
        "requests_anonymised": 1, "audit_entries_unlinked": audited,
    }  # fmt: skip
    resp = client.delete(f"{URL}/P-draft?centre_id=mbe-wetzlar", headers=tokens["admin"])
    assert resp.get_json()["agreements_deleted"] == 1
    after = client.get(report, headers=analyst).get_json()
    assert before["groups"] == after["groups"] and before["total"] == after["total"]
    assert after["total"]["agreements_signed"] == 5
    gone = client.get(f"/v1/agreements/{population[0].id}", headers=tokens["counsellor"])
    assert gone.status_code == 404
    export = client.get(f"{URL}/P-0/export", headers=tokens["counsellor"]).get_json()
    assert export["agreements"] == [] and export["referrals"] == []
    assert [e["action"] for e in export["audit"]] == ["erase", "export"]


#: References creation accepts that a path segment cannot carry as it is.
ODD_REFS = ["MBE/2026/017", "..", ".", "a.b", "%2F", "Ärztin-Ü 17/ä", "export", "erase", "x/export"]


@pytest.fixture
def odd_people(app):
    with transaction(app.extensions["lotse"].sessions) as s:
        offers = store_offers(s)
        return {ref: signed(s, ref, [offers["ik"]]).id for ref in [*ODD_REFS, "P-0"]}


@pytest.mark.parametrize("ref", ODD_REFS)
def test_export_and_erasure_with_the_reference_in_query_and_body(client, tokens, odd_people, ref):
    resp = client.get(
        f"{URL}/export", query_string={"person_ref": ref}, headers=tokens["counsellor"]
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["person_ref"] == ref and [a["id"] for a in body["agreements"]] == [odd_people[ref]]
    assert resp.headers["Cache-Control"] == "no-store"
    # another centre's counsellor finds nobody of that reference
    other = client.get(f"{URL}/export", query_string={"person_ref": ref}, headers=tokens["other"])
    assert other.get_json()["agreements"] == []
    resp = client.post(f"{URL}/erase", json={"person_ref": ref}, headers=tokens["counsellor"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["agreements_anonymised"] == 1
    again = client.get(
        f"{URL}/export", query_string={"person_ref": ref}, headers=tokens["counsellor"]
    )
    assert again.get_json()["agreements"] == []
    # nobody else was touched
    left = client.get(f"{URL}/export?person_ref=P-0", headers=tokens["counsellor"]).get_json()
    assert [a["id"] for a in left["agreements"]] == [odd_people["P-0"]]


def test_contract_paths_carry_slashes_and_percent_signs(client, tokens, odd_people):
    counsellor = tokens["counsellor"]
    for path, ref in (
        ("MBE/2026/017", "MBE/2026/017"),
        ("MBE%2F2026%2F017", "MBE/2026/017"),
        ("%252F", "%2F"),
        ("a.b", "a.b"),
        ("x/export", "x/export"),
        ("%C3%84rztin-%C3%9C%2017/%C3%A4", "Ärztin-Ü 17/ä"),
    ):
        resp = client.get(f"{URL}/{path}/export", headers=counsellor)
        assert resp.status_code == 200, (path, resp.get_json())
        assert resp.get_json()["person_ref"] == ref
        assert [a["id"] for a in resp.get_json()["agreements"]] == [odd_people[ref]], path
    resp = client.delete(f"{URL}/MBE/2026/017", headers=counsellor)
    assert resp.status_code == 200 and resp.get_json()["agreements_anonymised"] == 1
    resp = client.delete(f"{URL}/erase", headers=counsellor)  # a person called "erase"
    assert resp.status_code == 200 and resp.get_json()["agreements_anonymised"] == 1
    admin = tokens["admin"]
    resp = client.post(
        f"{URL}/erase", json={"person_ref": "a.b", "centre_id": "mbe-wetzlar"}, headers=admin
    )
    assert resp.status_code == 200 and resp.get_json()["agreements_anonymised"] == 1


def test_bad_references_and_bodies_are_422(client, tokens):
    counsellor = tokens["counsellor"]
    assert client.get(f"{URL}/export", headers=counsellor).status_code == 422
    for ref in ("", "   ", "x" * 101):
        resp = client.get(f"{URL}/export", query_string={"person_ref": ref}, headers=counsellor)
        assert resp.status_code == 422, ref
        assert resp.get_json()["errors"][0]["field"] == "person_ref"
        resp = client.post(f"{URL}/erase", json={"person_ref": ref}, headers=counsellor)
        assert resp.status_code == 422, ref
    assert client.post(f"{URL}/erase", json={}, headers=counsellor).status_code == 422
    assert client.post(f"{URL}/erase", json={"person_ref": "P-0"}).status_code == 401
    for role in ("analyst", "agency"):
        resp = client.post(f"{URL}/erase", json={"person_ref": "P-0"}, headers=tokens[role])
        assert resp.status_code == 403
        assert client.get(f"{URL}/export?person_ref=P-0", headers=tokens[role]).status_code == 403
