"""Metrics pinned at their edges on tiny hand-made rankings, and ties checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from models.metrics import (
    brier_score,
    calibration_curve,
    catalogue_coverage,
    map_at_k,
    ndcg_at_k,
    recall_at_k,
)

Q = ["a", "a", "a", "b", "b", "b"]
REL = [3, 1, 0, 0, 2, 0]


def test_perfect_ranking_scores_one():
    perfect = [3.0, 2.0, 1.0, 1.0, 3.0, 2.0]
    assert ndcg_at_k(REL, perfect, query=Q, k=3) == pytest.approx(1.0)
    assert recall_at_k(REL, perfect, query=Q, k=1, relevant_from=2) == pytest.approx(1.0)
    assert map_at_k(REL, perfect, query=Q, k=3) == pytest.approx(1.0)


def test_no_relevant_offer_in_top_k_scores_zero():
    worst = [1.0, 2.0, 3.0, 3.0, 1.0, 2.0]
    assert ndcg_at_k(REL, worst, query=Q, k=1) == 0.0
    assert recall_at_k(REL, worst, query=Q, k=1) == 0.0
    assert map_at_k(REL, worst, query=Q, k=1) == 0.0


def test_hand_computed_values():
    # query a ranked [1, 3, 0]: DCG = 1/log2(2) + 7/log2(3); IDCG = 7 + 1/log2(3)
    scores = [2.0, 3.0, 1.0]
    dcg = 1 + 7 / np.log2(3)
    idcg = 7 + 1 / np.log2(3)
    assert ndcg_at_k([3, 1, 0], scores, query=["a"] * 3, k=3) == pytest.approx(dcg / idcg)
    # relevant (>=1) at ranks 1 and 2: AP = (1/1 + 2/2) / 2 = 1
    assert map_at_k([3, 1, 0], scores, query=["a"] * 3, k=3) == pytest.approx(1.0)
    # only the completed one counts (>=3), at rank 2: AP = (1/2) / 1
    assert map_at_k([3, 1, 0], scores, query=["a"] * 3, k=3, relevant_from=3) == 0.5
    assert recall_at_k([3, 1, 0], scores, query=["a"] * 3, k=1, relevant_from=1) == 0.5


def test_queries_without_relevant_offers_are_left_out():
    rel = [0, 0, 1, 0]
    q = ["x", "x", "y", "y"]
    per = ndcg_at_k(rel, [1, 2, 2, 1], query=q, k=2, per_query=True)
    assert list(per.index) == ["y"] and per["y"] == 1.0
    assert np.isnan(ndcg_at_k([0, 0], [1, 2], query=["x", "x"], k=2))


def _expected_over_orders(metric, rel, k, **kw):
    """Brute force: the metric's mean over every order of one query's tied offers."""
    values = []
    for perm in itertools.permutations(range(len(rel))):
        scores = np.empty(len(rel))
        scores[list(perm)] = np.arange(len(rel), 0, -1)
        values.append(metric(rel, scores, query=["q"] * len(rel), k=k, **kw))
    return float(np.mean(values))


@pytest.mark.parametrize("metric", [ndcg_at_k, recall_at_k, map_at_k])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_all_tied_scores_equal_random_order_expectation(metric, k):
    rel = [0, 2, 0, 1, 3]
    tied = metric(rel, np.zeros(5), query=["q"] * 5, k=k)
    assert tied == pytest.approx(_expected_over_orders(metric, rel, k))


@pytest.mark.parametrize("metric", [ndcg_at_k, recall_at_k, map_at_k])
def test_partial_ties_match_brute_force(metric):
    rel = np.array([1, 0, 2, 0, 1])
    scores = np.array([5.0, 3.0, 3.0, 3.0, 1.0])  # three tied in the middle
    got = metric(rel, scores, query=["q"] * 5, k=3)
    values = []
    for perm in itertools.permutations([1, 2, 3]):
        s = scores.copy()
        s[list(perm)] = [3.2, 3.1, 3.0]
        values.append(metric(rel, s, query=["q"] * 5, k=3))
    assert got == pytest.approx(np.mean(values))


def test_row_order_does_not_matter():
    rng = np.random.default_rng(3)
    n = 400
    q = rng.integers(0, 40, n)
    rel = rng.integers(0, 4, n)
    scores = rng.integers(0, 5, n).astype(float)  # many ties
    perm = rng.permutation(n)
    for metric in (ndcg_at_k, recall_at_k, map_at_k):
        a = metric(rel, scores, query=q, k=5)
        b = metric(rel[perm], scores[perm], query=q[perm], k=5)
        assert a == pytest.approx(b)


def test_bad_k_and_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        ndcg_at_k([1], [1.0], query=["a"], k=0)
    with pytest.raises(ValueError):
        recall_at_k([1, 0], [1.0], query=["a", "a"], k=1)


def test_catalogue_coverage():
    items = ["o1", "o2", "o3", "o1", "o4", "o5"]
    scores = [3, 2, 1, 3, 2, 1]
    q = ["a", "a", "a", "b", "b", "b"]
    assert catalogue_coverage(items, scores, query=q, k=1, catalogue_size=10) == 0.1
    assert catalogue_coverage(items, scores, query=q, k=3, catalogue_size=5) == 1.0


def test_brier_score_bounds():
    assert brier_score([1, 0], [1.0, 0.0]) == 0.0
    assert brier_score([1, 0], [0.0, 1.0]) == 1.0
    assert brier_score([1, 0], [0.5, 0.5]) == 0.25
    with pytest.raises(ValueError):
        brier_score([1], [1.5])


def test_calibration_curve_of_a_calibrated_predictor_lies_on_the_diagonal():
    rng = np.random.default_rng(0)
    p = rng.random(50_000)
    y = rng.random(50_000) < p
    curve = calibration_curve(y, p, n_bins=5)
    assert isinstance(curve, pd.DataFrame) and len(curve) == 5
    assert np.allclose(curve.mean_predicted, curve.fraction_positive, atol=0.02)
    assert curve["count"].sum() == 50_000
