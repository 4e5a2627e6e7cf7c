"""Counterfactual estimates on hand-made logs whose truth is known: a logging policy with
known propensities, clicks drawn from it; inverse propensity weighting recovers the value of
an order that never served, naive NDCG on the logged labels does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import columns as C
from models.counterfactual import (
    PositionBias,
    _cluster_codes,
    _cluster_variance,
    counterfactual_estimates,
    decide,
    detectable_difference,
    gate,
    policy_ranks,
    position_bias_from_swaps,
)
from models.metrics import ndcg_at_k

PER = 10
THETA = tuple(1.0 / k for k in range(1, PER + 1))
GAIN = 3.0  # label 2


def _logs(n_requests: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Requests of 10 offers; relevance r (take-up once noticed); the logging order sorts by
    a noisy copy of r; noticed with θ = 1/position. Returns the frame, r and the logging
    score of every row."""
    rng = np.random.default_rng(seed)
    n = n_requests * PER
    r = rng.uniform(0, 0.6, n)
    logged = r + rng.normal(0, 0.25, n)
    q = np.repeat(np.arange(n_requests), PER)
    order = np.lexsort((-logged, q))
    position = np.empty(n, dtype=int)
    position[order] = np.tile(np.arange(1, PER + 1), n_requests)
    noticed = rng.random(n) < np.asarray(THETA)[position - 1]
    taken = noticed & (rng.random(n) < r)
    frame = pd.DataFrame(
        {
            C.QUERY: [f"q{i}" for i in q],
            C.PERSON: [f"p{i}" for i in q],
            C.ITEM: np.arange(n).astype(str),
            C.POSITION: position,
            C.NEED_CODE: "language",
            C.TAKEN_UP: taken,
            C.LABEL: np.where(taken, 2, 0).astype(np.int8),
        }
    )
    return frame, r, logged


def _true_sndcg(frame: pd.DataFrame, r: np.ndarray, scores: np.ndarray, k: int = 5) -> float:
    """What sndcg@k estimates, computed from the truth: expected gain once noticed."""
    ranks = policy_ranks(frame, scores)
    disc = np.where(ranks <= k, 1 / np.log2(ranks + 1), 0.0)
    return float((r * GAIN * disc).sum() / (r * GAIN).sum())


@pytest.fixture(scope="module")
def logs():
    return _logs(4000)


def test_ips_recovers_the_value_of_orders_that_never_served(logs):
    frame, r, logged = logs
    orders = {"perfect": r, "logged": logged, "reversed": -logged}
    est = counterfactual_estimates(frame, orders, PositionBias(THETA, "known"), reference="logged")
    for name, scores in orders.items():
        e = est["models"][name]["sndcg@5"]
        truth = _true_sndcg(frame, r, scores)
        assert e["estimate"] == pytest.approx(truth, abs=0.02), name
        assert e["ci"][0] - 0.01 <= truth <= e["ci"][1] + 0.01, name
    assert est["differences"]["perfect"]["sndcg@5"]["ci"][0] > 0
    assert est["differences"]["reversed"]["sndcg@5"]["ci"][1] < 0


def test_naive_ndcg_rewards_the_order_that_served(logs):
    """On the logged labels the serving order beats the perfect one — the bias the
    counterfactual estimate removes."""
    frame, r, logged = logs
    rel, q = frame[C.LABEL].to_numpy(), frame[C.QUERY].to_numpy()
    naive_perfect = ndcg_at_k(rel, r, query=q, k=5)
    naive_logged = ndcg_at_k(rel, logged, query=q, k=5)
    assert naive_logged > naive_perfect
    assert _true_sndcg(frame, r, r) > _true_sndcg(frame, r, logged)


def test_without_the_position_correction_the_estimate_favours_the_serving_order(logs):
    frame, r, logged = logs
    flat = counterfactual_estimates(
        frame, {"perfect": r, "logged": logged}, PositionBias((1.0,), "none"), reference="logged"
    )
    truth_gap = _true_sndcg(frame, r, r) - _true_sndcg(frame, r, logged)
    assert flat["differences"]["perfect"]["sndcg@5"]["estimate"] < truth_gap - 0.05


def test_the_gate_promotes_better_refuses_worse_and_says_noise_when_it_cannot_tell(logs):
    frame, r, logged = logs
    bias = PositionBias(THETA, "known")
    better = counterfactual_estimates(frame, {"c": r, "a": logged}, bias, reference="a")
    assert gate(better, "c")[0] == "promote"
    worse = counterfactual_estimates(frame, {"c": -logged, "a": logged}, bias, reference="a")
    decision, why = gate(worse, "c")
    assert decision == "worse" and "95% interval" in why
    small, small_r, small_logged = _logs(30, seed=3)
    close = small_logged + np.random.default_rng(1).normal(0, 0.01, len(small_r))
    noise = counterfactual_estimates(small, {"c": close, "a": small_logged}, bias, reference="a")
    assert gate(noise, "c")[0] == "noise"


def test_a_model_without_an_opinion_gets_a_random_order_not_the_logged_one(logs):
    frame, _r, logged = logs
    constant = np.zeros(len(frame))
    est = counterfactual_estimates(
        frame,
        {
            "constant": constant,
            "logged": logged,
            "random": np.random.default_rng(9).random(len(frame)),
        },
        PositionBias(THETA, "known"),
    )
    m = est["models"]
    assert m["constant"]["sndcg@5"]["estimate"] == pytest.approx(
        m["random"]["sndcg@5"]["estimate"], abs=0.03
    )
    assert m["logged"]["sndcg@5"]["estimate"] > m["constant"]["sndcg@5"]["estimate"] + 0.05


def test_policy_order_keeps_every_need_within_the_first_three():
    frame = pd.DataFrame(
        {
            C.QUERY: ["q"] * 5,
            C.NEED_CODE: ["language"] * 4 + ["childcare"],
        }
    )
    ranks = policy_ranks(frame, np.array([0.9, 0.8, 0.7, 0.6, 0.1]))
    assert ranks[4] == 3  # the only childcare offer, though scored last
    assert list(ranks[:4]) == [1, 2, 4, 5]


def test_randomised_swaps_measure_the_examination_curve():
    """Exploration swaps neighbours at random; the take-up of the same offer one place lower
    gives θ without any model of relevance."""
    rng = np.random.default_rng(5)
    theta = np.array([1.0, 0.6, 0.4, 0.3, 0.22, 0.17])
    rows = []
    for q in range(30000):
        r = rng.uniform(0.05, 0.5, 6)
        pairs = [[j, j + 1] for j in range(1, 6)]
        swapped = pairs[rng.integers(len(pairs))] if rng.random() < 0.5 else None
        order = list(range(6))
        if swapped:
            a = swapped[0] - 1
            order[a], order[a + 1] = order[a + 1], order[a]
        policy = {"pairs": pairs, "swapped": swapped}
        for pos, item in enumerate(order, start=1):
            taken = rng.random() < theta[pos - 1] * r[item]
            rows.append((f"q{q}", pos, taken, policy))
    frame = pd.DataFrame(rows, columns=[C.QUERY, C.POSITION, C.TAKEN_UP, C.POLICY])
    found = position_bias_from_swaps(frame)
    assert found is not None and found.source == "randomised swaps"
    assert len(found.theta) >= 4
    assert np.asarray(found.theta) == pytest.approx(theta[: len(found.theta)], rel=0.2)


def _variance(e: np.ndarray, **groups: np.ndarray) -> float:
    frame = pd.DataFrame(groups)
    return _cluster_variance(_cluster_codes(frame, tuple(groups)), e)


def test_errors_shared_by_an_offer_widen_the_interval():
    """The variance lets the rows of one offer err together: when every person's rows carry
    the same offer effects (which cancel within each person), people alone see no
    uncertainty at all, people and offers see it; with independent rows both agree."""
    people, offers = 200, 10
    person = np.repeat(np.arange(people), offers)
    offer = np.tile(np.arange(offers), people)
    effect = np.linspace(-1.0, 1.0, offers)  # sums to 0 within each person
    shared = effect[offer]
    assert _variance(shared, person=person) == pytest.approx(0.0, abs=1e-9)
    two_way = _variance(shared, person=person, offer=offer)
    # offers' term minus the person × offer cells: (G/(G-1)) Σ (200 a)² − (n/(n-1)) Σ 200 a²
    expected = (
        offers / (offers - 1) * (people**2) * (effect**2).sum()
        - len(shared) / (len(shared) - 1) * people * (effect**2).sum()
    )
    assert two_way == pytest.approx(expected)
    rng = np.random.default_rng(0)
    many = rng.integers(0, 400, size=len(person))  # independent rows over 400 offers
    noise = rng.normal(size=len(person))
    one, both = _variance(noise, person=person), _variance(noise, person=person, offer=many)
    assert both == pytest.approx(one, rel=0.15)
    assert both >= one  # never narrower than over people alone


def test_the_estimates_say_how_their_intervals_were_made(logs):
    frame, r, logged = logs
    est = counterfactual_estimates(
        frame, {"c": r, "a": logged}, PositionBias(THETA, "k"), reference="a"
    )
    assert est["intervals"]["clustered_by"] == [C.PERSON, C.ITEM]
    alone = counterfactual_estimates(
        frame, {"c": r, "a": logged}, PositionBias(THETA, "k"), reference="a", clusters=(C.PERSON,)
    )
    # each offer shown once here: nothing shared, so the same interval either way
    for metric in ("sndcg@5", "ips_dcg@5"):
        a, b = est["differences"]["c"][metric]["ci"], alone["differences"]["c"][metric]["ci"]
        assert a == pytest.approx(b, abs=2e-4), metric


def _ranks_one_by_one(frame: pd.DataFrame, scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """``policy_ranks`` the slow, obvious way: the engine's cover_needs on every request."""
    from matcher.engine import cover_needs

    tiebreak = np.random.default_rng([seed, 0x71E]).random(len(frame))
    ranks = np.zeros(len(frame), dtype=np.int64)
    for _q, rows in frame.groupby(C.QUERY, sort=False).indices.items():
        needs = pd.factorize(frame[C.NEED_CODE].to_numpy()[rows])[0]
        order = np.lexsort((tiebreak[rows], -scores[rows]))
        picked = cover_needs(needs[order], np.arange(len(rows)), len(set(needs)), len(rows))
        ranks[rows[order[picked]]] = np.arange(1, len(rows) + 1)
    return ranks


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_policy_ranks_match_the_engine_request_by_request(seed):
    """The fast path (score order where every need is already within the window) and the
    engine's need coverage give the same ranks on requests with one to five needs."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(int(rng.integers(1, 30))):
        k = int(rng.integers(1, 11))
        needs = rng.choice(["a", "b", "c", "d", "e"], size=k, p=[0.5, 0.2, 0.15, 0.1, 0.05])
        rows += [(f"q{q}", f"p{q}", str(need)) for need in needs]
    frame = pd.DataFrame(rows, columns=[C.QUERY, C.PERSON, C.NEED_CODE])
    scores = np.round(rng.random(len(frame)), 1)  # ties too
    np.testing.assert_array_equal(
        policy_ranks(frame, scores, seed=seed % 7), _ranks_one_by_one(frame, scores, seed % 7)
    )


def test_what_the_data_could_have_shown_is_found_4_times_in_5():
    """ "Not distinguishable" adds the smallest true difference the same precision would show
    as better 4 times in 5. Checked by drawing estimates around exactly that difference with
    the interval's standard error and asking the gate each time."""
    se = 0.02
    ci = (-1.959964 * se, 1.959964 * se)
    size = detectable_difference(ci)
    assert size == pytest.approx((1.644854 + 0.841621) * se)
    rng = np.random.default_rng(3)
    promoted = 0
    draws = 4000
    for estimate in rng.normal(size, se, draws):
        one_sided = (estimate - 1.644854 * se, estimate + 1.644854 * se)
        central = (estimate - 1.959964 * se, estimate + 1.959964 * se)
        promoted += decide(one_sided, "x", "v1", ci=central)[0] == "promote"
    assert 0.78 <= promoted / draws <= 0.82
    decision, why = decide((-0.01, 0.03), "x", "v1", ci=(-0.015, 0.035))
    assert decision == "noise"
    assert why.endswith(
        f"; these data would show a difference of {detectable_difference((-0.015, 0.035)):.4f} "
        "or more 4 times in 5"
    )
    assert "4 times in 5" not in decide((0.01, 0.03), "x", "v1", ci=(0.005, 0.035))[1]
    assert "4 times in 5" not in decide((-0.01, 0.03), "x", "v1")[1]
    # a version retrained on the same rows orders exactly alike: nothing to say about power
    same = decide((0.0, 0.0), "x", "v1", ci=(0.0, 0.0))
    assert same[0] == "noise" and "4 times in 5" not in same[1]
