"""The outcome history: one value per referral, recency, smoothing towards the parent level,
and only what happened before the moment asked about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from matcher.history import (
    BASE_RATE,
    COMPLETION_STRENGTH_BOUNDS,
    STRENGTH_REFRESH_EVENTS,
    OutcomeEvent,
    OutcomeHistory,
    area_key,
    moment_strength,
    org_key,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AREA = area_key("language", "Wetzlar")


def event(i, referral, status, days=0.0, offer="o1", org="VHS Wetzlar", area=AREA):
    return OutcomeEvent(i, referral, offer, org, area, status, T0 + timedelta(days=days))


def rates(h, offer="o1", org="VHS Wetzlar", area=AREA, days=0.0):
    row = h.features([offer], [org_key(org)], [area], T0 + timedelta(days=days))[0]
    names = ("offer", "org", "area", "offer_n", "org_n", "offer_done", "org_done", "org_done_n")
    return dict(zip(names, row, strict=True))


def test_an_empty_history_gives_the_base_rate_everywhere():
    r = rates(OutcomeHistory())
    assert r["offer"] == r["org"] == r["area"] == pytest.approx(BASE_RATE)
    assert r["offer_done"] == r["org_done"] == pytest.approx(BASE_RATE)
    assert r["offer_n"] == 0 and r["org_n"] == 0 and r["org_done_n"] == 0


def test_completion_counts_only_referrals_that_started_and_ended():
    h = OutcomeHistory()
    # declined, rejected, and a drop before the course began: nothing of completion
    h.apply(
        [
            event(1, "r1", "declined"),
            event(2, "r2", "rejected_by_provider"),
            event(3, "r3", "accepted"),
            event(4, "r3", "dropped"),
            event(5, "r4", "enrolled"),  # started, not ended: nothing yet either
        ]
    )
    r = rates(h)
    assert r["org_done_n"] == 0 and r["org_done"] == pytest.approx(BASE_RATE)
    assert r["org"] < BASE_RATE  # the first rate counts all of them
    h.apply([event(6, "r4", "dropped", 1)])  # dropped after enrolling: counts against
    dropped = rates(h, days=1)
    assert dropped["org_done_n"] == pytest.approx(np.log1p(1.0))
    assert dropped["org_done"] < BASE_RATE
    h.apply([event(7, "r5", "enrolled", 1), event(8, "r5", "completed", 2)])
    both = rates(h, days=2)
    assert both["org_done_n"] == pytest.approx(np.log1p(2.0), rel=1e-2)  # a day of decay
    assert dropped["org_done"] < both["org_done"] < rates(OutcomeHistory())["org_done"] + 0.2


def test_completion_separates_providers_that_the_outcome_rate_barely_tells_apart():
    """Two providers with the same declines and no-shows; one finishes what it starts, the
    other loses most: the completion rate sets them apart by far more than the outcome rate,
    which dilutes the finished courses among steps that say nothing of the provider."""
    h = OutcomeHistory()
    i = 0
    for org, finish in (("Good", "completed"), ("Poor", "dropped")):
        for n in range(3):
            ref = f"{org}-{n}"
            steps = ["declined"] if n == 0 else ["enrolled", finish]
            for status in steps:
                i += 1
                h.apply([event(i, ref, status, offer=f"o-{org}", org=org)])
    good, poor = rates(h, offer="o-Good", org="Good"), rates(h, offer="o-Poor", org="Poor")
    outcome_gap = good["org"] - poor["org"]
    completion_gap = good["org_done"] - poor["org_done"]
    assert outcome_gap > 0 and completion_gap > 1.5 * outcome_gap


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


def test_completion_is_pulled_towards_the_overall_rate_as_far_as_providers_are_alike():
    """Empirical Bayes: the strength of the completion prior is read off the data. Providers
    that all finish alike leave the spread to chance (the upper bound: a few finished
    courses say nothing of one); providers far apart need only a little pulling."""
    rng = np.random.default_rng(0)
    n = np.full(200, 6.0)

    def strength(true_rates):
        done = rng.binomial(6, true_rates).astype(float)
        return moment_strength(done, n, n.copy(), float(done.sum() / n.sum()))

    low, high = COMPLETION_STRENGTH_BOUNDS
    assert strength(np.full(200, 0.6)) > 10  # alike: chance explains the spread
    assert strength(np.where(np.arange(200) < 100, 0.05, 0.95)) == low  # far apart
    # between: rates 0.3 and 0.7, spread 0.04 → p(1-p)/τ² - 1 = 5.25
    assert 3.0 < strength(np.where(np.arange(200) < 100, 0.3, 0.7)) < 9.0
    assert moment_strength(np.zeros(1), np.ones(1), np.ones(1), 0.5) == high  # one provider


def test_the_history_reads_how_far_providers_differ_from_their_outcomes():
    def history(finishing):
        h = OutcomeHistory()
        i = 0
        for org, share in finishing.items():
            for n in range(10):
                i += 2
                ref = f"{org}-{n}"
                end = "completed" if n < share * 10 else "dropped"
                h.apply([event(i, ref, "enrolled", org=org), event(i + 1, ref, end, org=org)])
        return h

    alike = history({f"org{j}": 0.6 for j in range(20)})
    apart = history({f"org{j}": 0.1 if j % 2 else 0.9 for j in range(20)})
    assert alike._completion_strengths()[1] == COMPLETION_STRENGTH_BOUNDS[1]
    assert apart._completion_strengths()[1] < 2.0
    # so one provider's ten courses move its rate far where providers differ, little where not
    far = rates(apart, org="org0")["org_done"]
    near = rates(alike, org="org0")["org_done"]
    assert far > 0.8 and abs(near - 0.6) < 0.05


def test_the_completion_strength_is_found_again_only_after_enough_new_outcomes():
    """Finding it reads every offer's sums; a request after each new outcome must not pay
    that, and a strength a few outcomes old is as good."""
    h = OutcomeHistory()
    i = 0

    def course(org, end):
        nonlocal i
        i += 2
        ref = f"r{i}"
        h.apply([event(i, ref, "enrolled", org=org), event(i + 1, ref, end, org=org)])

    for j in range(40):
        course(f"org{j}", "completed" if j % 2 else "dropped")
    first = h._completion_strengths()
    for j in range(5):  # a few more: the strength read before still stands
        course(f"org{j}", "completed" if j % 2 else "dropped")
    assert h._completion_strengths() == first
    for j in range(STRENGTH_REFRESH_EVENTS):
        course(f"org{j}", "completed" if j % 2 else "dropped")
    assert h._completion_strengths() != first
