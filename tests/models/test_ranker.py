"""The ranker follows scikit-learn's estimator contract and learns the direction of evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from models import columns as C
from models.metrics import ndcg_at_k
from models.ranker import (
    GradientBoostedRanker,
    PopularityBaseline,
    RandomBaseline,
    RuleScoreBaseline,
    baselines,
    gradient_boosted_scorer,
)


def _expected_failures(estimator) -> dict[str, str]:
    # The same exemption scikit-learn grants HistGradientBoostingRegressor, which does the
    # fitting: its leaves count rows, not weights, so a weight of 2 is not a repeated row.
    reason = "sample_weight is not equivalent to removing/repeating samples (as for HGB)."
    return {
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    }


# The checks fit on datasets of a few dozen rows: leaves of the default 200 rows could not
# split them at all, so the contract is checked with leaves sized for such data.
@parametrize_with_checks(
    [GradientBoostedRanker(max_iter=30, min_samples_leaf=5, max_leaf_nodes=15, random_state=0)],
    expected_failed_checks=_expected_failures,
)
def test_estimator_contract(estimator, check):
    check(estimator)


def _toy(n_queries: int = 300, per_query: int = 8, seed: int = 0) -> pd.DataFrame:
    """Two features: ``fit`` drives success, ``noise`` does not."""
    rng = np.random.default_rng(seed)
    n = n_queries * per_query
    fit = rng.random(n)
    noise = rng.random(n)
    label = np.digitize(fit + rng.normal(0, 0.15, n), [0.55, 0.75, 0.9])
    return pd.DataFrame(
        {
            C.QUERY: np.repeat(np.arange(n_queries), per_query),
            C.ITEM: rng.integers(0, 50, n),
            "fit": fit,
            "noise": noise,
            C.LABEL: label,
        }
    )


def test_more_evidence_of_fit_never_lowers_the_score():
    frame = _toy()
    ranker = GradientBoostedRanker(max_iter=50, min_samples_leaf=20, random_state=0).fit(
        frame[["fit", "noise"]], frame[C.LABEL]
    )
    grid = pd.DataFrame({"fit": np.linspace(0, 1, 11), "noise": 0.5})
    scores = ranker.predict(grid)
    assert scores[-1] > scores[0] + 1.0
    assert ranker.feature_names_in_.tolist() == ["fit", "noise"]
    likelihood = ranker.predict_likelihood(grid)
    assert ((likelihood >= 0) & (likelihood <= 1)).all() and likelihood[-1] > likelihood[0]


def test_scores_stay_in_label_units():
    frame = _toy()
    ranker = GradientBoostedRanker(max_iter=50, min_samples_leaf=20, random_state=0).fit(
        frame[["fit", "noise"]].to_numpy(), frame[C.LABEL]
    )
    scores = ranker.predict(frame[["fit", "noise"]].to_numpy())
    assert scores.min() >= -0.1 and scores.max() <= 3.1


def test_missing_feature_values_are_accepted():
    frame = _toy()
    X = frame[["fit", "noise"]].to_numpy().copy()
    X[::7, 1] = np.nan
    ranker = GradientBoostedRanker(max_iter=20, random_state=0).fit(X, frame[C.LABEL])
    assert np.isfinite(ranker.predict(X)).all()


def test_one_class_training_data_gives_the_prior_as_likelihood():
    X = np.random.default_rng(0).random((50, 2))
    ranker = GradientBoostedRanker(max_iter=5).fit(X, np.zeros(50))
    assert (ranker.predict_likelihood(X) == 0).all()


def test_learnt_ranker_and_baselines_order_as_expected():
    train, test = _toy(seed=1), _toy(seed=2)
    names = ("fit", "noise")
    scorers = [
        gradient_boosted_scorer(names, max_iter=60),
        *baselines(names, rule=lambda X: X[:, 0], seed=3),
    ]
    result = {}
    for scorer in scorers:
        scorer.fit(train)
        result[scorer.name] = ndcg_at_k(test[C.LABEL], scorer.score(test), query=test[C.QUERY], k=5)
    assert result["gradient_boosted"] > result["random"] + 0.2
    assert result["rule_score"] > result["random"] + 0.2
    assert result["logistic_regression"] > result["random"] + 0.2
    assert abs(result["popularity"] - result["random"]) < 0.1  # items carry no signal here


def test_popularity_shrinks_rare_offers_and_knows_unseen_ones():
    train = pd.DataFrame({C.ITEM: ["a"] * 100 + ["b"], C.LABEL: [1] * 50 + [0] * 50 + [3]})
    pop = PopularityBaseline(prior_weight=10).fit(train)
    scores = pop.score(pd.DataFrame({C.ITEM: ["a", "b", "never"]}))
    overall = np.mean(np.exp2(train[C.LABEL]) - 1)
    assert scores[0] == pytest.approx((50 + 10 * overall) / 110)
    assert scores[1] < 7 and scores[2] == pytest.approx(overall)


def test_random_baseline_is_seeded_and_rule_baseline_uses_the_rule():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    assert (RandomBaseline(4).score(frame) == RandomBaseline(4).score(frame)).all()
    rule = RuleScoreBaseline(rule=lambda X: -X[:, 0], feature_names=("a",))
    assert rule.fit(frame).score(frame).tolist() == [-1.0, -2.0, -3.0]


# --- take-up × outcome ----------------------------------------------------------------------

from models.ranker import TakeUpOutcomeRanker  # noqa: E402


@parametrize_with_checks(
    [TakeUpOutcomeRanker(max_iter=20, min_samples_leaf=5, random_state=0)],
    expected_failed_checks=_expected_failures,
)
def test_take_up_outcome_estimator_contract(estimator, check):
    check(estimator)


def _position_biased(n_requests: int = 3000, seed: int = 0):
    """Requests of 10 offers shown in a fixed order that ignores one quality ``q``; noticed
    with θ = 0.85^(position−1); referred with P = sigmoid(2q − 1) once noticed; the referred
    ones complete (label 3) with P = 0.5 + 0.4 u, else drop (label 1)."""
    rng = np.random.default_rng(seed)
    n = n_requests * 10
    q, u = rng.normal(size=n), rng.random(n)
    position = np.tile(np.arange(1, 11), n_requests)
    theta = 0.85 ** (position - 1)
    attractive = 1 / (1 + np.exp(-(2 * q - 1)))
    taken = (rng.random(n) < theta) & (rng.random(n) < attractive)
    complete = rng.random(n) < 0.5 + 0.4 * u
    label = np.where(taken, np.where(complete, 3, 1), 0)
    X = np.column_stack([q, u, rng.normal(size=n)])
    return X, label, position, taken, theta[:10], attractive


def test_position_is_taken_out_of_take_up():
    X, label, position, taken, theta, attractive = _position_biased()
    model = TakeUpOutcomeRanker(random_state=0).fit(X, label, positions=position, taken_up=taken)
    assert model.position_bias_[:10] == pytest.approx(theta, abs=0.06)
    # take-up answers "if seen first": the attractiveness itself, not diluted by position
    seen = model.take_up(X[:2000])
    assert np.corrcoef(seen, attractive[:2000])[0, 1] > 0.9
    assert seen.mean() == pytest.approx(attractive[:2000].mean(), abs=0.05)
    # and the expected gain ranks by both parts
    gain = model.predict(X[:2000])
    assert np.corrcoef(gain, attractive[:2000] * (0.5 + 0.4 * X[:2000, 1]))[0, 1] > 0.85


def test_a_feature_missing_in_every_referred_row_neither_breaks_training_nor_serving():
    """A feature added after most rows were served has values only in the newest rows; when
    none of those was referred, the outcome stage sees it missing throughout (scikit-learn
    cannot bin an empty column: this failed training with a 500)."""
    X, label, position, taken, _, _ = _position_biased(n_requests=300)
    X = np.column_stack([X, np.full(len(X), np.nan)])
    unreferred = np.flatnonzero(~taken)[:50]
    X[unreferred, 3] = 0.7  # values only where nothing was referred
    assert np.isnan(X[taken, 3]).all() and not np.isnan(X[:, 3]).all()
    model = TakeUpOutcomeRanker(random_state=0).fit(X, label, positions=position, taken_up=taken)
    served = X[:40].copy()
    served[:, 3] = 0.9  # served later with the feature known: scored, and as if unknown
    assert np.isfinite(model.predict(served)).all()
    assert model.outcome_gain(served) == pytest.approx(model.outcome_gain(X[:40]))


def test_a_feature_held_to_a_direction_never_turns_against_it():
    X, label, position, taken, _theta, _a = _position_biased(seed=1)
    model = TakeUpOutcomeRanker(monotone=(0, 0, -1), random_state=0).fit(
        X, label, positions=position, taken_up=taken
    )
    probe = np.tile(X[:50], (5, 1))
    probe[:, 2] = np.repeat(np.linspace(-2, 2, 5), 50)
    scores = model.predict(probe).reshape(5, 50)
    assert (np.diff(scores, axis=0) <= 1e-12).all()


def test_a_few_hundred_noisy_outcomes_stop_the_outcome_stage_early():
    """The outcome stage sees referred rows only: a few hundred after 500 people. On gains
    that are pure noise it must stop adding trees well before ``max_iter`` instead of
    fitting all rounds to the noise."""
    from models.ranker import EARLY_STOPPING_ROWS

    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 6))
    label = np.where(rng.random(n) < 0.15, rng.integers(1, 4, n), 0)  # referred: any grade
    model = TakeUpOutcomeRanker(max_iter=150, random_state=0).fit(X, label)
    referred = int((label > 0).sum())
    assert EARLY_STOPPING_ROWS <= referred < 1000
    assert model.outcome_ is not None and model.outcome_.n_iter_ < 60
