"""``/v1/persons/{person_ref}``: export and erasure over HTTP — scope, admin's centre_id,
and that erasure leaves the monitoring totals as they were."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from casework.tables import AuditEntry
from lotse.db import transaction
from lotse.pseudonyms import person_key
from tests.casework.cases import draft, signed, store_offers

URL = "/v1/persons"


@pytest.fixture
def population(app):
    with transaction(app.extensions["lotse"].sessions) as s:
        offers = store_offers(s)
        cases = [signed(s, f"P-{i}", [offers["ik"], offers["kita"]]) for i in range(5)]
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
    before = client.get("/v1/reports/monitoring?by=category", headers=analyst).get_json()
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
    after = client.get("/v1/reports/monitoring?by=category", headers=analyst).get_json()
    assert before["groups"] == after["groups"] and before["total"] == after["total"]
    gone = client.get(f"/v1/agreements/{population[0].id}", headers=tokens["counsellor"])
    assert gone.status_code == 404
    export = client.get(f"{URL}/P-0/export", headers=tokens["counsellor"]).get_json()
    assert export["agreements"] == [] and export["referrals"] == []
    assert [e["action"] for e in export["audit"]] == ["erase", "export"]
