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

**Uncertainty**: every estimate is a ratio of sums over the shown offers, so its 95 %
interval is the normal one of the linearised ratio, with a variance that lets the rows of
one person *and* the rows of one offer err together (two-way cluster-robust, see
``_cluster_variance``); for two models the interval is that of their *difference* on the
same rows — which is what a promotion must look at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matcher.engine import cover_needs, coverage_window
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
    q_sorted = query[order]
    starts = np.flatnonzero(np.r_[True, q_sorted[1:] != q_sorted[:-1]])
    ends = np.r_[starts[1:], n]
    within = np.arange(n) - np.repeat(starts, ends - starts)  # 0-based place in score order
    # Where every need's best offer already lies within the coverage window, the engine's
    # order is the score order (cover_needs never steps in); only the other requests need
    # it, one by one.
    key = q_sorted.astype(np.int64) * (int(needs.max()) + 1) + needs[order]
    pairs, pair_of = np.unique(key, return_inverse=True)
    first = np.full(len(pairs), n, dtype=np.int64)
    np.minimum.at(first, pair_of.ravel(), within)
    latest_first = np.zeros(int(query.max()) + 1, dtype=np.int64)
    np.maximum.at(latest_first, pairs // (int(needs.max()) + 1), first)
    window = np.array([coverage_window(int(c)) for c in n_needs])
    in_score_order = latest_first < window
    plain = in_score_order[q_sorted]
    ranks[order[plain]] = within[plain] + 1
    for a, b in zip(starts, ends, strict=True):
        members = order[a:b]
        if in_score_order[query[members[0]]]:
            continue
        count = int(n_needs[query[members[0]]])
        picked = cover_needs(needs[members], np.arange(b - a), count, b - a)
        ranks[members[picked]] = np.arange(1, b - a + 1)
    return ranks


def _row_terms(
    frame: pd.DataFrame, ranks: np.ndarray, weights: np.ndarray, k: int
) -> dict[str, np.ndarray]:
    """Each row's weighted share of the estimates' sums at cut-off ``k``."""
    gain = np.exp2(frame[C.LABEL].to_numpy(dtype=np.float64)) - 1.0
    success = (frame[C.LABEL].to_numpy() >= SUCCESS_FROM).astype(np.float64)
    top = ranks <= k
    discount = np.where(top, 1.0 / np.log2(ranks + 1.0), 0.0)
    return {
        "dcg": weights * gain * discount,
        "gain": weights * gain,
        "hits": weights * success * top,
        "successes": weights * success,
    }


#: The groups whose rows may err together: people and offers (see ``_cluster_variance``).
CLUSTERS = (C.PERSON, C.ITEM)
Z_95, Z_90 = 1.959964, 1.644854
#: The power the gate's "what these data would show" is stated at: 80 %, 4 times in 5.
Z_POWER = 0.841621


def _cluster_codes(frame: pd.DataFrame, clusters: Sequence[str]) -> list[np.ndarray]:
    """Integer group codes of each clustering, and for two the codes of their intersection
    (computed once per estimate: every metric's variance reuses them)."""
    if not 1 <= len(clusters) <= 2:
        raise ValueError("one or two clusterings")
    codes = [pd.factorize(frame[column])[0] for column in clusters]
    if len(codes) == 2:
        pairs = codes[0].astype(np.int64) * (int(codes[1].max(initial=0)) + 1) + codes[1]
        codes.append(np.unique(pairs, return_inverse=True)[1].ravel())
    return codes


def _cluster_variance(codes: Sequence[np.ndarray], e: np.ndarray) -> float:
    """The variance of ``e.sum()`` when rows of the same group may err together, from the
    rows' centred contributions ``e`` (``codes`` from ``_cluster_codes``).

    One clustering (people): the sum of the groups' squared sums. Two (people and offers):
    Cameron, Gelbach and Miller's two-way cluster-robust variance — people's term plus
    offers' term minus the term of their intersection (person × offer), each with the
    small-sample factor G / (G − 1) — never below people's term alone.

    Why offers too: a model learns about an offer from some people's outcomes and re-orders
    it for others, so the errors of people who share offers go together; intervals over
    people alone were too narrow in simulated worlds whose truth is known
    (``bench/gate_calibration_bench.py``, figures in docs/benchmarks.md)."""

    def term(group: np.ndarray) -> float:
        sums = np.bincount(group, weights=e)
        g = len(sums)
        factor = g / (g - 1) if g > 1 else 1.0
        return factor * float((sums**2).sum())

    first = term(codes[0])
    if len(codes) == 1:
        return first
    return max(first, first + term(codes[1]) - term(codes[2]))


def _ratio_variance(
    groups: Sequence[np.ndarray], num: np.ndarray, den: np.ndarray, ratio: float
) -> float:
    """Variance of ``num.sum() / den.sum()``, linearised: each row contributes
    ``(num − ratio · den) / den.sum()``."""
    total = float(den.sum())
    if total <= 0 or not np.isfinite(ratio):
        return float("nan")
    return _cluster_variance(groups, (num - ratio * den) / total)


def _interval(estimate: float, variance: float, z: float) -> list[float]:
    if not (np.isfinite(estimate) and np.isfinite(variance)):
        return [float("nan"), float("nan")]
    half = z * float(np.sqrt(max(variance, 0.0)))
    return [round(estimate - half, 4), round(estimate + half, 4)]


def counterfactual_estimates(
    frame: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    bias: PositionBias,
    *,
    reference: str | None = None,
    cutoffs: tuple[int, ...] = CUTOFFS,
    recall_cutoffs: tuple[int, ...] = RECALL_CUTOFFS,
    seed: int = 0,
    clusters: Sequence[str] = CLUSTERS,
) -> dict[str, Any]:
    """Counterfactual estimates for each model's ``scores`` of the ``frame`` rows (test
    impressions with ``label``, ``position``, ``person_key``, ``offer_id``, ``request_id``
    and need), with 95 % intervals robust to errors shared within people and within offers
    (``clusters``); and each model's difference to ``reference``.

    Every metric is a ratio of two sums over rows (for ``ips_dcg`` the denominator counts
    requests), so its interval is the normal one of the linearised ratio; a difference to
    the reference shares its denominator, which makes it a ratio too."""
    weights = 1.0 / bias.at(frame[C.POSITION].to_numpy())
    n_requests = int(frame[C.QUERY].nunique()) if len(frame) else 0
    people = int(frame[C.PERSON].nunique()) if len(frame) else 0
    groups = _cluster_codes(frame, clusters)
    per_request = (
        1.0 / frame.groupby(C.QUERY)[C.QUERY].transform("size").to_numpy(np.float64)
        if len(frame)
        else np.zeros(0)
    )
    # metric -> (denominator per row, {model: numerator per row})
    parts: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    for name, s in scores.items():
        ranks = policy_ranks(frame, s, seed=seed)
        for k in sorted(set(cutoffs) | set(recall_cutoffs)):
            t = _row_terms(frame, ranks, weights, k)
            if k in cutoffs:
                parts.setdefault(f"sndcg@{k}", (t["gain"], {}))[1][name] = t["dcg"]
                parts.setdefault(f"ips_dcg@{k}", (per_request, {}))[1][name] = t["dcg"]
            if k in recall_cutoffs:
                parts.setdefault(f"snrecall@{k}", (t["successes"], {}))[1][name] = t["hits"]
    models: dict[str, dict[str, Any]] = {name: {} for name in scores}
    differences: dict[str, dict[str, Any]] = {}
    for metric, (den, nums) in parts.items():
        total = float(den.sum())
        point = {n: float(v.sum()) / total if total > 0 else float("nan") for n, v in nums.items()}
        for name, num in nums.items():
            variance = _ratio_variance(groups, num, den, point[name])
            models[name][metric] = {
                "estimate": _round(point[name]),
                "ci": _interval(point[name], variance, Z_95),
            }
        if reference is None or reference not in nums:
            continue
        for name, num in nums.items():
            if name == reference:
                continue
            diff = point[name] - point[reference]
            variance = _ratio_variance(groups, num - nums[reference], den, diff)
            differences.setdefault(name, {})[metric] = {
                "estimate": _round(diff),
                "ci": _interval(diff, variance, Z_95),
                "one_sided": _interval(diff, variance, Z_90),
            }
    return {
        "method": "position-based inverse propensity weighting, self-normalised",
        "position_bias": bias.as_dict(),
        "min_propensity": MIN_PROPENSITY,
        "requests": n_requests,
        "people": people,
        "intervals": {
            "level": 0.95,
            "clustered_by": list(clusters),
            "variance": "two-way cluster-robust" if len(clusters) == 2 else "cluster-robust",
        },
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
    confidence, one-sided: the lower end of the difference's 90 % interval is above 0 —,
    ``("worse", why)`` when it is worse with 95 % confidence, ``("noise", why)`` otherwise
    or when nothing could be computed. (The question is one-sided: is the candidate better? The reported
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
    return decide((below, above), what, reference, ci=(lo, hi))


def detectable_difference(ci: Sequence[float]) -> float:
    """The smallest true difference the data behind a central 95 % interval ``ci`` would
    show as better beyond noise (the gate's one-sided 95 % test) 4 times in 5:
    ``(z_0.95 + z_0.80)`` standard errors, the standard error read off the interval.

    Why the gate says it: "not distinguishable" alone does not tell an analyst whether the
    candidate is no better or the data are too few; this says what they could have shown.
    The standard error shrinks with the square root of the people, so four times as many
    people halve it."""
    lo, hi = float(ci[0]), float(ci[1])
    return (Z_90 + Z_POWER) * (hi - lo) / (2 * Z_95)


def decide(
    one_sided: tuple[float, float],
    what: str,
    reference: Any,
    *,
    ci: Sequence[float] | None = None,
) -> tuple[str, str]:
    """The gate's decision on a difference (candidate − reference) from its one-sided 95 %
    bounds (the ends of its 90 % interval), with the reason worded around ``what``: the one
    rule for offline estimates and online comparisons alike. When it cannot tell and the
    central 95 % interval ``ci`` is given (and has a width: two identical orders differ by
    exactly 0), the reason adds ``detectable_difference``."""
    below, above = one_sided
    if below > 0:
        return "promote", f"better beyond noise (95% one-sided) — {what}"
    if above < 0:
        return "worse", f"worse (95% one-sided) — {what}"
    why = f"not distinguishable from {reference} — {what}"
    # a zero-width interval means the two orders are the same, not that the data are exact
    if ci is not None and all(np.isfinite(ci)) and ci[1] > ci[0]:
        why += (
            f"; these data would show a difference of {detectable_difference(ci):.4f} or more "
            "4 times in 5"
        )
    return "noise", why
