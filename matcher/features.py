"""The features that rank eligible offers, one row per (person, offer).

``feature_matrix`` is the only place features are computed: serving calls it for the
candidates of a request, the simulations call it through the engine, and training reads the
values stored with each impression (``matcher.impressions``) — so serving and training cannot
drift apart. ``FEATURE_SCHEMA`` (a hash of the names and the definitions' version) tells a
model which features it was trained on; a model of another schema is refused.

Fit of the offer to the person:

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

The person's context (what the rules use, coarse enough not to identify anyone):
``person_level`` (0 none … 6 C2), ``child_under_3``, ``child_3_to_5`` (0/1), ``age_band``
(lower bound of the band: 0, 18, 27, 35, 45, 55, 65), ``female``, ``on_benefits`` (SGB II or
AsylbLG), ``first_language`` (a category: the first language recorded, one of
``FIRST_LANGUAGES`` or "other"; missing when none is recorded), ``available_morning``,
``available_afternoon``, ``available_evening`` (1 when available; all 1 when no times given).

The offer's context: ``category`` (a category: the leaf code), ``hours_per_week`` (missing
when not reported), ``cost_eur``, ``for_women``, ``for_parents``, ``for_youth`` (target
groups), ``childcare_provided``, ``target_level`` (0–6, missing when none).

Mismatches the rules cannot see, spelled out so that small trees find them:

- ``childcare_missing``: the person has a child under 6, the offer is a course (language,
  work, recognition) and provides no childcare;
- ``fee_on_benefits``: the offer costs money and the person lives on benefits;
- ``level_gap``: the offer's target level minus the person's level (missing without target);
- ``first_language_supported``: the offer supports the person's *first* language.

Outcome history (``matcher.history``, as of the request's time, never missing):
``offer_outcome_rate``, ``org_outcome_rate``, ``area_outcome_rate`` (0–1, smoothed towards the
next level up) and ``offer_outcome_evidence``, ``org_outcome_evidence`` (log of 1 + recent
referrals with an outcome); ``offer_completion_rate``, ``org_completion_rate`` (completed among
the referrals that started and ended, smoothed alike) and ``org_completion_evidence``.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime

import numpy as np

from catalog import taxonomy
from matcher.history import HISTORY_FEATURES, OutcomeHistory
from matcher.profile import YOUNG_CHILD_AGE, ResolvedProfile
from matcher.rules import distances_km
from matcher.snapshot import GROUP_BIT, TIME_BIT, Snapshot

FEATURES_VERSION = 3
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
    # the person
    "person_level",
    "child_under_3",
    "child_3_to_5",
    "age_band",
    "female",
    "on_benefits",
    "first_language",
    "available_morning",
    "available_afternoon",
    "available_evening",
    # the offer
    "category",
    "hours_per_week",
    "cost_eur",
    "for_women",
    "for_parents",
    "for_youth",
    "childcare_provided",
    "target_level",
    # mismatches
    "childcare_missing",
    "fee_on_benefits",
    "level_gap",
    "first_language_supported",
    # outcome history
    *HISTORY_FEATURES,
)


def schema_of(version: int, names: tuple[str, ...]) -> str:
    """The hash that identifies a feature schema: its version and ordered names."""
    text = json.dumps({"version": version, "names": names})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: Identifies names, order and definitions; a model trained on another schema is refused,
#: unless that schema is one of ``COMPATIBLE_SCHEMAS``.
FEATURE_SCHEMA: str = schema_of(FEATURES_VERSION, FEATURE_NAMES)
#: Features each version added at the end, every earlier feature keeping its name and meaning.
ADDED_IN: dict[int, tuple[str, ...]] = {
    3: ("offer_completion_rate", "org_completion_rate", "org_completion_evidence"),
}


def _compatible_schemas() -> dict[str, tuple[str, ...]]:
    """Each earlier version's hash and names: today's names less what was added since. Only
    back to version 2: ``ADDED_IN`` records additions from version 3 on."""
    found = {}
    names = FEATURE_NAMES
    for version in range(FEATURES_VERSION, 2, -1):
        names = names[: len(names) - len(ADDED_IN[version])]
        found[schema_of(version - 1, names)] = names
    return found


#: Earlier schemas this one only added features to (hash → their names): a model trained on
#: one still serves (it reads its own columns, by name), and impressions served under one
#: still train (the added features missing, which the trees allow). So adding a feature
#: neither drops the serving model back to the rules nor throws away the logged history.
COMPATIBLE_SCHEMAS: dict[str, tuple[str, ...]] = _compatible_schemas()
COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
#: What ``rule_features`` fills: the offer's fit to the person and the outcome history — all
#: that the rule score (``matcher.scoring``) reads.
RULE_FEATURES: tuple[str, ...] = (
    *FEATURE_NAMES[: FEATURE_NAMES.index("person_level")],
    *HISTORY_FEATURES,
)
#: Features whose values are category codes, not quantities.
CATEGORICAL_FEATURES: tuple[str, ...] = ("first_language", "category")
#: Directions that are known whatever the world: more of the feature never makes an offer
#: less likely to be taken up and go well (+1), or never more (-1). A learner may be held to
#: them; everything else it must find out.
MONOTONE: dict[str, int] = {
    "distance_km": -1,
    "schedule_overlap": 1,
    "days_until_start": -1,
    "childcare_missing": -1,
    "fee_on_benefits": -1,
    "offer_outcome_rate": 1,
    "org_outcome_rate": 1,
    "area_outcome_rate": 1,
    "offer_completion_rate": 1,
    "org_completion_rate": 1,
}

#: First languages kept apart in ``first_language``; the rest are "other".
FIRST_LANGUAGES: tuple[str, ...] = (
    "ar", "fa", "uk", "tr", "ru", "ti", "so", "ku", "en", "ps", "sq", "ro", "pl", "bg", "fr", "es",
)  # fmt: skip
_FIRST_LANGUAGE_CODE = {c: i for i, c in enumerate(FIRST_LANGUAGES)}
OTHER_LANGUAGE = len(FIRST_LANGUAGES)
AGE_BANDS: tuple[tuple[int, int], ...] = (
    (0, 17), (18, 26), (27, 34), (35, 44), (45, 54), (55, 64), (65, 120),
)  # fmt: skip
BENEFITS_MEANS_TESTED = frozenset({"sgb2", "asylblg"})
#: Parent categories of courses: a parent without childcare cannot attend them.
COURSE_PARENTS = frozenset({"language", "work", "recognition"})
_IS_COURSE = np.array(
    [taxonomy.parent(c) in COURSE_PARENTS for c in taxonomy.CATEGORIES] + [False], dtype=bool
)

#: level_fit by (target rank − person's rank), offset by 7 so that −7…7 index it. One level
#: up is ideal; two or three (an integration course from scratch to B1) still fit well;
#: the person's own level teaches little; far below is useless.
_LEVEL_FIT = np.array([0.0] * 7 + [0.3, 1.0, 0.85, 0.7, 0.5, 0.4, 0.3, 0.2])
NO_TARGET_FIT = 0.5
UNKNOWN_CAPACITY = 0.5
MAX_DAYS = 365
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.float64)
_EMPTY_HISTORY = OutcomeHistory()


def _share(offer_bits: np.ndarray, person_bits: int) -> np.ndarray:
    """Share of the offer's slots in ``person_bits`` (1 when either side is unrestricted)."""
    if not person_bits:
        return np.ones(len(offer_bits))
    total = _POPCOUNT[offer_bits]
    hit = _POPCOUNT[offer_bits & person_bits]
    return np.where(total > 0, hit / np.maximum(total, 1), 1.0)


def age_band(age: int) -> int:
    """The lower bound of the person's age band (0, 18, 27, 35, 45, 55 or 65)."""
    for lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return lo
    return AGE_BANDS[-1][0]


def person_context(p: ResolvedProfile) -> dict[str, float]:
    """The person's columns, the same for every offer of a request."""
    prof = p.profile
    ages = prof.children_ages
    first = prof.languages[0] if prof.languages else None
    times = p.time_bits
    return {
        "person_level": float(p.level),
        "child_under_3": float(any(a < 3 for a in ages)),
        "child_3_to_5": float(any(3 <= a < YOUNG_CHILD_AGE for a in ages)),
        "age_band": float(age_band(prof.age)),
        "female": float(prof.gender == "female"),
        "on_benefits": float(bool(BENEFITS_MEANS_TESTED & set(prof.benefits))),
        "first_language": (
            np.nan if first is None else float(_FIRST_LANGUAGE_CODE.get(first, OTHER_LANGUAGE))
        ),
        "available_morning": float(not times or bool(times & TIME_BIT["morning"])),
        "available_afternoon": float(not times or bool(times & TIME_BIT["afternoon"])),
        "available_evening": float(not times or bool(times & TIME_BIT["evening"])),
    }


def feature_matrix(
    s: Snapshot,
    rows: np.ndarray,
    p: ResolvedProfile,
    distances: np.ndarray | None = None,
    *,
    history: OutcomeHistory | None = None,
    now: datetime | None = None,
) -> np.ndarray:
    """The features of ``rows`` for profile ``p``: shape (len(rows), len(FEATURE_NAMES)),
    columns in ``FEATURE_NAMES`` order. ``distances`` may pass km already computed;
    ``history`` is the outcome history as of ``now`` (an empty one when None)."""
    x = rule_features(s, rows, p, distances, history=history, now=now)
    add_context_features(x, s, rows, p)
    return x


def rule_features(
    s: Snapshot,
    rows: np.ndarray,
    p: ResolvedProfile,
    distances: np.ndarray | None = None,
    *,
    history: OutcomeHistory | None = None,
    now: datetime | None = None,
) -> np.ndarray:
    """The first step of ``feature_matrix``: only the columns of ``RULE_FEATURES`` (the fit
    of the offer and the outcome history) are filled, the others are NaN.

    Why a step of its own: a request may have thousands of eligible offers, and the engine
    needs the rule score of all of them to shortlist the few hundred the ranker sees; the
    person's and offer's context is only needed for those (``add_context_features``)."""
    n = len(rows)
    x = np.full((n, len(FEATURE_NAMES)), np.nan, dtype=np.float64)
    col = COLUMN
    d = distances_km(s, rows, p) if distances is None else distances
    online = s.online[rows] & p.profile.online_ok & ~(d <= p.profile.max_distance_km)
    x[:, col["distance_km"]] = np.where(online, 0.0, d)
    x[:, col["online"]] = online
    target = s.level_target[rows].astype(np.int64)
    x[:, col["level_fit"]] = np.where(
        target >= 0, _LEVEL_FIT[np.clip(target - p.level + 7, 0, 14)], NO_TARGET_FIT
    )
    x[:, col["schedule_overlap"]] = _share(s.days[rows], p.day_bits) * _share(
        s.times[rows], p.time_bits
    )
    x[:, col["childcare_fit"]] = s.childcare[rows] & p.has_young_child
    langs = s.language_index(p.support_languages)
    x[:, col["language_shared"]] = (
        s.languages[np.ix_(rows, langs)].any(axis=1) if len(langs) else 0.0
    )
    start = s.start[rows].astype(np.int64)
    x[:, col["days_until_start"]] = np.where(
        start > 0, np.clip(start - p.today.toordinal(), 0, MAX_DAYS), 0
    )
    total, free = s.cap_total[rows], s.cap_free[rows]
    known = (total > 0) & (free >= 0)
    x[:, col["capacity_ratio"]] = np.where(
        known, np.clip(free / np.maximum(total, 1), 0.0, 1.0), UNKNOWN_CAPACITY
    )
    need = p.need_of_category[s.cat[rows]]
    x[:, col["need_priority"]] = np.where(need >= 0, p.need_priority[np.maximum(need, 0)], 0.0)
    x[:, col["profession_similarity"]] = profession_similarity(s, rows, p)

    hist = history if history is not None else _EMPTY_HISTORY
    when = now or datetime.now(UTC)
    start_col = col[HISTORY_FEATURES[0]]
    x[:, start_col : start_col + len(HISTORY_FEATURES)] = hist.features_of(
        hist.rows_index(s, rows), when
    )
    return x


def add_context_features(x: np.ndarray, s: Snapshot, rows: np.ndarray, p: ResolvedProfile) -> None:
    """The second step of ``feature_matrix``: fill the person's and the offer's context and
    the mismatches into ``x`` (rows of ``rule_features`` for the same ``rows``), in place."""
    col = COLUMN
    person = person_context(p)
    for name, value in person.items():
        x[:, col[name]] = value

    cat = s.cat[rows]
    target = s.level_target[rows].astype(np.int64)
    has_target = target >= 0
    childcare = s.childcare[rows]
    x[:, col["category"]] = np.where(cat >= 0, cat, np.nan)
    x[:, col["hours_per_week"]] = s.hours[rows]
    cost = s.cost[rows]
    x[:, col["cost_eur"]] = cost
    groups = s.groups[rows]
    x[:, col["for_women"]] = (groups & GROUP_BIT["women"]) > 0
    x[:, col["for_parents"]] = (groups & GROUP_BIT["parents"]) > 0
    x[:, col["for_youth"]] = (groups & GROUP_BIT["youth"]) > 0
    x[:, col["childcare_provided"]] = childcare
    x[:, col["target_level"]] = np.where(has_target, target, np.nan)

    x[:, col["childcare_missing"]] = p.has_young_child & _IS_COURSE[cat] & ~childcare
    x[:, col["fee_on_benefits"]] = (cost > 0) & bool(person["on_benefits"])
    x[:, col["level_gap"]] = np.where(has_target, target - p.level, np.nan)
    first = p.profile.languages[0] if p.profile.languages else None
    first_idx = s.language_index((first,)) if first and first != "de" else np.arange(0)
    x[:, col["first_language_supported"]] = (
        s.languages[rows, first_idx[0]] if len(first_idx) else 0.0
    )


def profession_similarity(s: Snapshot, rows: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    """1 where the offer's words name the person's profession or its field, else 0."""
    queries = p.profession_queries
    if not queries or not len(rows):
        return np.zeros(len(rows))
    return s.naming_rows(tuple(w for q in queries for w in q.split()))[rows].astype(np.float64)


def feature_dict(row: np.ndarray) -> dict[str, float | None]:
    """One feature row as ``{name: value}`` (NaN as None, for JSON)."""
    # Python floats first: math.isfinite on them is several times cheaper than numpy's
    # scalar functions, and this runs for every logged impression.
    return {
        name: (v if math.isfinite(v) else None)
        for name, v in zip(FEATURE_NAMES, np.asarray(row, dtype=np.float64).tolist(), strict=True)
    }
