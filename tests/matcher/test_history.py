"""The outcome history: one value per referral, recency, smoothing towards the parent level,
and only what happened before the moment asked about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from matcher.history import BASE_RATE, OutcomeEvent, OutcomeHistory, area_key, org_key

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AREA = area_key("language", "Wetzlar")


def event(i, referral, status, days=0.0, offer="o1", org="VHS Wetzlar", area=AREA):
    return OutcomeEvent(i, referral, offer, org, area, status, T0 + timedelta(days=days))


def rates(h, offer="o1", org="VHS Wetzlar", area=AREA, days=0.0):
    row = h.features([offer], [org_key(org)], [area], T0 + timedelta(days=days))[0]
    return dict(zip(("offer", "org", "area", "offer_n", "org_n"), row, strict=True))


def test_an_empty_history_gives_the_base_rate_everywhere():
    r = rates(OutcomeHistory())
    assert r["offer"] == r["org"] == r["area"] == pytest.approx(BASE_RATE)
    assert r["offer_n"] == 0 and r["org_n"] == 0


def test_a_referral_counts_once_with_its_latest_outcome():
    h = OutcomeHistory()
    h.apply([event(1, "r1", "proposed"), event(2, "r1", "accepted", 1)])
    assert rates(h, days=1)["offer_n"] == 0  # nothing says yet how it went
    h.apply([event(3, "r1", "enrolled", 2), event(4, "r1", "completed", 3)])
    r = rates(h, days=3)
    assert r["offer_n"] == pytest.approx(np.log1p(1.0))  # one referral, not two
    assert r["offer"] > BASE_RATE


def test_an_event_applied_twice_counts_once():
    h = OutcomeHistory()
    assert h.apply([event(1, "r1", "completed")]) == 1
    assert h.apply([event(1, "r1", "completed")]) == 0
    assert rates(h)["offer_n"] == pytest.approx(np.log1p(1.0))


def test_bad_outcomes_pull_an_offer_below_its_organisation():
    h = OutcomeHistory()
    h.apply([event(i, f"good-{i}", "completed", offer="o2") for i in range(1, 11)])
    h.apply([event(100 + i, f"bad-{i}", "declined", offer="o1") for i in range(6)])
    bad, good = rates(h, offer="o1"), rates(h, offer="o2")
    assert bad["offer"] < bad["org"] < good["offer"]
    # a new offer of the organisation starts at the organisation's rate
    assert rates(h, offer="o-new")["offer"] == pytest.approx(bad["org"])
    # another organisation of the area starts at the area's rate
    other = rates(h, offer="o-x", org="Caritas Wetzlar")
    assert other["org"] == pytest.approx(other["area"])


def test_recent_outcomes_weigh_more_so_a_change_of_quality_shows():
    h = OutcomeHistory(half_life_days=30)
    h.apply([event(i, f"old-{i}", "completed", days=0) for i in range(1, 21)])
    h.apply([event(100 + i, f"new-{i}", "declined", days=180) for i in range(10)])
    r = rates(h, days=180)
    assert r["offer"] < 0.4  # 10 recent failures outweigh 20 successes six half-lives ago
    flat = OutcomeHistory(half_life_days=100_000)
    flat.apply([event(i, f"old-{i}", "completed", days=0) for i in range(1, 21)])
    flat.apply([event(100 + i, f"new-{i}", "declined", days=180) for i in range(10)])
    assert rates(flat, days=180)["offer"] > 0.55


def test_only_what_was_applied_counts_and_reading_later_only_decays():
    h = OutcomeHistory(half_life_days=10)
    h.apply([event(1, "r1", "completed", days=0)])
    now = rates(h, days=0)
    later = rates(h, days=10)
    assert later["offer_n"] == pytest.approx(np.log1p(0.5))
    assert now["offer"] > later["offer"] > BASE_RATE


def test_events_out_of_order_weigh_by_their_own_time():
    a, b = OutcomeHistory(half_life_days=10), OutcomeHistory(half_life_days=10)
    evs = [event(1, "r1", "completed", days=5), event(2, "r2", "declined", days=0)]
    a.apply(evs)
    b.apply(sorted(evs, key=lambda e: e.at))
    assert rates(a, days=5) == pytest.approx(rates(b, days=5))
