"""Counterfactual evaluation: how well would this model have done, had it served?

Why not plain NDCG on the logged labels: people take up far more of what is shown first, so
the labels were written by the order that served them. A model that agrees with that order
puts the taken-up offers first and scores well, whether or not it is better; on such logs
even a perfect order can score below the serving one (docs/ranker.md has the numbers). The
naive figures are still reported, labelled as biased toward the serving order.

What is estimated instead (the position-based click model): an offer shown at position ``k``
is noticed with probability ``θ_k`` (``PositionBias``, estimated from the logs: by the
take-up model, or from randomised swaps when exploration ran long enough), and taken up,
once noticed, by how good it is for the person. Weighting each logged outcome by ``1 / θ``
of the position it was shown at undoes the advantage of the top places:

- ``sndcg@k`` (self-normalised IPS DCG): over all requests, the weighted gain
  ``(2**label - 1) / θ`` that the model's order would put in its first ``k`` places,
  discounted by ``1 / log2(rank + 1)``, divided by all the weighted gain among the shown
  offers. 0–1, higher is better; one number over requests, not an average of per-request
  ratios normalised by the logged labels.
- ``ips_dcg@k``: the same numerator per request (an unbiased estimate of the model's DCG@k
  among the shown offers, on the gain scale 0–7 per place).
- ``snrecall@k``: the weighted share of successes (enrolled or better) in the first ``k``.

The model's order is the engine's (``matcher.engine.cover_needs``: by score, every need
within the first ``max(3, needs)`` places) over the offers that were shown; ties are broken
at random, so a model without an opinion gets a random order, never the logged one.
Offline, a model can only re-order what was shown: offers it would have brought in from
outside the list are not seen (the online comparison sees them).

**Uncertainty**: 95 % intervals from a bootstrap over people (Poisson weights, so a
person's requests stay together), and for two models the interval of their *difference* on
the same bootstrap draws — which is what a promotion must look at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matcher.engine import cover_needs
from models import columns as C
from models.training import SUCCESS_FROM

#: The metric promotion decides on.
GATE_METRIC = "sndcg@5"
#: Cut-offs of the DCG estimates, and of recall: lists are at most ten long, so recall at 10
#: would be 1 for any order.
CUTOFFS = (5, 10)
RECALL_CUTOFFS = (3, 5)
#: Weights are capped at 1 / this: a position almost nobody looks at would otherwise let a
#: single outcome dominate the estimate.
MIN_PROPENSITY = 0.05
BOOTSTRAP_DRAWS = 500
#: Randomised swaps give the examination curve only with enough take-ups on each side.
MIN_SWAP_TAKE_UPS = 40


@dataclass(frozen=True)
class PositionBias:
    """Relative take-up at each position (``theta[0]`` = 1 at the top) and how it was found."""

    theta: tuple[float, ...]
    source: str

    def at(self, positions: np.ndarray) -> np.ndarray:
        """θ of each 1-based position (positions past the curve take its last value), capped
        below at ``MIN_PROPENSITY``."""
        curve = np.asarray(self.theta, dtype=np.float64)
        idx = np.clip(np.asarray(positions, dtype=np.int64) - 1, 0, len(curve) - 1)
        return np.clip(curve[idx], MIN_PROPENSITY, 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {"theta": [round(t, 4) for t in self.theta], "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PositionBias | None:
        if not data or not data.get("theta"):
            return None
        return cls(tuple(float(t) for t in data["theta"]), str(data.get("source", "card")))


NO_BIAS = PositionBias((1.0,), "none assumed")


def position_bias_from_swaps(frame: pd.DataFrame) -> PositionBias | None:
    """The examination curve from randomised swaps of neighbours (exploration).

    For a pair of places ``(j, j+1)`` that a request could have swapped, the offer the
    ranker put at ``j`` is shown at ``j`` when the pair was not swapped and at ``j+1`` when
    it was, at random: the ratio of its take-up rates is ``θ_{j+1} / θ_j`` (intervention
    harvesting). Chained from the top. ``None`` unless every pair from the top has at least
    ``MIN_SWAP_TAKE_UPS`` take-ups on each side."""
    if C.POLICY not in frame or C.TAKEN_UP not in frame:
        return None
    rows = frame[[C.QUERY, C.POSITION, C.TAKEN_UP, C.POLICY]]
    explored = rows[rows[C.POLICY].map(lambda p: bool(p and p.get("pairs")))]
    if explored.empty:
        return None
    kept: dict[int, list[int]] = {}
    moved: dict[int, list[int]] = {}
    for _rid, group in explored.groupby(C.QUERY, sort=False):
        policy = group[C.POLICY].iloc[0]
        took = dict(zip(group[C.POSITION].tolist(), group[C.TAKEN_UP].tolist(), strict=True))
        swapped = policy.get("swapped")
        for upper, _lower in policy["pairs"]:
            if swapped and swapped[0] == upper:
                moved.setdefault(upper, []).append(int(bool(took.get(upper + 1, False))))
            elif not swapped or upper not in swapped:
                kept.setdefault(upper, []).append(int(bool(took.get(upper, False))))
    theta = [1.0]
    for j in range(1, max(kept, default=0) + 1):
        a, b = kept.get(j, []), moved.get(j, [])
        if sum(a) < MIN_SWAP_TAKE_UPS or sum(b) < MIN_SWAP_TAKE_UPS:
            break
        theta.append(theta[-1] * float(np.mean(b) / np.mean(a)))
    if len(theta) < 2:
        return None
    return PositionBias(tuple(float(t) for t in theta), "randomised swaps")


def policy_ranks(frame: pd.DataFrame, scores: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """The 1-based rank each shown offer would get in its request under the engine's order
    for ``scores`` (need coverage included; ties in random order)."""
    n = len(frame)
    ranks = np.zeros(n, dtype=np.int64)
    if n == 0:
        return ranks
    # a stream of its own: ties must not follow anything else drawn from the same seed
    tiebreak = np.random.default_rng([seed, 0x71E]).random(n)
    query = pd.factorize(frame[C.QUERY])[0]
    need_col = C.NEED_CODE if C.NEED_CODE in frame else C.NEED
    needs = pd.factorize(frame[need_col].astype(str))[0]
    # how many needs each request names, counted once for all (per request in the loop
    # below it was a pandas call per request, most of this function's time)
    n_needs = pd.Series(needs).groupby(query).nunique().to_numpy()
    order = np.lexsort((tiebreak, -np.asarray(scores, dtype=np.float64), query))
    starts = np.flatnonzero(np.r_[True, query[order][1:] != query[order][:-1]])
    ends = np.r_[starts[1:], n]
    for a, b in zip(starts, ends, strict=True):
        members = order[a:b]
        count = int(n_needs[query[members[0]]])
        picked = cover_needs(needs[members], np.arange(b - a), count, b - a)
        ranks[members[picked]] = np.arange(1, b - a + 1)
    return ranks


def _person_sums(
    frame: pd.DataFrame, ranks: np.ndarray, weights: np.ndarray, k: int
) -> dict[str, np.ndarray]:
    gain = np.exp2(frame[C.LABEL].to_numpy(dtype=np.float64)) - 1.0
    success = (frame[C.LABEL].to_numpy() >= SUCCESS_FROM).astype(np.float64)
    top = ranks <= k
    discount = np.where(top, 1.0 / np.log2(ranks + 1.0), 0.0)
    person = pd.factorize(frame[C.PERSON])[0]
    n_people = int(person.max()) + 1 if len(person) else 0

    def per_person(values: np.ndarray) -> np.ndarray:
        return np.bincount(person, weights=values, minlength=n_people)

    return {
        "dcg": per_person(weights * gain * discount),
        "gain": per_person(weights * gain),
        "hits": per_person(weights * success * top),
        "successes": per_person(weights * success),
    }


def _ci(draws: np.ndarray, level: float = 95) -> list[float]:
    """The central ``level`` % interval of the bootstrap draws."""
    finite = draws[np.isfinite(draws)]
    if not len(finite):
        return [float("nan"), float("nan")]
    tail = (100 - level) / 2
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return [round(float(lo), 4), round(float(hi), 4)]


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    total = den.sum()
    return float(num.sum() / total) if total > 0 else float("nan")


def counterfactual_estimates(
    frame: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    bias: PositionBias,
    *,
    reference: str | None = None,
    cutoffs: tuple[int, ...] = CUTOFFS,
    recall_cutoffs: tuple[int, ...] = RECALL_CUTOFFS,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
) -> dict[str, Any]:
    """Counterfactual estimates for each model's ``scores`` of the ``frame`` rows (test
    impressions with ``label``, ``position``, ``person_key``, ``request_id`` and need), with
    bootstrap intervals by person; and each model's difference to ``reference``."""
    weights = 1.0 / bias.at(frame[C.POSITION].to_numpy())
    n_requests = int(frame[C.QUERY].nunique()) if len(frame) else 0
    people = int(frame[C.PERSON].nunique()) if len(frame) else 0
    rng = np.random.default_rng(seed)
    boot = rng.poisson(1.0, size=(draws, people)).astype(np.float64)
    point: dict[str, dict[str, float]] = {}
    sampled: dict[str, dict[str, np.ndarray]] = {}
    for name, s in scores.items():
        ranks = policy_ranks(frame, s, seed=seed)
        point[name], sampled[name] = {}, {}
        for k in sorted(set(cutoffs) | set(recall_cutoffs)):
            sums = _person_sums(frame, ranks, weights, k)
            with np.errstate(invalid="ignore", divide="ignore"):
                if k in cutoffs:
                    point[name][f"sndcg@{k}"] = _ratio(sums["dcg"], sums["gain"])
                    sampled[name][f"sndcg@{k}"] = (boot @ sums["dcg"]) / (boot @ sums["gain"])
                    point[name][f"ips_dcg@{k}"] = (
                        float(sums["dcg"].sum() / n_requests) if n_requests else float("nan")
                    )
                    sampled[name][f"ips_dcg@{k}"] = (boot @ sums["dcg"]) / max(n_requests, 1)
                if k in recall_cutoffs:
                    point[name][f"snrecall@{k}"] = _ratio(sums["hits"], sums["successes"])
                    sampled[name][f"snrecall@{k}"] = (boot @ sums["hits"]) / (
                        boot @ sums["successes"]
                    )
    models = {
        name: {
            metric: {"estimate": _round(value), "ci": _ci(sampled[name][metric])}
            for metric, value in metrics.items()
        }
        for name, metrics in point.items()
    }
    differences = {}
    if reference is not None and reference in point:
        for name in point:
            if name == reference:
                continue
            differences[name] = {
                metric: {
                    "estimate": _round(point[name][metric] - point[reference][metric]),
                    "ci": _ci(sampled[name][metric] - sampled[reference][metric]),
                    "one_sided": _ci(sampled[name][metric] - sampled[reference][metric], 90),
                }
                for metric in point[name]
            }
    return {
        "method": "position-based inverse propensity weighting, self-normalised",
        "position_bias": bias.as_dict(),
        "min_propensity": MIN_PROPENSITY,
        "requests": n_requests,
        "people": people,
        "bootstrap": {"draws": draws, "by": "person", "interval": 0.95},
        "reference": reference,
        "models": models,
        "differences": differences,
    }


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def gate(
    estimates: Mapping[str, Any], candidate: str, metric: str = GATE_METRIC
) -> tuple[str, str]:
    """The promotion decision on ``estimates`` (with the active version as reference):
    ``("promote", why)`` when the candidate is better beyond noise — better with 95 %
    confidence, one-sided: 95 % of the bootstrap differences lie above 0 —, ``("worse", why)``
    when it is worse with 95 % confidence, ``("noise", why)`` otherwise or when nothing
    could be computed. (The question is one-sided: is the candidate better? The reported
    interval stays the central 95 % one.)"""
    diff = (estimates.get("differences") or {}).get(candidate, {}).get(metric)
    reference = estimates.get("reference")
    if not diff or diff["estimate"] is None or not all(np.isfinite(diff["ci"])):
        return "noise", (
            f"no counterfactual estimate of {metric} could be made for {candidate} against "
            f"{reference} (no shown offer in the test data led to a referral)"
        )
    lo, hi = diff["ci"]
    below, above = diff.get("one_sided", diff["ci"])
    est = diff["estimate"]
    what = (
        f"{candidate} vs {reference}: {metric} difference {est:+.4f} "
        f"(95% interval {lo:+.4f} to {hi:+.4f}, {estimates['people']} people)"
    )
    if below > 0:
        return "promote", f"better beyond noise (95% one-sided) — {what}"
    if above < 0:
        return "worse", f"worse (95% one-sided) — {what}"
    return "noise", f"not distinguishable from {reference} — {what}"
