"""Monitoring: what counts (signed agreements only), the funnel, days to enrolment, the
grouping, suppression below five people (primary and secondary), and the CSV and PNG forms."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from casework import agreements as ag
from casework import monitoring, referrals
from casework.tables import Referral, ReferralEvent
from lotse.accounts import Principal
from lotse.db import transaction
from lotse.errors import Forbidden, InvalidInput
from tests.casework.cases import ANALYST, COUNSELLOR, TODAY, draft, signed, store_offers

VHS = Principal(role="agency", agency_id="vhs-wetzlar")


@pytest.fixture
def offers(sessions):
    with transaction(sessions) as s:
        return store_offers(s)


def people(sessions, offers, n, *, start=0, municipality="Wetzlar", keys=("ik",)):
    """``n`` people with signed agreements, each referred to the offers ``keys``."""
    with transaction(sessions) as s:
        return [
            signed(s, f"P-{start + i}", [offers[k] for k in keys], municipality=municipality)
            for i in range(n)
        ]


def report(sessions, by="municipality", **kw):
    with transaction(sessions) as s:
        return monitoring.monitoring_report(s, ANALYST, by, **kw)


def group(rep, name):
    return next(g for g in rep["groups"] if g["group"] == name)


def test_four_people_are_suppressed_five_are_shown(sessions, offers):
    people(sessions, offers, 4)
    rep = report(sessions)
    wetzlar = group(rep, "Wetzlar")
    assert wetzlar["suppressed"] is True
    assert all(wetzlar[k] is None for k in monitoring.NUMBERS)
    assert rep["total"]["suppressed"] is True and rep["total"]["people"] is None

    people(sessions, offers, 1, start=4)
    with transaction(sessions) as s:
        draft(s, "P-draft", [offers["ik"]])  # a draft adds a referral but no signed agreement
    rep = report(sessions)
    wetzlar = group(rep, "Wetzlar")
    assert wetzlar["suppressed"] is False
    assert wetzlar["people"] == 6  # five signed, one draft (its referral counts)
    assert wetzlar["agreements_signed"] == 5
    assert wetzlar["goals"] == 15 and wetzlar["goals_open"] == 15
    assert wetzlar["referrals_proposed"] == 6
    assert rep["total"]["agreements_signed"] == 5


def test_a_lone_small_group_takes_another_with_it(sessions, offers):
    people(sessions, offers, 6)
    people(sessions, offers, 2, start=10, municipality="Hamm", keys=("ik-hamm",))
    rep = report(sessions)
    assert group(rep, "Hamm")["suppressed"] is True
    # total − Wetzlar would reveal Hamm, so Wetzlar is suppressed too
    assert group(rep, "Wetzlar")["suppressed"] is True
    assert rep["total"]["suppressed"] is False and rep["total"]["people"] == 8
    people(sessions, offers, 5, start=20, municipality="Hamm", keys=("ik-hamm",))
    rep = report(sessions)
    assert [g["suppressed"] for g in rep["groups"]] == [False, False]


def test_funnel_days_to_enrolment_reasons_and_outcomes(sessions, offers):
    cases = people(sessions, offers, 5, keys=("ik", "kita"))
    with transaction(sessions) as s:
        rows = s.scalars(select(Referral).order_by(Referral.created_at, Referral.id)).all()
        ik = [r.id for r in rows if r.offer_id == offers["ik"]]
        kita = [r.id for r in rows if r.offer_id == offers["kita"]]
    with transaction(sessions) as s:
        for i, rid in enumerate(ik):
            referrals.change_status(s, VHS, rid, "accepted")
            if i < 3:
                referrals.change_status(s, VHS, rid, "enrolled")
                s.execute(
                    update(ReferralEvent)
                    .where(ReferralEvent.referral_id == rid, ReferralEvent.to_status == "enrolled")
                    .values(at=s.get(Referral, rid).created_at + timedelta(days=10 * (i + 1)))
                )
            if i == 0:
                referrals.change_status(s, VHS, rid, "completed")
        referrals.change_status(s, VHS, kita[0], "rejected_by_provider", "no_capacity")
        referrals.change_status(s, VHS, kita[1], "rejected_by_provider", "no_capacity")
        referrals.change_status(s, COUNSELLOR, kita[2], "declined", "too_far")
        referrals.change_status(s, VHS, kita[3], "enrolled")  # straight from proposed
        a = cases[0]
        steps = ag.describe_agreement(s, a)["steps"]
        ag.add_review(
            s, COUNSELLOR, a.id,
            ag.ReviewIn(date=date(2027, 4, 1), obstacles=[
                {"code": "childcare_missing", "step_id": steps[1]["id"]},
                {"code": "transport"}]),
            today=TODAY,
        )  # fmt: skip
        outcomes = [{"goal": 0, "outcome": "reached"}, {"goal": 1, "outcome": "partly_reached"},
                    {"goal": 2, "outcome": "not_reached"}]  # fmt: skip
        ag.close_agreement(s, COUNSELLOR, a.id, ag.CloseIn(outcomes=outcomes), today=TODAY)
    total = report(sessions)["total"]
    assert (
        total["referrals_proposed"], total["referrals_accepted"],
        total["referrals_enrolled"], total["referrals_completed"],
    ) == (10, 6, 4, 1)  # fmt: skip
    # 10, 20, 30 days for the course; ~0 for the daycare place: median of four
    assert total["median_days_to_enrolment"] == pytest.approx(15.0, abs=0.1)
    assert total["goals_reached"] == 1 and total["goals_partly_reached"] == 1
    assert total["goals_not_reached"] == 1 and total["goals_open"] == 12
    assert total["top_rejection_reasons"][0] == {
        "status": "rejected_by_provider", "reason": "no_capacity", "count": 2,
    }  # fmt: skip
    assert {o["code"] for o in total["top_obstacles"]} == {"childcare_missing", "transport"}

    by_cat = report(sessions, "category")
    assert [g["group"] for g in by_cat["groups"]] == ["childcare", "language", "recognition"]
    childcare = group(by_cat, "childcare")
    assert childcare["referrals_proposed"] == 5 and childcare["referrals_enrolled"] == 1
    # the obstacle on the daycare step counts for childcare; the unattached one for all
    assert {o["code"] for o in childcare["top_obstacles"]} == {"childcare_missing", "transport"}
    assert {o["code"] for o in group(by_cat, "language")["top_obstacles"]} == {"transport"}
    by_centre = report(sessions, "centre")
    assert [g["group"] for g in by_centre["groups"]] == ["mbe-wetzlar"]
    assert report(sessions, since=date(2027, 2, 1))["total"]["agreements_signed"] is None


def test_formats_and_access(sessions, offers):
    people(sessions, offers, 5)
    people(sessions, offers, 1, start=10, municipality="Hamm", keys=("ik-hamm",))
    rep = report(sessions)
    rows = list(csv.DictReader(io.StringIO(monitoring.report_csv(rep))))
    assert [r["group"] for r in rows] == ["Hamm", "Wetzlar", "total"]
    assert rows[0]["suppressed"] == "True" and rows[0]["people"] == ""
    assert rows[2]["agreements_signed"] == "6"
    png = monitoring.report_chart(rep)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    with pytest.raises(Forbidden), transaction(sessions) as s:
        monitoring.monitoring_report(s, COUNSELLOR)
    with pytest.raises(InvalidInput), transaction(sessions) as s:
        monitoring.monitoring_report(s, ANALYST, "person")


def test_csv_cells_cannot_run_as_formulas():
    row = {"group": '=HYPERLINK("https://evil.example")', "suppressed": False, "people": 7}
    text = monitoring.report_csv({"groups": [row], "total": {**row, "group": "total"}})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == '\'=HYPERLINK("https://evil.example")' and rows[1][2] == "7"
