"""Monitoring: what counts (signed agreements only), the funnel, days to enrolment, the
grouping, calendar quarters, disclosure control (small groups without names, a threshold on
the people behind each number, secondary suppression), and the CSV and PNG forms."""

from __future__ import annotations

import csv
import io
import json
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from casework import agreements as ag
from casework import monitoring, referrals
from casework.tables import Agreement, Referral, ReferralEvent
from catalog.tables import Offer
from lotse.accounts import Principal
from lotse.db import transaction
from lotse.errors import Forbidden, InvalidInput
from tests.casework.cases import ANALYST, COUNSELLOR, TODAY, draft, signed, store_offers

VHS = Principal(role="agency", agency_id="vhs-wetzlar")
#: The quarter the cases are signed in, and TODAY (2027-06-01) lies after it.
Q1, ON = "2027-Q1", date(2027, 1, 5)
NOON = datetime(2027, 1, 5, 12, tzinfo=UTC)
CLOSE_ALL = [
    {"goal": 0, "outcome": "reached"},
    {"goal": 1, "outcome": "partly_reached"},
    {"goal": 2, "outcome": "not_reached"},
]


@pytest.fixture
def offers(sessions):
    with transaction(sessions) as s:
        return store_offers(s)


def people(sessions, offers, n, *, start=0, municipality="Wetzlar", keys=("ik",), on=ON):
    """``n`` people with agreements signed ``on``, each referred to the offers ``keys``
    (referrals dated the same day)."""
    with transaction(sessions) as s, backdated(s, on):
        return [
            signed(s, f"P-{start + i}", [offers[k] for k in keys], municipality=municipality, on=on)
            for i in range(n)
        ]


@contextmanager
def backdated(s, on=ON):
    """Referrals made in the block (today) → made ``on``, so they count in its quarter."""
    before = set(s.scalars(select(Referral.id)))
    yield
    ids = list(set(s.scalars(select(Referral.id))) - before)
    at = datetime.combine(on, NOON.timetz())
    s.execute(update(Referral).where(Referral.id.in_(ids)).values(created_at=at, updated_at=at))
    s.execute(update(ReferralEvent).where(ReferralEvent.referral_id.in_(ids)).values(at=at))


def report(sessions, by="municipality", period=Q1, **kw):
    with transaction(sessions) as s:
        return monitoring.monitoring_report(s, ANALYST, by, period=period, today=TODAY, **kw)


def group(rep, name):
    return next(g for g in rep["groups"] if g["group"] == name)


def close(sessions, case, outcomes=CLOSE_ALL):
    with transaction(sessions) as s:
        ag.close_agreement(s, COUNSELLOR, case.id, ag.CloseIn(outcomes=outcomes), today=TODAY)


def review(sessions, case, *codes, step=None, on=date(2027, 3, 1)):
    with transaction(sessions) as s:
        step_id = ag.describe_agreement(s, case)["steps"][step]["id"] if step is not None else None
        obstacles = [{"code": c, "step_id": step_id} for c in codes]
        ag.add_review(
            s, COUNSELLOR, case.id, ag.ReviewIn(date=on, obstacles=obstacles), today=TODAY
        )


def assert_protected(rep):
    """No withheld number can be recovered by subtraction: in every column the total minus
    the shown groups, and in every row ``goals`` minus its shown parts, cover none or at
    least two withheld numbers — or come to 0 (a zero is about nobody)."""
    rows = rep["groups"]
    for name in monitoring.COUNTS:
        hidden = [r for r in rows if r[name] is None]
        total = rep["total"][name]
        if total is not None and len(hidden) == 1 and name != "people":
            assert total == sum(r[name] for r in rows if r[name] is not None), name
    for row in [*rows, rep["total"]]:
        parts = [row[p] for p in monitoring.GOAL_PARTS]
        if row["goals"] is not None and parts.count(None) == 1:
            assert row["goals"] == sum(p for p in parts if p is not None), row
        withheld = set(row["suppressed_cells"])
        assert {n for n in monitoring.COUNTS if row[n] is None} <= withheld
        assert all(row[n] is None for n in withheld)


# --- groups and the threshold ---------------------------------------------------------------


def test_four_people_are_withheld_without_their_name_five_are_shown(sessions, offers):
    people(sessions, offers, 4)
    rep = report(sessions)
    assert [g["group"] for g in rep["groups"]] == [monitoring.OTHER]
    other = rep["groups"][0]
    assert other["suppressed"] is True and other["top_obstacles"] is None
    assert all(other[k] is None for k in monitoring.NUMBERS)
    assert rep["total"]["suppressed"] is True and rep["total"]["people"] is None
    assert "Wetzlar" not in json.dumps(rep, default=str)

    people(sessions, offers, 1, start=4)
    with transaction(sessions) as s, backdated(s):
        draft(s, "P-draft", [offers["ik"]])  # a draft adds a referral but no signed agreement
    rep = report(sessions)
    wetzlar = group(rep, "Wetzlar")
    assert wetzlar["suppressed"] is False and wetzlar["suppressed_cells"] == []
    assert wetzlar["people"] == 6  # five signed, one draft (its referral counts)
    assert wetzlar["agreements_signed"] == 5
    assert wetzlar["goals"] == 15 and wetzlar["goals_open"] == 15 and wetzlar["goals_reached"] == 0
    assert wetzlar["referrals_proposed"] == 6
    assert rep["total"]["agreements_signed"] == 5
    assert_protected(rep)


def test_each_number_needs_five_people_behind_it(sessions, offers):
    """Thirteen people, twelve with referrals only: the one person's agreement, outcomes and
    health obstacle must not show because the group is large."""
    with transaction(sessions) as s, backdated(s):
        for i in range(12):
            draft(s, f"D-{i}", [offers["ik"]])
    (case,) = people(sessions, offers, 1, start=100)
    review(sessions, case, "health")
    close(sessions, case)
    rep = report(sessions)
    wetzlar = group(rep, "Wetzlar")
    assert wetzlar["people"] == 13 and wetzlar["referrals_proposed"] == 13
    for name in ("agreements_signed", "goals", *monitoring.GOAL_PARTS):
        assert wetzlar[name] is None, name
        assert rep["total"][name] is None, name
    assert wetzlar["top_obstacles"] == [] and rep["total"]["top_obstacles"] == []
    assert "goals_reached" in wetzlar["suppressed_cells"]
    text = monitoring.report_csv(rep)
    assert "health" not in text
    by_cat = report(sessions, "category")
    assert all(g["agreements_signed"] is None for g in by_cat["groups"])
    assert_protected(rep)
    assert_protected(by_cat)


def test_an_obstacle_counts_once_per_person_and_group(sessions, offers):
    cases = people(sessions, offers, 5)
    for case in cases:  # twice, in two reviews, naming no step (so: every goal's category)
        review(sessions, case, "transport", on=date(2027, 2, 1))
        review(sessions, case, "transport", on=date(2027, 3, 1))
    rep = report(sessions)
    assert group(rep, "Wetzlar")["top_obstacles"] == [{"code": "transport", "count": 5}]
    assert rep["total"]["top_obstacles"] == [{"code": "transport", "count": 5}]
    by_cat = report(sessions, "category")
    for name in ("language", "childcare", "recognition"):
        assert group(by_cat, name)["top_obstacles"] == [{"code": "transport", "count": 5}]
    assert by_cat["total"]["top_obstacles"] == [{"code": "transport", "count": 5}]


def test_small_groups_and_unknown_places_are_one_row_without_names(sessions, offers):
    people(sessions, offers, 6)
    people(sessions, offers, 2, start=10, municipality="Hamm", keys=("ik-hamm",))
    hidden = people(sessions, offers, 6, start=20)
    with transaction(sessions) as s:
        # free text stored before municipalities were checked: never a group name
        s.execute(
            update(Agreement)
            .where(Agreement.id.in_([c.id for c in hidden[:5]]))
            .values(municipality="=Frau Yilmaz' Wohnheim")
        )
        s.execute(
            update(Agreement).where(Agreement.id == hidden[5].id).values(municipality="WETZLAR")
        )
    rep = report(sessions)
    assert [g["group"] for g in rep["groups"]] == ["Wetzlar", monitoring.OTHER]
    assert group(rep, "Wetzlar")["agreements_signed"] == 7  # "WETZLAR" is Wetzlar
    other = group(rep, monitoring.OTHER)
    assert other["agreements_signed"] == 7 and other["people"] == 7  # Hamm 2 + the 5
    outputs = (
        json.dumps(rep, default=str),
        monitoring.report_csv(rep),
        " ".join(monitoring.chart_labels(rep)),
    )
    for text in outputs:
        assert "Hamm" not in text and "Yilmaz" not in text
    assert_protected(rep)


def test_a_lone_withheld_number_takes_another_with_it(sessions, offers):
    wetzlar = people(sessions, offers, 6)
    hamm = people(sessions, offers, 6, start=10, municipality="Hamm", keys=("ik-hamm",))
    for case in [*wetzlar[:5], hamm[0]]:
        close(sessions, case)
    rep = report(sessions)
    # one Hamm person's outcomes: withheld; total − Wetzlar would reveal them, so Wetzlar's go too
    assert group(rep, "Hamm")["goals_reached"] is None
    assert rep["total"]["goals_reached"] == 6
    assert group(rep, "Wetzlar")["goals_reached"] is None
    assert group(rep, "Wetzlar")["agreements_signed"] == 6
    assert_protected(rep)


def test_goals_minus_their_shown_parts_reveal_nothing(sessions, offers):
    cases = people(sessions, offers, 6)
    for case in cases[:5]:
        close(sessions, case, [{"goal": g, "outcome": "reached"} for g in range(3)])
    close(sessions, cases[5])  # one of each: reached, partly, not reached
    wetzlar = group(report(sessions), "Wetzlar")
    assert wetzlar["goals"] == 18 and wetzlar["goals_open"] == 0
    # partly and not reached are one person's; reached goes with them, or goals − 0 − … would
    # give their sum away
    assert wetzlar["goals_partly_reached"] is None and wetzlar["goals_not_reached"] is None
    assert wetzlar["goals_reached"] is None


# --- periods ---------------------------------------------------------------------------------


def test_reports_cover_calendar_quarters_that_are_over(sessions, offers):
    people(sessions, offers, 5, on=date(2027, 3, 31))
    people(sessions, offers, 5, start=10, on=date(2027, 4, 1))
    assert report(sessions)["period"] == Q1  # the default: the latest quarter that is over
    rep = report(sessions, period="2027-q1")
    assert rep["period_start"] == date(2027, 1, 1) and rep["period_end"] == date(2027, 3, 31)
    assert rep["total"]["agreements_signed"] == 5 and rep["total"]["referrals_proposed"] == 5
    with pytest.raises(InvalidInput, match="not over yet; the latest quarter to report on is"):
        report(sessions, period="2027-Q2")  # still running on TODAY: it would grow by the day
    with transaction(sessions) as s:
        later = monitoring.monitoring_report(s, ANALYST, period="2027-Q2", today=date(2027, 7, 1))
    assert later["total"]["agreements_signed"] == 5
    assert report(sessions, period="2026-Q4")["groups"] == []
    for bad in ("2027-03", "2027-Q5", "Q1/2027", "2027-01-01..2027-03-31"):
        with pytest.raises(InvalidInput) as exc:
            report(sessions, period=bad)
        assert exc.value.errors[0].field == "period"
    assert monitoring.recent_periods(date(2027, 2, 10), 3) == ["2026-Q4", "2026-Q3", "2026-Q2"]


# --- what counts ------------------------------------------------------------------------------


def test_funnel_days_to_enrolment_reasons_and_outcomes(sessions, offers):
    with transaction(sessions) as s:  # places for all
        s.execute(update(Offer).values(capacity_total=50, capacity_free=50))
    cases = people(sessions, offers, 12, keys=("ik", "kita"))
    with transaction(sessions) as s:
        rows = s.scalars(select(Referral).order_by(Referral.id)).all()
        ik = sorted((r for r in rows if r.offer_id == offers["ik"]), key=lambda r: r.person_key)
        kita = [r.id for r in rows if r.offer_id == offers["kita"]]
        for i, r in enumerate(ik):
            referrals.change_status(s, VHS, r.id, "accepted")
            if i < 7:
                referrals.change_status(s, VHS, r.id, "enrolled")
                s.execute(
                    update(ReferralEvent)
                    .where(ReferralEvent.referral_id == r.id, ReferralEvent.to_status == "enrolled")
                    .values(at=NOON + timedelta(days=10 * (i + 1)))
                )
        for rid in kita[:5]:
            referrals.change_status(s, VHS, rid, "rejected_by_provider", "no_capacity")
        referrals.change_status(s, COUNSELLOR, kita[5], "declined", "too_far")
    for case in cases[:5]:
        review(sessions, case, "childcare_missing", step=1)
        close(sessions, case)
    review(sessions, cases[6], "transport")
    total = report(sessions)["total"]
    assert total["suppressed_cells"] == []
    assert (
        total["referrals_proposed"], total["referrals_accepted"],
        total["referrals_enrolled"], total["referrals_completed"],
    ) == (24, 12, 7, 0)  # fmt: skip
    assert total["median_days_to_enrolment"] == pytest.approx(40.0, abs=0.1)  # 10 … 70 days
    assert (
        total["goals"],
        total["goals_reached"],
        total["goals_partly_reached"],
        total["goals_not_reached"],
        total["goals_open"],
    ) == (36, 5, 5, 5, 21)
    # a reason or obstacle of one person is not listed
    assert total["top_rejection_reasons"] == [
        {"status": "rejected_by_provider", "reason": "no_capacity", "count": 5},
    ]
    assert total["top_obstacles"] == [{"code": "childcare_missing", "count": 5}]

    by_cat = report(sessions, "category")
    assert [g["group"] for g in by_cat["groups"]] == ["childcare", "language", "recognition"]
    childcare = group(by_cat, "childcare")
    assert childcare["referrals_proposed"] == 12 and childcare["referrals_accepted"] == 0
    assert childcare["top_obstacles"] == [{"code": "childcare_missing", "count": 5}]
    assert group(by_cat, "language")["top_obstacles"] == []
    assert_protected(by_cat)
    by_centre = report(sessions, "centre")
    assert [g["group"] for g in by_centre["groups"]] == ["mbe-wetzlar"]


def test_formats_and_access(sessions, offers):
    people(sessions, offers, 5)
    people(sessions, offers, 1, start=10, municipality="Hamm", keys=("ik-hamm",))
    rep = report(sessions)
    rows = list(csv.DictReader(io.StringIO(monitoring.report_csv(rep))))
    assert [r["group"] for r in rows] == ["Wetzlar", monitoring.OTHER, "total"]
    assert rows[1]["suppressed"] == "True" and rows[1]["people"] == ""
    # total − Wetzlar would give the other row away: Wetzlar's numbers are withheld too
    assert rows[0]["suppressed"] == "True" and rows[0]["people"] == ""
    assert "people" in rows[0]["suppressed_cells"].split(";")
    assert rows[2]["agreements_signed"] == "6" and rows[2]["suppressed_cells"] == ""
    labels = ["Wetzlar (suppressed)", f"{monitoring.OTHER} (suppressed)"]
    assert monitoring.chart_labels(rep) == labels
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
