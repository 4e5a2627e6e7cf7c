"""The ranker estimator and the baselines every evaluation scores beside it.

``GradientBoostedRanker`` is pointwise: it estimates the *expected graded gain*
``E[2**label - 1]`` of showing an offer to a person, from the feature values that were served.
Sorting by expected gain is exactly what maximises expected DCG, the quantity NDCG normalises,
so a pointwise model of the gain is a sound ranker, and it trains in seconds on a million rows.
It gets there ordinally: one boosted classifier per grade threshold (accepted, enrolled,
completed), whose probabilities give the expected gain exactly.

``predict`` returns the gain mapped back to grade units, ``log2(1 + expected gain)``: the same
order as the expected gain, on the label's own 0..3 scale ("about 2" reads as "about
enrolled"). The served score is therefore a ranking score, not a likelihood;
``predict_likelihood`` (P(label >= ``likelihood_from``), enrolled or better by default, from the
same model) is what the evaluation checks for calibration.

The baselines (``RuleScoreBaseline``, ``PopularityBaseline``, ``RandomBaseline``, a logistic
regression) share one small interface with the ranker, ``FrameScorer``: fit on a training
frame, score the rows of a test frame. They are what "better" means in the report and at
promotion.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from models import columns as C

#: Below this many rows one OpenMP thread is as fast as several, and it does not stall when
#: the cores are busy with other work (thread barriers then cost more than the trees).
SINGLE_THREAD_BELOW = 50_000


@functools.cache
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _threads_for(n_rows: int) -> contextlib.AbstractContextManager[Any]:
    if n_rows >= SINGLE_THREAD_BELOW:
        return contextlib.nullcontext()
    return _threadpools().limit(limits=1, user_api="openmp")


class GradientBoostedRanker(RegressorMixin, BaseEstimator):
    """Pointwise learning-to-rank of graded outcomes with histogram gradient-boosted trees.

    Ordinal (Frank & Hall): one boosted classifier per grade threshold learns
    P(label >= t) for t in ``thresholds`` (1 accepted, 2 enrolled, 3 completed). The expected
    gain then follows exactly, ``E[2**label - 1] = Σ_t P(label >= t) · (2**t - 2**(t-1))``
    (1, 2 and 4 for the three thresholds), and P(label >= ``likelihood_from``) is the
    likelihood of enrolment, from the same model. Log-loss on each threshold suits sparse
    outcomes better than a squared error on gains of 0 to 7: on the simulated history it
    beats the rule score by a wider margin, at the cost of one model per threshold.

    ``fit`` takes graded labels (any real values work: they are compared with the
    thresholds) and handles missing feature values natively. The defaults are small trees
    (7 leaves, at least 200 rows each) learning slowly with early stopping: outcomes are a few
    percent of impressions, and deeper trees fit noise.
    """

    def __init__(
        self,
        *,
        thresholds: tuple[float, ...] = (1, 2, 3),
        likelihood_from: float | None = 2,
        learning_rate: float = 0.05,
        max_iter: int = 200,
        max_leaf_nodes: int = 7,
        min_samples_leaf: int = 200,
        l2_regularization: float = 1.0,
        early_stopping: bool | str = "auto",
        n_iter_no_change: int = 10,
        categorical_features: Any = None,
        monotonic_cst: Any = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.thresholds = thresholds
        self.likelihood_from = likelihood_from
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.categorical_features = categorical_features
        self.monotonic_cst = monotonic_cst
        self.random_state = random_state

    def _boosting_params(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "max_iter": self.max_iter,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            "early_stopping": self.early_stopping,
            "n_iter_no_change": self.n_iter_no_change,
            "categorical_features": self.categorical_features,
            "monotonic_cst": self.monotonic_cst,
            "random_state": self.random_state,
        }

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GradientBoostedRanker:
        """Learn P(y >= t) for every threshold t."""
        X, y = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True
        )
        thresholds = np.asarray(self.thresholds, dtype=np.float64)
        if thresholds.ndim != 1 or len(thresholds) == 0 or np.any(np.diff(thresholds) <= 0):
            raise ValueError("thresholds must be one or more increasing grades")
        if self.likelihood_from is not None and self.likelihood_from not in thresholds:
            raise ValueError("likelihood_from must be one of the thresholds")
        self.thresholds_ = thresholds
        #: What reaching each threshold adds to the gain 2**label - 1.
        self.gain_steps_ = np.diff(np.concatenate([[0.0], np.exp2(thresholds) - 1.0]))
        # A feature that is missing everywhere (e.g. completion rates before any outcome is
        # known) carries no information, and histogram binning cannot cut it: read it as 0.
        self.all_missing_ = np.isnan(X).all(axis=0)
        X = self._fill_all_missing(X)
        self.stages_: list[HistGradientBoostingClassifier | None] = []
        self.priors_ = np.empty(len(thresholds))
        for k, t in enumerate(thresholds):
            reached = (y >= t).astype(int)
            self.priors_[k] = reached.mean()
            if 0 < reached.sum() < len(reached):
                stage = HistGradientBoostingClassifier(**self._boosting_params())
                with _threads_for(X.shape[0]):
                    stage.fit(X, reached, sample_weight=sample_weight)
                self.stages_.append(stage)
            else:  # one class only: nothing to separate, the prior is the answer
                self.stages_.append(None)
        #: Boosting rounds of the longest stage (early stopping may end each before max_iter).
        self.n_iter_ = max((s.n_iter_ for s in self.stages_ if s is not None), default=0)
        return self

    def _fill_all_missing(self, X: np.ndarray) -> np.ndarray:
        if self.all_missing_.any():
            X = X.copy()
            X[:, self.all_missing_] = 0.0
        return X

    def _validated(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self._fill_all_missing(X)

    def predict_reach(self, X: Any) -> np.ndarray:
        """P(label >= t) per row and threshold, shape (n, len(thresholds)); never rising
        with t (a higher grade cannot be likelier than a lower one)."""
        X = self._validated(X)
        out = np.empty((X.shape[0], len(self.stages_)))
        with _threads_for(X.shape[0]):
            for k, stage in enumerate(self.stages_):
                out[:, k] = self.priors_[k] if stage is None else stage.predict_proba(X)[:, 1]
        return np.minimum.accumulate(out, axis=1)

    def predict_gain(self, X: Any) -> np.ndarray:
        """Expected graded gain of each row (0 … 7 for labels 0 … 3)."""
        return self.predict_reach(X) @ self.gain_steps_

    def predict(self, X: Any) -> np.ndarray:
        """The ranking score: ``log2(1 + expected gain)``, in label units (0..3 for 0..3
        labels), ordered exactly like the expected gain."""
        return np.log2(1.0 + self.predict_gain(X))

    def predict_likelihood(self, X: Any) -> np.ndarray:
        """P(label >= ``likelihood_from``) per row, 0..1 (enrolment or better by default)."""
        if self.likelihood_from is None:
            raise ValueError("this ranker was trained without a likelihood")
        k = int(np.flatnonzero(self.thresholds_ == self.likelihood_from)[0])
        return self.predict_reach(X)[:, k]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # An ordinal model of grades: on arbitrary continuous targets (as in scikit-learn's
        # regression checks) it predicts steps, so R² > 0.5 is not to be expected there.
        tags.regressor_tags.poor_score = True
        return tags


#: Positions the take-up stage tells apart; lower ones share the last position's effect.
MAX_POSITION = 20
#: Each stage of ``TakeUpOutcomeRanker`` stops adding trees once 15 % of its rows, held
#: out, stop improving — from this many rows on. Why so few: the outcome stage learns from
#: referred rows only, a few hundred after 500 people, and without the stop it fitted all
#: 150 rounds to their noise; with it, the outcome half ordered better in each of seven
#: simulated worlds (docs/benchmarks.md, "Stopping early on a few hundred outcomes").
EARLY_STOPPING_ROWS = 200


def _auto_leaf(n_rows: int, lo: int, hi: int, per: int) -> int:
    """Leaf size for ``n_rows``: about one leaf row per ``per`` rows, within [lo, hi]."""
    return int(min(hi, max(lo, n_rows // per)))


class TakeUpOutcomeRanker(RegressorMixin, BaseEstimator):
    """Expected gain of an offer *if it is noticed*: take-up × outcome, with position bias
    taken out of take-up only.

    Two parts, because they answer different questions:

    1. **Take-up** (was the offer referred at all?) depends on the offer, the person *and*
       where it was shown: people take more of what is shown first. One boosted model learns
       P(take-up | features, position) on the log scale (Poisson loss, log link), with the
       position kept apart from every other feature (``interaction_cst``: its trees use the
       position alone, the others never see it) and held to never raise take-up further down
       the list. So P = θ(position) × attractiveness(features): the position *multiplies*
       every offer's take-up by the same factor — the position-based click model, exactly —
       and ``take_up`` answers at position 1: how attractive the offer is when seen (capped
       at 1). ``position_bias_`` (θ, 1 at the top) is what the counterfactual evaluation
       weights impressions by.
    2. **Outcome** (given a referral, how far did it get?) does not depend on where the offer
       was shown: a boosted regressor of the gain ``2**label - 1`` on the referred rows only,
       with the Poisson loss (gains are counts-like: non-negative, skewed, mean > 0).

    The score is ``P(take-up at the top) × E[gain | take-up]``: the expected gain, on the same
    scale for every need (0–7), so that lists can mix needs by value.

    ``fit(X, y, positions=, taken_up=)``: ``y`` the graded label (0–3), ``taken_up`` whether
    a referral was made (default: ``y > 0``), ``positions`` the 1-based rank shown (default:
    1, no position correction). ``categorical`` and ``monotone`` give per column a category
    flag and a known direction (-1, 0, 1). Small trees (7 leaves), sized to the data
    (``"auto"``), scored by ``models.compiled`` (a request scores in well under a
    millisecond).
    """

    def __init__(
        self,
        *,
        categorical: tuple[int, ...] = (),
        monotone: tuple[int, ...] = (),
        learning_rate: float = 0.1,
        max_iter: int = 150,
        max_leaf_nodes: int = 7,
        min_samples_leaf: int | str = "auto",
        l2_regularization: float = 1.0,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.categorical = categorical
        self.monotone = monotone
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def _leaf(self, n_rows: int, lo: int, hi: int, per: int) -> int:
        if self.min_samples_leaf == "auto":
            return _auto_leaf(n_rows, lo, hi, per)
        return int(self.min_samples_leaf)

    def _boosting(self, n_rows: int, lo: int, hi: int, per: int) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "max_iter": self.max_iter,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self._leaf(n_rows, lo, hi, per),
            "l2_regularization": self.l2_regularization,
            "early_stopping": n_rows >= EARLY_STOPPING_ROWS,
            "validation_fraction": 0.15,
            "n_iter_no_change": 10,
            "random_state": self.random_state,
        }

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        positions: Any = None,
        taken_up: Any = None,
    ) -> TakeUpOutcomeRanker:
        from models.compiled import CompiledTrees

        X, y = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True
        )
        n, d = X.shape
        pos = np.ones(n) if positions is None else np.asarray(positions, dtype=np.float64)
        took = (y > 0) if taken_up is None else np.asarray(taken_up, dtype=bool)
        weights = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        self.all_missing_ = np.isnan(X).all(axis=0)
        X = self._fill(X)
        mono = np.zeros(d, dtype=int)
        mono[: len(self.monotone)] = np.asarray(self.monotone, dtype=int)[:d]
        cat = np.zeros(d, dtype=bool)
        for j in self.categorical:
            if j < d and not self.all_missing_[j]:
                cat[j] = True
        mono = np.where(cat, 0, mono)
        self.position_column_ = d
        Xp = np.column_stack([X, np.minimum(pos, MAX_POSITION)])
        self.take_up_prior_ = float(took.mean()) if n else 0.0
        self.take_up_: HistGradientBoostingRegressor | None = None
        if 0 < took.sum() < n:
            self.take_up_ = HistGradientBoostingRegressor(
                loss="poisson",
                categorical_features=np.append(cat, False) if cat.any() else None,
                monotonic_cst=np.append(mono, -1),
                interaction_cst=[[d], list(range(d))],
                **self._boosting(n, 20, 200, 100),
            )
            with _threads_for(n):
                self.take_up_.fit(Xp, took.astype(np.float64), sample_weight=weights)
        gain = np.exp2(np.clip(y, 0, None)) - 1.0
        m = int(took.sum())
        self.gain_prior_ = float(gain[took].mean()) if m else 0.0
        self.outcome_: HistGradientBoostingRegressor | None = None
        if m >= 2 and np.ptp(gain[took]) > 0:
            self.outcome_ = HistGradientBoostingRegressor(
                loss="poisson",
                categorical_features=cat if cat.any() else None,
                monotonic_cst=mono,
                **self._boosting(m, 10, 100, 50),
            )
            # a column can be missing in every referred row though not in every row (a
            # feature added since most were served): scikit-learn cannot bin an empty
            # column, and a constant one is never split on, so it serves the same
            referred = X[took]
            empty = np.isnan(referred).all(axis=0)
            if empty.any():
                referred[:, empty] = 0.0
            with _threads_for(m):
                self.outcome_.fit(
                    referred, gain[took], sample_weight=None if weights is None else weights[took]
                )
        self._take_up_trees = CompiledTrees(self.take_up_) if self.take_up_ is not None else None
        self._outcome_trees = CompiledTrees(self.outcome_) if self.outcome_ is not None else None
        self.position_bias_ = self._position_bias(Xp)
        self.n_iter_ = int(getattr(self.take_up_, "n_iter_", 0)) + int(
            getattr(self.outcome_, "n_iter_", 0)
        )
        return self

    def _fill(self, X: np.ndarray) -> np.ndarray:
        if self.all_missing_.any():
            X = X.copy()
            X[:, self.all_missing_] = 0.0
        return X

    def _position_bias(self, Xp: np.ndarray) -> np.ndarray:
        """Take-up at positions 1 … ``MAX_POSITION`` relative to position 1: the examination
        curve this model learnt. The position's trees only add to the log, so the ratio is
        the same for every offer; one row is enough to read it."""
        if self._take_up_trees is None:
            return np.ones(MAX_POSITION)
        probe = np.repeat(Xp[:1], MAX_POSITION, axis=0)
        probe[:, self.position_column_] = np.arange(1, MAX_POSITION + 1)
        raw = self._take_up_trees.raw(probe)
        return np.exp(raw - raw[0])

    def _validated(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self._fill(X)

    def _take_up(self, X: np.ndarray) -> np.ndarray:
        if self._take_up_trees is None:
            return np.full(X.shape[0], self.take_up_prior_)
        at_top = self._take_up_trees.mean(np.column_stack([X, np.ones(X.shape[0])]))
        return np.minimum(at_top, 1.0)

    def _gain(self, X: np.ndarray) -> np.ndarray:
        if self._outcome_trees is None:
            return np.full(X.shape[0], self.gain_prior_)
        return self._outcome_trees.mean(X)

    def take_up(self, X: Any) -> np.ndarray:
        """P(referred | shown first), per row."""
        return self._take_up(self._validated(X))

    def outcome_gain(self, X: Any) -> np.ndarray:
        """E[gain | referred], per row: the outcome half of the score (0 … 7)."""
        return self._gain(self._validated(X))

    def predict_gain(self, X: Any) -> np.ndarray:
        """Expected gain ``E[2**label - 1]`` of each row if shown first (0 … 7)."""
        X = self._validated(X)
        return self._take_up(X) * self._gain(X)

    def predict(self, X: Any) -> np.ndarray:
        """The ranking score: the expected gain if shown first (0 … 7)."""
        return self.predict_gain(X)

    def score_rows(self, X: np.ndarray) -> np.ndarray:
        """``predict`` for the engine's own float matrices, without scikit-learn's input
        checks (a request has already validated its features)."""
        if self.all_missing_.any():
            X = self._fill(X)
        return self._take_up(X) * self._gain(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.regressor_tags.poor_score = True
        return tags


# --- the shared interface of ranker and baselines over frames ------------------------------


class FrameScorer(Protocol):
    """Something that learns from a training frame and scores the rows of another frame."""

    name: str

    def fit(self, frame: pd.DataFrame) -> FrameScorer: ...

    def score(self, frame: pd.DataFrame) -> np.ndarray: ...


def feature_matrix(frame: pd.DataFrame, feature_names: Sequence[str]) -> np.ndarray:
    """The served feature values, in the engine's order, as the model sees them."""
    missing = [n for n in feature_names if n not in frame.columns]
    if missing:
        raise KeyError(f"training frame lacks features: {', '.join(missing)}")
    return frame.loc[:, list(feature_names)].to_numpy(dtype=np.float64)


@dataclass
class EstimatorScorer:
    """A scikit-learn estimator (or pipeline) over the feature columns of a frame."""

    name: str
    estimator: Any
    feature_names: tuple[str, ...]
    likelihood: Callable[[Any, np.ndarray], np.ndarray] | None = None
    fitted_: Any = field(default=None, init=False, repr=False)

    def fit(self, frame: pd.DataFrame) -> EstimatorScorer:
        self.fitted_ = clone(self.estimator).fit(
            feature_matrix(frame, self.feature_names), frame[C.LABEL].to_numpy()
        )
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.fitted_.predict(feature_matrix(frame, self.feature_names)))

    def predict_likelihood(self, frame: pd.DataFrame) -> np.ndarray | None:
        """P(success) per row when the model has a likelihood, else None."""
        if self.likelihood is None:
            return None
        return self.likelihood(self.fitted_, feature_matrix(frame, self.feature_names))


class _MedianImputer(TransformerMixin, BaseEstimator):
    """A missing value (NaN) becomes its column's median, and a column without any value
    becomes 0 — what ``SimpleImputer(strategy="median", keep_empty_features=True)`` does,
    but with ``np.nanmedian``: SimpleImputer's masked-array median took 3.4 s of the
    1M-impression training (docs/benchmarks.md)."""

    def fit(self, X: np.ndarray, y: Any = None) -> _MedianImputer:
        X = np.asarray(X, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": handled below
            median = np.nanmedian(X, axis=0)
        self.statistics_ = np.where(np.isnan(median), 0.0, median)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        return np.where(np.isnan(X), self.statistics_, X)


class _SuccessClassifier(BaseEstimator):
    """Logistic regression on "enrolled or better"; ``predict`` is that probability, so the
    baseline ranks by it and its calibration can be checked."""

    def __init__(self, success_from: float = 2, C: float = 1.0, random_state: int | None = None):
        self.success_from = success_from
        self.C = C
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> _SuccessClassifier:
        success = (np.asarray(y) >= self.success_from).astype(int)
        self.pipeline_: Pipeline = make_pipeline(
            _MedianImputer(),
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=500, random_state=self.random_state),
        )
        self.constant_: float | None = None
        if success.min() == success.max():  # one class: a constant answer, like the prior
            self.constant_ = float(success.mean())
        else:
            self.pipeline_.fit(X, success)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.constant_ is not None:
            return np.full(len(X), self.constant_)
        return self.pipeline_.predict_proba(X)[:, 1]


@dataclass
class TakeUpOutcomeScorer:
    """``TakeUpOutcomeRanker`` over a training frame: positions and take-up come from the
    frame's ``position`` and ``taken_up`` columns."""

    feature_names: tuple[str, ...]
    estimator: TakeUpOutcomeRanker
    name: str = "take_up_outcome"
    fitted_: Any = field(default=None, init=False, repr=False)

    def fit(self, frame: pd.DataFrame) -> TakeUpOutcomeScorer:
        taken = frame.get(C.TAKEN_UP, None)
        self.fitted_ = clone(self.estimator).fit(
            feature_matrix(frame, self.feature_names),
            frame[C.LABEL].to_numpy(),
            positions=frame[C.POSITION].to_numpy() if C.POSITION in frame else None,
            taken_up=None if taken is None else taken.to_numpy(dtype=bool),
        )
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.fitted_.predict(feature_matrix(frame, self.feature_names)))


def take_up_outcome_scorer(
    feature_names: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    monotone: dict[str, int] | None = None,
    random_state: int | None = 0,
    **params: Any,
) -> TakeUpOutcomeScorer:
    """The candidate ranker as a frame scorer, told which columns are categories and which
    directions are known (by feature name)."""
    names = tuple(feature_names)
    monotone = monotone or {}
    return TakeUpOutcomeScorer(
        feature_names=names,
        estimator=TakeUpOutcomeRanker(
            categorical=tuple(i for i, n in enumerate(names) if n in categorical),
            monotone=tuple(int(monotone.get(n, 0)) for n in names),
            random_state=random_state,
            **params,
        ),
    )


def gradient_boosted_scorer(
    feature_names: Sequence[str], random_state: int | None = 0, **params: Any
) -> EstimatorScorer:
    """The candidate ranker as a frame scorer (default hyperparameters unless given)."""
    return EstimatorScorer(
        name="gradient_boosted",
        estimator=GradientBoostedRanker(random_state=random_state, **params),
        feature_names=tuple(feature_names),
        likelihood=lambda est, X: est.predict_likelihood(X),
    )


def logistic_baseline(
    feature_names: Sequence[str], random_state: int | None = 0, success_from: float = 2
) -> EstimatorScorer:
    """Logistic regression on P(enrolled or better): the simplest learnt model."""
    return EstimatorScorer(
        name="logistic_regression",
        estimator=_SuccessClassifier(success_from=success_from, random_state=random_state),
        feature_names=tuple(feature_names),
        likelihood=lambda est, X: est.predict(X),
    )


@dataclass
class RuleScoreBaseline:
    """The matcher's hand-set rule score, computed from the same served features.

    ``rule`` maps a feature matrix (columns in ``feature_names`` order) to scores; it is the
    engine's ``RuleScoreRanker.score``, so this baseline is what serves when no model is active.
    """

    rule: Callable[[np.ndarray], np.ndarray]
    feature_names: tuple[str, ...]
    name: str = "rule_score"

    def fit(self, frame: pd.DataFrame) -> RuleScoreBaseline:
        return self  # nothing to learn: the rules are fixed

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.rule(feature_matrix(frame, self.feature_names)), dtype=float)


@dataclass
class PopularityBaseline:
    """Each offer's mean gain in training, shrunk towards the overall mean (``prior_weight``
    pseudo-impressions), so that an offer shown twice with one success does not top every
    list. Offers never seen in training get the overall mean."""

    prior_weight: float = 20.0
    name: str = "popularity"
    by_offer_: pd.Series | None = field(default=None, init=False, repr=False)
    overall_: float = field(default=0.0, init=False)

    def fit(self, frame: pd.DataFrame) -> PopularityBaseline:
        gain = np.exp2(frame[C.LABEL].to_numpy(dtype=float)) - 1.0
        stats = pd.DataFrame({"item": frame[C.ITEM].to_numpy(), "gain": gain}).groupby("item")[
            "gain"
        ]
        self.overall_ = float(gain.mean()) if len(gain) else 0.0
        total, count = stats.sum(), stats.count()
        self.by_offer_ = (total + self.prior_weight * self.overall_) / (count + self.prior_weight)
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.by_offer_ is not None, "fit first"
        mapped = frame[C.ITEM].map(self.by_offer_)
        return mapped.fillna(self.overall_).to_numpy(dtype=float)


@dataclass
class RandomBaseline:
    """Seeded random order: the floor any ranking must clear."""

    seed: int = 0
    name: str = "random"

    def fit(self, frame: pd.DataFrame) -> RandomBaseline:
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return np.random.default_rng(self.seed).random(len(frame))


def baselines(
    feature_names: Sequence[str],
    rule: Callable[[np.ndarray], np.ndarray] | None,
    seed: int = 0,
) -> list[FrameScorer]:
    """The baselines of every evaluation, in report order."""
    out: list[FrameScorer] = []
    if rule is not None:
        out.append(RuleScoreBaseline(rule=rule, feature_names=tuple(feature_names)))
    out += [
        PopularityBaseline(),
        RandomBaseline(seed=seed),
        logistic_baseline(feature_names, random_state=seed),
    ]
    return out
