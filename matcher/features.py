"""The features that rank eligible offers, one row per (person, offer).

``feature_matrix`` is the only place features are computed: serving calls it for the
candidates of a request, and training (``models/``) calls it for the offers shown in logged
requests — so serving and training cannot drift apart. Impressions store the exact values
served, and ``FEATURE_SCHEMA`` (a hash of names and definitions version) tells a model which
features it was trained on.

Every feature is numeric and, except ``completion_rate``, never NaN:

- ``distance_km``: great-circle km to the offer; 0 when the offer is taken online.
- ``online``: 1 when the offer is taken online (outside reach, or without a place).
- ``level_fit``: 0–1, how well the offer's target German level suits the person's level
  (1 = one level up; 0.5 = the offer has no target level, e.g. daycare).
- ``schedule_overlap``: 0–1, share of the offer's days × times the person is available
  (1 when either side has no fixed times).
- ``childcare_fit``: 1 when the offer provides childcare and the person has a child under 6.
- ``language_shared``: 1 when the offer supports a language the person speaks (besides German).
- ``days_until_start``: days from today to the start, 0–365 (0 = started or no fixed start).
- ``capacity_ratio``: free / total places, 0–1 (0.5 when not reported).
- ``need_priority``: 1 / (1 + position of the need the offer serves), 0–1.
- ``profession_similarity``: 1 when the offer's text names the person's profession or its
  field ("Pflege" for a nurse), else 0.
- ``completion_rate``: share of past referrals that completed the offer, 0–1; NaN while no
  outcomes are known (the ranker lifecycle issue fills it).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from matcher.profile import ResolvedProfile
from matcher.rules import distances_km
from matcher.snapshot import Snapshot

FEATURES_VERSION = 1
FEATURE_NAMES: tuple[str, ...] = (
    "distance_km",
    "online",
    "level_fit",
    "schedule_overlap",
    "childcare_fit",
    "language_shared",
    "days_until_start",
    "capacity_ratio",
    "need_priority",
    "profession_similarity",
    "completion_rate",
)
#: Identifies names, order and definitions; a model trained on another schema is refused.
FEATURE_SCHEMA: str = hashlib.sha256(
    json.dumps({"version": FEATURES_VERSION, "names": FEATURE_NAMES}).encode()
).hexdigest()[:16]
COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}

#: level_fit by (target rank − person's rank), offset by 7 so that −7…7 index it. One level
#: up is ideal; two or three (an integration course from scratch to B1) still fit well;
#: the person's own level teaches little; far below is useless.
_LEVEL_FIT = np.array([0.0] * 7 + [0.3, 1.0, 0.85, 0.7, 0.5, 0.4, 0.3, 0.2])
NO_TARGET_FIT = 0.5
UNKNOWN_CAPACITY = 0.5
MAX_DAYS = 365
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.float64)


def _share(offer_bits: np.ndarray, person_bits: int) -> np.ndarray:
    """Share of the offer's slots in ``person_bits`` (1 when either side is unrestricted)."""
    if not person_bits:
        return np.ones(len(offer_bits))
    total = _POPCOUNT[offer_bits]
    hit = _POPCOUNT[offer_bits & person_bits]
    return np.where(total > 0, hit / np.maximum(total, 1), 1.0)


def feature_matrix(
    s: Snapshot, rows: np.ndarray, p: ResolvedProfile, distances: np.ndarray | None = None
) -> np.ndarray:
    """The features of ``rows`` for profile ``p``: shape (len(rows), len(FEATURE_NAMES)),
    columns in ``FEATURE_NAMES`` order. ``distances`` may pass km already computed."""
    n = len(rows)
    x = np.empty((n, len(FEATURE_NAMES)), dtype=np.float64)
    d = distances_km(s, rows, p) if distances is None else distances
    online = s.online[rows] & p.profile.online_ok & ~(d <= p.profile.max_distance_km)
    x[:, COLUMN["distance_km"]] = np.where(online, 0.0, d)
    x[:, COLUMN["online"]] = online
    target = s.level_target[rows].astype(np.int64)
    x[:, COLUMN["level_fit"]] = np.where(
        target >= 0, _LEVEL_FIT[np.clip(target - p.level + 7, 0, 14)], NO_TARGET_FIT
    )
    x[:, COLUMN["schedule_overlap"]] = _share(s.days[rows], p.day_bits) * _share(
        s.times[rows], p.time_bits
    )
    x[:, COLUMN["childcare_fit"]] = s.childcare[rows] & p.has_young_child
    langs = s.language_index(p.support_languages)
    x[:, COLUMN["language_shared"]] = (
        s.languages[np.ix_(rows, langs)].any(axis=1) if len(langs) else 0.0
    )
    start = s.start[rows].astype(np.int64)
    x[:, COLUMN["days_until_start"]] = np.where(
        start > 0, np.clip(start - p.today.toordinal(), 0, MAX_DAYS), 0
    )
    total, free = s.cap_total[rows], s.cap_free[rows]
    known = (total > 0) & (free >= 0)
    x[:, COLUMN["capacity_ratio"]] = np.where(
        known, np.clip(free / np.maximum(total, 1), 0.0, 1.0), UNKNOWN_CAPACITY
    )
    need = p.need_of_category[s.cat[rows]]
    x[:, COLUMN["need_priority"]] = np.where(need >= 0, p.need_priority[np.maximum(need, 0)], 0.0)
    x[:, COLUMN["profession_similarity"]] = profession_similarity(s, rows, p)
    x[:, COLUMN["completion_rate"]] = s.completion[rows]
    return x


def profession_similarity(s: Snapshot, rows: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    """1 where the offer's words name the person's profession or its field, else 0."""
    queries = p.profession_queries
    if not queries or not len(rows):
        return np.zeros(len(rows))
    words = s.vocabulary.matching(tuple(w for q in queries for w in q.split()))
    return words[s.tokens[rows]].any(axis=1).astype(np.float64)


def feature_dict(row: np.ndarray) -> dict[str, float | None]:
    """One feature row as ``{name: value}`` (NaN as None, for JSON)."""
    return {
        name: (float(v) if np.isfinite(v) else None)
        for name, v in zip(FEATURE_NAMES, row, strict=True)
    }
