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


def test_the_score_is_the_weighted_sum_written_in_the_weights():
    """Read from ``WEIGHTS`` literally: proximity and soon-ness halve every 7 km and 30
    days, every other weighted feature counts as it is, scaled by the positive weights."""
    rng = np.random.default_rng(2)
    row = rng.random(len(FEATURE_NAMES))
    row[COLUMN["distance_km"]], row[COLUMN["days_until_start"]] = 14.0, 60.0
    total = 0.0
    for name, weight in WEIGHTS.items():
        # 14 km is two halvings of 7 km, 60 days two of 30 days
        value = 0.25 if name in ("distance_km", "days_until_start") else row[COLUMN[name]]
        total += weight * value
    expected = total / sum(w for w in WEIGHTS.values() if w > 0)
    assert RuleScoreRanker().score(row[None, :])[0] == pytest.approx(expected, rel=1e-12)


def test_missing_values_in_columns_without_weight_do_not_count():
    rng = np.random.default_rng(1)
    x = rng.random((50, len(FEATURE_NAMES)))
    unweighted = [COLUMN[n] for n in FEATURE_NAMES if not WEIGHTS.get(n)]
    assert unweighted  # the context columns
    holes = x.copy()
    holes[:, unweighted] = np.nan
    np.testing.assert_array_equal(RuleScoreRanker().score(holes), RuleScoreRanker().score(x))
