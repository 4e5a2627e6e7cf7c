"""Ranking and calibration metrics, vectorised over many queries at once.

Conventions follow Microsoft recommenders' evaluation module: every ranking metric is
``name_at_k(relevance, scores, *, query, k=)`` over flat, aligned arrays (one entry per shown
offer; ``query`` says which served recommendation it belongs to), and each docstring gives its
range. The mean is taken over queries that have at least one relevant offer: a query with
nothing relevant says nothing about order, so it is left out (``per_query=True`` shows which
were used). With no usable query at all the result is ``nan``.

Ties in ``scores`` are scored by their *expected* value under a random order of the tied
offers, computed exactly (McSherry & Najork, 2008). So a constant scorer earns what random
order would, neither the best nor the worst case, and a model cannot gain or lose from the
order rows happen to arrive in (which often is the order the old ranker showed them in).

Everything groups with numpy sorts and ``bincount``; there is no Python loop over queries, so
a million impressions take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

DEFAULT_K = 10


@dataclass(frozen=True)
class _Ranked:
    """Rows sorted by query, then score descending, with the facts every metric needs."""

    query_codes: np.ndarray  # per sorted row: dense query code 0..n_queries-1
    queries: pd.Index  # query label of each code
    position: np.ndarray  # 0-based rank within the query
    rel: np.ndarray  # relevance of each sorted row
    group: np.ndarray  # tie-group id per sorted row (same query and same score)
    group_first: np.ndarray  # per group: index (in sorted rows) of its first row
    group_start: np.ndarray  # per group: 0-based position of its first row
    group_size: np.ndarray  # per group: number of tied rows


def _positions(codes_sorted: np.ndarray) -> np.ndarray:
    """0-based rank of each row within its query, for rows already sorted by query."""
    n = len(codes_sorted)
    new_query = np.ones(n, dtype=bool)
    new_query[1:] = codes_sorted[1:] != codes_sorted[:-1]
    query_start = np.flatnonzero(new_query)
    return np.arange(n) - np.repeat(query_start, np.diff(np.append(query_start, n)))


def _rank(relevance: ArrayLike, scores: ArrayLike, query: ArrayLike) -> _Ranked:
    rel = np.asarray(relevance, dtype=float)
    score = np.asarray(scores, dtype=float)
    codes, uniques = pd.factorize(np.asarray(query), sort=False)
    if not (len(rel) == len(score) == len(codes)):
        raise ValueError("relevance, scores and query must have the same length")
    if np.isnan(score).any():
        raise ValueError("scores contain NaN")
    order = np.lexsort((-score, codes))
    codes_s, score_s, rel_s = codes[order], score[order], rel[order]
    n = len(codes_s)
    position = _positions(codes_s)
    new_group = position == 0
    new_group[1:] |= score_s[1:] != score_s[:-1]
    group = np.cumsum(new_group) - 1
    group_first = np.flatnonzero(new_group)
    group_size = np.diff(np.append(group_first, n))
    return _Ranked(
        query_codes=codes_s,
        queries=pd.Index(uniques),
        position=position,
        rel=rel_s,
        group=group,
        group_first=group_first,
        group_start=position[group_first],
        group_size=group_size,
    )


def _group_mean(r: _Ranked, values: np.ndarray) -> np.ndarray:
    """Each row's value replaced by the mean over its tie group (its expectation)."""
    sums = np.bincount(r.group, weights=values, minlength=len(r.group_size))
    return (sums / r.group_size)[r.group]


def _per_query_sum(r: _Ranked, values: np.ndarray) -> np.ndarray:
    return np.bincount(r.query_codes, weights=values, minlength=len(r.queries))


def _discount(position: np.ndarray) -> np.ndarray:
    return 1.0 / np.log2(position + 2.0)


def _finish(
    r: _Ranked, values: np.ndarray, usable: np.ndarray, per_query: bool
) -> float | pd.Series:
    series = pd.Series(values[usable], index=r.queries[usable], name="value")
    if per_query:
        return series
    return float(series.mean()) if len(series) else float("nan")


def _check_k(k: int) -> None:
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def graded_gain(relevance: ArrayLike) -> np.ndarray:
    """The gain of a graded label, ``2**rel - 1``: 0, 1, 3, 7 for labels 0..3, so that a
    completed course counts for much more than an accepted one."""
    return np.exp2(np.asarray(relevance, dtype=float)) - 1.0


# The mean is a float; ``per_query=True`` gives each usable query's value instead.
@overload
def ndcg_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    per_query: Literal[False] = ...,
) -> float: ...
@overload
def ndcg_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    per_query: Literal[True],
) -> pd.Series: ...
@overload
def ndcg_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    per_query: bool = ...,
) -> float | pd.Series: ...
def ndcg_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = DEFAULT_K,
    per_query: bool = False,
) -> float | pd.Series:
    """Normalised discounted cumulative gain of the top ``k`` with graded gains ``2**rel - 1``
    and discount ``1/log2(rank + 1)``.

    Range 0..1: 1.0 when the offers are ranked by relevance (best first), 0.0 when no relevant
    offer is in the top ``k``. Queries without any relevant offer are left out of the mean.
    """
    _check_k(k)
    r = _rank(relevance, scores, query)
    top = r.position < k
    gain = graded_gain(r.rel)
    dcg = _per_query_sum(r, np.where(top, _discount(r.position) * _group_mean(r, gain), 0.0))
    # The ideal order: the same rows sorted by relevance within each query.
    ideal = np.lexsort((-r.rel, r.query_codes))
    ipos = _positions(r.query_codes[ideal])
    igain = np.where(ipos < k, _discount(ipos) * graded_gain(r.rel[ideal]), 0.0)
    idcg = np.bincount(r.query_codes[ideal], weights=igain, minlength=len(r.queries))
    usable = idcg > 0
    values = np.divide(dcg, idcg, out=np.zeros_like(dcg), where=usable)
    return _finish(r, values, usable, per_query)


# The mean is a float; ``per_query=True`` gives each usable query's value instead.
@overload
def recall_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    relevant_from: float = ...,
    per_query: Literal[False] = ...,
) -> float: ...
@overload
def recall_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    relevant_from: float = ...,
    per_query: Literal[True],
) -> pd.Series: ...
@overload
def recall_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    relevant_from: float = ...,
    per_query: bool = ...,
) -> float | pd.Series: ...
def recall_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = DEFAULT_K,
    relevant_from: float = 1,
    per_query: bool = False,
) -> float | pd.Series:
    """Share of a query's relevant offers (``relevance >= relevant_from``) found in its top ``k``.

    Range 0..1: 1.0 when every relevant offer is in the top ``k``, 0.0 when none is. Queries
    without any relevant offer are left out of the mean.
    """
    _check_k(k)
    r = _rank(relevance, scores, query)
    hit = (r.rel >= relevant_from).astype(float)
    n_relevant = _per_query_sum(r, hit)
    found = _per_query_sum(r, np.where(r.position < k, _group_mean(r, hit), 0.0))
    usable = n_relevant > 0
    values = np.divide(found, n_relevant, out=np.zeros_like(found), where=usable)
    return _finish(r, values, usable, per_query)


# The mean is a float; ``per_query=True`` gives each usable query's value instead.
@overload
def map_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    relevant_from: float = ...,
    per_query: Literal[False] = ...,
) -> float: ...
@overload
def map_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    relevant_from: float = ...,
    per_query: Literal[True],
) -> pd.Series: ...
@overload
def map_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = ...,
    relevant_from: float = ...,
    per_query: bool = ...,
) -> float | pd.Series: ...
def map_at_k(
    relevance: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = DEFAULT_K,
    relevant_from: float = 1,
    per_query: bool = False,
) -> float | pd.Series:
    """Mean average precision of the top ``k``: per query, the precision at each relevant
    offer's rank, summed over the top ``k`` and divided by ``min(#relevant, k)``.

    Range 0..1: 1.0 when the relevant offers fill the first ranks, 0.0 when none is in the top
    ``k``. Queries without any relevant offer are left out of the mean.
    """
    _check_k(k)
    r = _rank(relevance, scores, query)
    hit = (r.rel >= relevant_from).astype(float)
    n_relevant = _per_query_sum(r, hit)
    # Expected rel_i * hits_through_i under random order within each tie group [a, a+n):
    # p*C + (i-a)*q + p, where p = r/n, q = r(r-1)/(n(n-1)) and C = hits before the group
    # (fixed, since earlier groups are always wholly before it).
    group_hits = np.bincount(r.group, weights=hit, minlength=len(r.group_size))
    n = r.group_size.astype(float)
    p = group_hits / n
    q = np.divide(group_hits * (group_hits - 1), n * (n - 1), out=np.zeros_like(n), where=n > 1)
    hits_before_row = np.cumsum(hit) - hit
    query_offset = hits_before_row[r.position == 0][r.query_codes]
    before = (hits_before_row - query_offset)[r.group_first]
    g = r.group
    expected = p[g] * before[g] + (r.position - r.group_start[g]) * q[g] + p[g]
    precision_terms = np.where(r.position < k, expected / (r.position + 1.0), 0.0)
    total = _per_query_sum(r, precision_terms)
    usable = n_relevant > 0
    denom = np.minimum(n_relevant, k)
    values = np.divide(total, denom, out=np.zeros_like(total), where=usable)
    return _finish(r, values, usable, per_query)


def catalogue_coverage(
    items: ArrayLike,
    scores: ArrayLike,
    *,
    query: ArrayLike,
    k: int = DEFAULT_K,
    catalogue_size: int,
) -> float:
    """Share of the catalogue that appears in at least one top-``k`` list.

    Range 0..1: low values mean the ranker keeps suggesting the same few offers (popular
    offers crowd out equally suitable ones). Ties at rank ``k`` are cut in row order.
    """
    _check_k(k)
    if catalogue_size <= 0:
        raise ValueError("catalogue_size must be positive")
    item = np.asarray(items)
    codes = pd.factorize(np.asarray(query))[0]
    order = np.lexsort((-np.asarray(scores, dtype=float), codes))
    shown = item[order][_positions(codes[order]) < k]
    return min(1.0, len(pd.unique(shown)) / catalogue_size)


def brier_score(outcome: ArrayLike, probability: ArrayLike) -> float:
    """Mean squared difference between a predicted probability and the 0/1 outcome.

    Range 0..1, lower is better: 0.0 for certain and right, 0.25 for always saying 50 %.
    """
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    if len(y) != len(p):
        raise ValueError("outcome and probability must have the same length")
    if len(y) == 0:
        return float("nan")
    if (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must lie in 0..1")
    return float(np.mean((p - y) ** 2))


def calibration_curve(
    outcome: ArrayLike, probability: ArrayLike, *, n_bins: int = 10
) -> pd.DataFrame:
    """Reliability table: predictions cut into ``n_bins`` bins of equal count; per bin the mean
    predicted probability, the observed share of positives (both 0..1) and the row count.
    A calibrated model lies on the diagonal."""
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    if len(y) == 0:
        return pd.DataFrame(columns=["mean_predicted", "fraction_positive", "count"])
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": bins, "p": p, "y": y})
    out = frame.groupby("bin").agg(
        mean_predicted=("p", "mean"), fraction_positive=("y", "mean"), count=("y", "size")
    )
    return out.reset_index(drop=True)
