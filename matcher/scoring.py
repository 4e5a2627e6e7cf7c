"""Ordering eligible offers: the ``Ranker`` interface, and the transparent rule score.

The engine takes any object with a ``version``, the ``feature_names`` it reads (a subset of
``matcher.features.FEATURE_NAMES``, in any order) and ``score(features) -> scores`` (higher is
better). Without a trained model, ``RuleScoreRanker`` orders candidates by a weighted sum
whose weights are written below, so a counsellor can be told exactly why one offer comes
before another; the learned ranker (``models/``) replaces it through the same interface.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from matcher.features import COLUMN, FEATURE_NAMES


@runtime_checkable
class Ranker(Protocol):
    """What the engine needs from a ranking model."""

    #: Shown as ``model_version`` in responses and stored with every impression.
    version: str
    #: The feature columns ``score`` expects, by name, in its order.
    feature_names: tuple[str, ...]

    def score(self, features: np.ndarray) -> np.ndarray:
        """One score per row of ``features`` (shape n × len(feature_names)); higher first."""
        ...


class UnknownFeatures(ValueError):
    """A ranker asks for features the engine does not compute (trained on another schema)."""


def columns_for(ranker: Ranker) -> np.ndarray:
    """Indexes into the full feature matrix, in the ranker's order."""
    missing = [n for n in ranker.feature_names if n not in COLUMN]
    if missing:
        raise UnknownFeatures(f"ranker {ranker.version} reads unknown features: {missing}")
    return np.array([COLUMN[n] for n in ranker.feature_names], dtype=np.int64)


#: Rule-score weights. Distance and level fit matter most; childcare decides whether a parent
#: can attend at all; a profession-specific offer is worth as much as a near one; a full
#: offer was already moved to the waitlist, so free capacity only breaks near-ties. Online
#: offers rank a little below equal local ones, since integration work is local.
WEIGHTS: dict[str, float] = {
    "distance_km": 1.0,
    "online": -0.3,
    "level_fit": 1.0,
    "schedule_overlap": 0.6,
    "childcare_fit": 0.8,
    "language_shared": 0.4,
    "days_until_start": 0.4,
    "capacity_ratio": 0.3,
    "need_priority": 0.5,
    "profession_similarity": 1.0,
    "offer_outcome_rate": 0.5,
}
#: Proximity and start halve every this many km / days.
DISTANCE_HALF_KM = 7.0
START_HALF_DAYS = 30.0


class RuleScoreRanker:
    """A transparent weighted sum of the features, scaled to 0–1; ``version`` "rules-v2"
    (v2: the outcome history is smoothed and never missing, so it always counts).

    Proximity is ``0.5 ** (km / 7)`` and soon-ness ``0.5 ** (days / 30)``, so every km nearer
    and every day sooner counts, and counts most where it matters (3 vs 8 km, not 80 vs 85).
    """

    version = "rules-v2"
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.weights = dict(WEIGHTS if weights is None else weights)
        # ``score`` reads only the weighted columns: as the pre-score it runs on every
        # eligible offer of a request (thousands, for a broad one).
        names = [n for n in FEATURE_NAMES if self.weights.get(n, 0.0) != 0]
        self._columns = np.array([COLUMN[n] for n in names], dtype=np.intp)
        self._weighted = np.array([self.weights[n] for n in names], dtype=np.float64)
        self._halving = [
            (names.index(n), half)
            for n, half in (
                ("distance_km", DISTANCE_HALF_KM),
                ("days_until_start", START_HALF_DAYS),
            )
            if n in names
        ]
        self._positive = sum(w for w in self.weights.values() if w > 0) or 1.0

    def _weighted_values(self, features: np.ndarray) -> np.ndarray:
        """The weighted columns of ``features``, distance and start turned into halvings."""
        values = np.asarray(features, dtype=np.float64)[:, self._columns]
        for at, half in self._halving:
            values[:, at] = 0.5 ** (values[:, at] / half)
        return values

    def terms(self, features: np.ndarray) -> np.ndarray:
        """Each feature's weighted contribution (n × len(feature_names)), for explanations;
        columns without weight (context, some of them missing) contribute 0."""
        out = np.zeros((len(features), len(FEATURE_NAMES)))
        out[:, self._columns] = self._weighted_values(features) * self._weighted
        return out

    def score(self, features: np.ndarray) -> np.ndarray:
        """The sum of ``terms`` scaled to 0–1, as one product of the weighted columns."""
        return (self._weighted_values(features) @ self._weighted) / self._positive


#: Features the pre-score reads: cheap, and what matters most to any sensible ranking.
PRESCORE_RANKER = RuleScoreRanker()


def prescore(features: np.ndarray) -> np.ndarray:
    """A cheap score to cap how many candidates per need the ranker sees (the rule score)."""
    return PRESCORE_RANKER.score(features)
