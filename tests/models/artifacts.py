"""Tiny fitted artifacts for registry and serving tests."""

from __future__ import annotations

import numpy as np

from models.ranker import GradientBoostedRanker
from models.registry import RankerArtifact

NAMES = ("a", "b")
HASH = "schema-1"


def _artifact(seed: int = 0) -> RankerArtifact:
    rng = np.random.default_rng(seed)
    X = rng.random((200, 2))
    y = (X[:, 0] > 0.5).astype(int) * 2
    est = GradientBoostedRanker(max_iter=10, min_samples_leaf=5, random_state=seed).fit(X, y)
    return RankerArtifact(estimator=est, feature_names=NAMES, schema_hash=HASH)


def _card() -> dict:
    import sklearn

    return {"libraries": {"scikit-learn": sklearn.__version__}, "metrics": {"model": {}}}
