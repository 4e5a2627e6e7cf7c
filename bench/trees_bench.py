"""Scoring with compiled trees against scikit-learn's own predictor, by batch size.

    .venv/bin/python bench/trees_bench.py [--trees 76] [--repeats 200]

``models.compiled.CompiledTrees`` scores the few hundred candidates of one request, and the
large batches of training and evaluation ``CHUNK`` rows at a time. This fits a histogram
gradient-boosting classifier of the ranker's shape (small trees, two categorical columns,
missing values) and prints, for batches from 10 to 130,000 rows, the median time of
``CompiledTrees.raw``, of scikit-learn's own predictor, and their ratio, so the claim that
the compiled path is the faster at every size can be checked on any machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine import machine_line
from sklearn.ensemble import HistGradientBoostingClassifier

from models import compiled
from models.compiled import CompiledTrees

SIZES = (10, 300, 2_000, 5_000, 20_000, 130_000)


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 38))
    X[rng.random(X.shape) < 0.05] = np.nan
    X[:, 20] = rng.integers(0, 40, n)  # like "category"
    X[:, 16] = rng.integers(0, 17, n)  # like "first_language"
    y = (np.nan_to_num(X[:, 0]) + (X[:, 20] % 3 == 0) + rng.normal(0, 1, n)) > 0.5
    return X, y.astype(int)


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", type=int, default=76)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(machine_line())
    X, y = _data(50_000)
    cats = np.zeros(X.shape[1], dtype=bool)
    cats[[16, 20]] = True
    model = HistGradientBoostingClassifier(
        max_iter=args.trees, max_leaf_nodes=7, categorical_features=cats, early_stopping=False
    ).fit(X, y)
    trees = CompiledTrees(model)
    print(f"{trees.n_trees} trees, compiled: {trees.supported}, CHUNK {compiled.CHUNK}")
    print(f"{'rows':>8} {'compiled ms':>12} {'sklearn ms':>11} {'ratio':>6}")
    probe, _ = _data(max(SIZES), seed=1)
    for n in SIZES:
        batch = probe[:n]
        repeats = max(3, args.repeats * 300 // max(n, 300))
        ours = _median_ms(lambda b=batch: trees.raw(b), repeats)
        own = _median_ms(lambda b=batch: model._raw_predict(b), repeats)
        print(f"{n:>8} {ours:>12.3f} {own:>11.3f} {ours / own:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
