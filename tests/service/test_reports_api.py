"""``/v1/reports/monitoring`` over HTTP: roles, calendar quarters, the three formats, and
that no number about fewer than five people leaves it."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update

from casework import agreements as ag
from casework import monitoring
from casework.tables import Referral, ReferralEvent
from lotse.db import transaction
from tests.casework.cases import COUNSELLOR, draft, signed, store_offers

URL = "/v1/reports/monitoring"
#: A quarter that is over whenever the tests run, and a day in it.
PERIOD, ON = "2026-Q3", date(2026, 8, 10)


@contextmanager
def backdated(s):
    """Referrals made in the block (today) → made ``ON``, in the report's quarter."""
    before = set(s.scalars(select(Referral.id)))
    yield
    ids = list(set(s.scalars(select(Referral.id))) - before)
    at = datetime(ON.year, ON.month, ON.day, 12, tzinfo=UTC)
    s.execute(update(Referral).where(Referral.id.in_(ids)).values(created_at=at, updated_at=at))
    s.execute(update(ReferralEvent).where(ReferralEvent.referral_id.in_(ids)).values(at=at))


@pytest.fixture
def population(app):
    """Five people in Wetzlar, four in Hamm."""
    with transaction(app.extensions["lotse"].sessions) as s, backdated(s):
        offers = store_offers(s)
        for i in range(5):
            signed(s, f"W-{i}", [offers["ik"]], on=ON)
        for i in range(4):
            signed(s, f"H-{i}", [offers["ik-hamm"]], municipality="Hamm", on=ON)
    return offers


def test_roles(client, make_token):
    assert client.get(URL).status_code == 401
    for role, scope in (("counsellor", {"centre_id": "mbe-wetzlar"}),
                        ("agency", {"agency_id": "vhs-wetzlar"})):  # fmt: skip
        resp = client.get(URL, headers=make_token(role, **scope))
        assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert client.get(URL, headers=make_token("admin")).status_code == 200


def test_json_csv_and_png(client, make_token, population):
    analyst = make_token("analyst")
    body = client.get(f"{URL}?by=municipality&period={PERIOD}", headers=analyst).get_json()
    assert body["period"] == PERIOD and body["period_start"] == "2026-07-01"
    wetzlar, other = body["groups"]
    # Hamm's four people are counted as "(other)", without the name
    assert other["group"] == monitoring.OTHER and other["suppressed"] is True
    assert other["people"] is None and "Hamm" not in str(body)
    # the other row alone would be revealed by total − Wetzlar: Wetzlar is withheld with it
    assert wetzlar["group"] == "Wetzlar" and wetzlar["people"] is None
    assert body["total"]["people"] == 9 and body["total"]["agreements_signed"] == 9
    assert body["min_group_size"] == 5
    by_centre = client.get(f"{URL}?by=centre&period={PERIOD}", headers=analyst).get_json()
    assert by_centre["groups"][0]["group"] == "mbe-wetzlar"
    assert by_centre["groups"][0]["agreements_signed"] == 9
    resp = client.get(f"{URL}?by=category&format=csv&period={PERIOD}", headers=analyst)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert f"monitoring-category-{PERIOD}.csv" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["group"] for r in rows] == ["childcare", "language", "recognition", "total"]
    assert rows[1]["referrals_proposed"] == "9" and rows[1]["suppressed_cells"] == ""
    resp = client.get(f"{URL}?format=png&period={PERIOD}", headers=analyst)
    assert resp.mimetype == "image/png" and resp.data[:4] == b"\x89PNG"
    assert client.get(f"{URL}?by=person", headers=analyst).status_code == 422
    assert client.get(f"{URL}?format=xlsx", headers=analyst).status_code == 422


def test_periods_are_quarters_that_are_over(client, make_token, population):
    analyst = make_token("analyst")
    latest = monitoring.latest_period()
    assert client.get(URL, headers=analyst).get_json()["period"] == latest.label
    running = latest.next().label
    for query in (
        f"period={running}",
        "period=2026-07",
        "period=2026-Q3x",
        "since=2026-07-01",
        "until=2026-09-30&period=2026-Q3",
    ):
        resp = client.get(f"{URL}?{query}", headers=analyst)
        assert resp.status_code == 422, query
        assert resp.get_json()["errors"][0]["field"] == "period", query
    resp = client.get(f"{URL}?period={running}", headers=analyst)
    assert "not over yet" in resp.get_json()["errors"][0]["message"]
    assert client.get(f"{URL}?period=2025-Q1", headers=analyst).get_json()["groups"] == []


def test_thirteen_people_do_not_carry_one_persons_outcomes(app, client, make_token):
    """The security review's case: referrals of twelve made the group large, and the one
    person with an agreement had their outcomes and health obstacle published."""
    with transaction(app.extensions["lotse"].sessions) as s, backdated(s):
        offers = store_offers(s)
        for i in range(12):
            draft(s, f"D-{i}", [offers["ik"]])
        case = signed(s, "P-1", [offers["ik"]], on=ON)
    with transaction(app.extensions["lotse"].sessions) as s:
        ag.add_review(s, COUNSELLOR, case.id, ag.ReviewIn(date=ON, obstacles=[{"code": "health"}]))
        outcomes = [{"goal": g, "outcome": "reached"} for g in range(3)]
        ag.close_agreement(s, COUNSELLOR, case.id, ag.CloseIn(date=ON, outcomes=outcomes))
    analyst = make_token("analyst")
    for by in monitoring.GROUPINGS:
        body = client.get(f"{URL}?by={by}&period={PERIOD}", headers=analyst).get_json()
        for row in [*body["groups"], body["total"]]:
            assert row["agreements_signed"] is None and row["goals_reached"] is None, (by, row)
            assert not row["top_obstacles"], (by, row)
        text = client.get(f"{URL}?by={by}&period={PERIOD}&format=csv", headers=analyst).data
        assert b"health" not in text
    wetzlar = client.get(f"{URL}?period={PERIOD}", headers=analyst).get_json()["groups"][0]
    assert wetzlar["people"] == 13 and wetzlar["referrals_proposed"] == 13
