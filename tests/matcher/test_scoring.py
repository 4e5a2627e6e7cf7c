"""The rule score: ``score`` reads only the weighted columns, and equals the sum of the
explained ``terms`` scaled to 0–1."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.features import COLUMN, FEATURE_NAMES
from matcher.scoring import WEIGHTS, RuleScoreRanker


@pytest.mark.parametrize(
    "weights",
    [None, {"distance_km": 2.0, "online": -1.0, "cost_eur": 0.0}, {"days_until_start": 1.0}],
)
def test_the_score_is_the_sum_of_its_terms(weights):
    rng = np.random.default_rng(0)
    x = rng.random((500, len(FEATURE_NAMES)))
    x[:, COLUMN["distance_km"]] *= 80
    x[:, COLUMN["days_until_start"]] *= 200
    ranker = RuleScoreRanker(weights)
    positive = sum(w for w in ranker.weights.values() if w > 0) or 1.0
    np.testing.assert_allclose(
        ranker.score(x), ranker.terms(x).sum(axis=1) / positive, rtol=1e-12, atol=1e-12
    )


def test_missing_values_in_columns_without_weight_do_not_count():
    rng = np.random.default_rng(1)
    x = rng.random((50, len(FEATURE_NAMES)))
    unweighted = [COLUMN[n] for n in FEATURE_NAMES if not WEIGHTS.get(n)]
    assert unweighted  # the context columns
    holes = x.copy()
    holes[:, unweighted] = np.nan
    np.testing.assert_array_equal(RuleScoreRanker().score(holes), RuleScoreRanker().score(x))
