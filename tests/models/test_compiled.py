"""Compiled trees score exactly as scikit-learn does: numbers, missing values, categories
(known, unknown, not whole, negative), classifiers and Poisson regressors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from models.compiled import CHUNK, CompiledTrees


def _data(n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    X[rng.random((n, 8)) < 0.1] = np.nan
    X[:, 2] = rng.integers(0, 17, n)
    X[rng.random(n) < 0.15, 2] = np.nan
    X[:, 5] = rng.integers(0, 28, n)
    signal = np.nan_to_num(X[:, 0]) + (X[:, 2] % 3 == 0) - 0.7 * (X[:, 5] % 4 == 1)
    return X, signal + rng.normal(0, 0.5, n)


@pytest.mark.parametrize("categorical", [False, True])
def test_classifier_scores_equal_scikit_learn(categorical):
    X, latent = _data()
    cats = np.zeros(8, dtype=bool)
    cats[[2, 5]] = categorical
    model = HistGradientBoostingClassifier(
        max_iter=60, max_leaf_nodes=7, categorical_features=cats if categorical else None
    ).fit(X, (latent > 0.5).astype(int))
    compiled = CompiledTrees(model)
    assert compiled.supported
    probe = X[:300].copy()
    probe[0, 2], probe[1, 5], probe[2, 5], probe[3, 2], probe[4, 2] = 99, -3, 5.5, 300, np.nan
    np.testing.assert_allclose(compiled.raw(probe), model.decision_function(probe), atol=1e-9)
    np.testing.assert_allclose(compiled.proba(probe), model.predict_proba(probe)[:, 1], atol=1e-9)


def test_poisson_regressor_means_equal_scikit_learn():
    X, latent = _data(seed=1)
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=40, max_leaf_nodes=7).fit(
        X, np.exp(np.clip(latent, -3, 2))
    )
    np.testing.assert_allclose(
        CompiledTrees(model).mean(X[:200]), model.predict(X[:200]), rtol=1e-9
    )


def test_bigger_trees_fall_back_to_scikit_learn():
    X, latent = _data(seed=2)
    model = HistGradientBoostingClassifier(max_iter=5, max_leaf_nodes=31).fit(
        X, (latent > 0).astype(int)
    )
    compiled = CompiledTrees(model)
    assert not compiled.supported
    np.testing.assert_allclose(compiled.raw(X[:50]), model.decision_function(X[:50]))


def test_a_large_batch_scores_as_its_small_pieces():
    """A batch of more than ``CHUNK`` rows is scored a chunk at a time, to the same numbers
    as scikit-learn gives and as scoring it piece by piece does."""
    X, latent = _data(n=2 * CHUNK + 37, seed=3)
    model = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=7).fit(
        X, (latent > 0).astype(int)
    )
    compiled = CompiledTrees(model)
    pieces = np.concatenate([compiled.raw(X[i : i + 500]) for i in range(0, len(X), 500)])
    np.testing.assert_allclose(compiled.raw(X), pieces, atol=1e-9)
    np.testing.assert_allclose(compiled.raw(X), model.decision_function(X), atol=1e-9)


def test_an_artifact_saved_with_an_older_layout_loads():
    """A model saved while this class held other arrays (``encoders``, ``cat_bits``, no
    layout mark) is compiled again on loading and scores; one of the current layout loads
    as saved."""
    import pickle

    X, latent = _data(seed=4)
    cats = np.zeros(8, dtype=bool)
    cats[[2, 5]] = True
    model = HistGradientBoostingClassifier(
        max_iter=20, max_leaf_nodes=7, categorical_features=cats
    ).fit(X, (latent > 0.5).astype(int))
    old = CompiledTrees.__new__(CompiledTrees)
    old.__setstate__({"_model": model, "encoders": {}, "cat_bits": np.zeros((0, 2, 8))})
    np.testing.assert_allclose(old.raw(X[:100]), model.decision_function(X[:100]), atol=1e-9)
    again = pickle.loads(pickle.dumps(CompiledTrees(model)))
    assert set(vars(again)) >= {"cat_groups", "rank_source", "tables"} and "_layout" not in vars(
        again
    )
    np.testing.assert_allclose(again.raw(X[:100]), model.decision_function(X[:100]), atol=1e-9)


def test_values_on_a_threshold_and_infinities_go_where_scikit_learn_sends_them():
    """Numeric splits compare ranks among the thresholds: a value equal to a threshold goes
    left, one just above it right, and infinities to the ends, exactly as ``x <= t``."""
    X, latent = _data(seed=5)
    model = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=7).fit(
        X, (latent > 0.3).astype(int)
    )
    compiled = CompiledTrees(model)
    rows = []
    for column, cuts in zip(compiled.rank_columns, compiled.cuts, strict=True):
        for t in cuts:
            for value in (t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)):
                row = X[len(rows) % 300].copy()
                row[column] = value
                rows.append(row)
    for value in (np.inf, -np.inf):
        row = X[0].copy()
        row[compiled.rank_columns] = value
        rows.append(row)
    probe = np.array(rows)
    np.testing.assert_allclose(compiled.raw(probe), model.decision_function(probe), atol=1e-9)


def test_a_model_with_categorical_splits_only_scores():
    X, latent = _data(seed=6)
    only = X[:, [2, 5]]
    model = HistGradientBoostingClassifier(
        max_iter=20, max_leaf_nodes=7, categorical_features=[True, True]
    ).fit(only, (latent > 0.5).astype(int))
    compiled = CompiledTrees(model)
    assert compiled.supported and len(compiled.rank_columns) == 0
    np.testing.assert_allclose(
        compiled.raw(only[:101]), model.decision_function(only[:101]), atol=1e-9
    )


def test_a_split_of_missing_from_present_values_sends_only_missing_ones_right():
    """scikit-learn splits missing from present values with a threshold of +inf (every
    number, +inf too, goes left); such a split must not be taken for an unused slot."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 3))
    missing = rng.random(3000) < 0.4
    X[missing, 1] = np.nan
    y = (missing ^ (rng.random(3000) < 0.1)).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10, max_leaf_nodes=7).fit(X, y)
    thresholds = [
        float(n["num_threshold"]) for p in model._predictors for n in p[0].nodes if not n["is_leaf"]
    ]
    assert np.inf in thresholds  # the kind of split this test is about
    probe = X[:300].copy()
    probe[0, 1], probe[1, 1] = np.inf, -np.inf
    np.testing.assert_allclose(
        CompiledTrees(model).raw(probe), model.decision_function(probe), atol=1e-9
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_models_score_as_scikit_learn(seed):
    """Models of many shapes — numbers, small integers, categories, columns that are often
    missing or whose missingness is the signal, trees of 2 to 9 leaves — score as
    scikit-learn does on rows that include missing, infinite and unseen values."""
    rng = np.random.default_rng(seed)
    n, width = 2500, int(rng.integers(3, 9))
    X = rng.normal(size=(n, width)) * rng.choice([0.01, 1.0, 100.0], size=width)
    kinds = rng.choice(["number", "integer", "category"], size=width)
    for j, kind in enumerate(kinds):
        if kind != "number":
            X[:, j] = rng.integers(0, int(rng.integers(2, 40)), n)
    for j in range(width):
        X[rng.random(n) < rng.choice([0.0, 0.05, 0.5]), j] = np.nan
    signal = sum(np.nan_to_num(X[:, j], nan=2.0) % 3 for j in range(width))
    y = (signal + rng.normal(0, 1, n) > np.median(signal)).astype(int)
    model = HistGradientBoostingClassifier(
        max_iter=int(rng.integers(5, 40)),
        max_leaf_nodes=int(rng.integers(2, 10)),
        categorical_features=kinds == "category" if (kinds == "category").any() else None,
    ).fit(X, y)
    compiled = CompiledTrees(model)
    assert compiled.supported
    probe = X[:400].copy()
    probe[:40] = rng.choice([np.nan, np.inf, -np.inf, 1e9, -3.0, 0.5, 255.0, 256.0], (40, width))
    categories = kinds == "category"  # scikit-learn refuses infinite categories
    probe[:40, categories] = rng.choice([np.nan, -3.0, 0.5, 255.0, 256.0, 99.0], (40, width))[
        :, categories
    ]
    np.testing.assert_allclose(compiled.raw(probe), model.decision_function(probe), atol=1e-9)
