"""``/v1/reports/monitoring`` over HTTP: roles, the three formats, suppression below five."""

from __future__ import annotations

import csv
import io

import pytest

from lotse.db import transaction
from tests.casework.cases import signed, store_offers

URL = "/v1/reports/monitoring"


@pytest.fixture
def population(app):
    """Five people in Wetzlar, four in Hamm."""
    with transaction(app.extensions["lotse"].sessions) as s:
        offers = store_offers(s)
        for i in range(5):
            signed(s, f"W-{i}", [offers["ik"]])
        for i in range(4):
            signed(s, f"H-{i}", [offers["ik-hamm"]], municipality="Hamm")


def test_roles(client, make_token):
    assert client.get(URL).status_code == 401
    for role, scope in (("counsellor", {"centre_id": "mbe-wetzlar"}),
                        ("agency", {"agency_id": "vhs-wetzlar"})):  # fmt: skip
        resp = client.get(URL, headers=make_token(role, **scope))
        assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert client.get(URL, headers=make_token("admin")).status_code == 200


def test_json_csv_and_png(client, make_token, population):
    analyst = make_token("analyst")
    body = client.get(f"{URL}?by=municipality", headers=analyst).get_json()
    hamm, wetzlar = body["groups"]
    assert hamm["group"] == "Hamm" and hamm["suppressed"] is True and hamm["people"] is None
    # Hamm alone would be revealed by total − Wetzlar: Wetzlar is suppressed with it
    assert wetzlar["suppressed"] is True
    assert body["total"]["people"] == 9 and body["total"]["agreements_signed"] == 9
    assert body["min_group_size"] == 5
    by_centre = client.get(f"{URL}?by=centre", headers=analyst).get_json()
    assert by_centre["groups"][0]["group"] == "mbe-wetzlar"
    assert by_centre["groups"][0]["agreements_signed"] == 9
    resp = client.get(f"{URL}?by=category&format=csv", headers=analyst)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["group"] for r in rows] == ["childcare", "language", "recognition", "total"]
    assert rows[1]["referrals_proposed"] == "9"
    resp = client.get(f"{URL}?format=png", headers=analyst)
    assert resp.mimetype == "image/png" and resp.data[:4] == b"\x89PNG"
    assert client.get(f"{URL}?by=person", headers=analyst).status_code == 422
    assert client.get(f"{URL}?format=xlsx", headers=analyst).status_code == 422
    resp = client.get(f"{URL}?since=2099-01-01", headers=analyst)
    assert resp.get_json()["groups"] == [] and resp.get_json()["total"]["suppressed"] is True
