"""What came of earlier referrals, per offer and per organisation, as of a moment in time.

The ranker learns which offers work for whom from outcomes; part of that is simply how well
an offer, and the organisation behind it, have done so far. ``OutcomeHistory`` keeps that
record and turns it into features:

- **One value per referral**: its outcome so far on the label scale, ``grade / 3`` (declined
  or rejected 0, dropped 1/3, enrolled 2/3, completed 1). ``proposed`` and ``accepted`` say
  nothing yet and are not counted. When a referral moves on (enrolled → completed), its value
  is replaced, not counted twice.
- **Completion among those who started**: a second rate counts only referrals that reached
  ``enrolled`` and ended — completed 1, dropped 0 — the drop-out figure course providers are
  known by (the BAMF reports it per integration course provider). The first rate mixes it
  with steps that say little of a provider (a person who declines, a place that cannot be
  reached), so a provider's few finished courses are diluted there; here they are not.
- **Recency**: each value weighs ``0.5 ** (age / half_life)``, so a change of quality shows
  after a few half-lives instead of being averaged away (``LOTSE_HISTORY_HALF_LIFE_DAYS``).
- **Never empty**: rates are smoothed towards their parent level, offer → organisation →
  category × municipality ("area") → everything, each by a few pseudo-referrals, so a new
  offer starts at its organisation's rate and a new organisation at its area's.
- **Point in time**: values are applied in the order of their times, and ``features(…, now)``
  sees only what was applied. Serving applies every event up to the request (the service
  reads new events on each request, so the history is never minutes stale); the simulations
  apply events as simulated time passes. The same class does both, so training rows (which
  store the served values) and serving cannot disagree.

Nothing personal is kept: per referral only the offer, its value, time and weight.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

#: The graded outcome of a referral status: the ranker's label (``models.training`` uses it).
#: Gains ``2**grade - 1``; see docs/ranker.md for why each status sits where it does.
OUTCOME_GRADES: dict[str, int] = {
    "proposed": 0,
    "declined": 0,
    "rejected_by_provider": 0,
    "accepted": 1,
    "dropped": 1,
    "enrolled": 2,
    "completed": 3,
}
MAX_GRADE = 3
#: Statuses that say how a referral went; ``proposed`` and ``accepted`` do not yet.
INFORMATIVE: frozenset[str] = frozenset(
    {"declined", "rejected_by_provider", "dropped", "enrolled", "completed"}
)
#: Pseudo-referrals that pull each level's rate towards its parent's.
PRIOR_STRENGTH = {"offer": 3.0, "organization": 5.0, "area": 10.0, "all": 2.0}
#: Completion rates of offers and organisations are pulled towards their parent's by as many
#: pseudo-referrals as the data say providers differ (empirical Bayes: ``moment_strength``),
#: within these bounds: where every provider finishes alike, a few finished courses say
#: nothing of one; where they differ widely, they say much.
COMPLETION_STRENGTH_BOUNDS = (1.0, 50.0)
#: The strengths are found again once this many outcomes arrived since (or 1 % more than
#: then, whichever is more): they move slowly, and finding them reads every offer's sums,
#: which a request after each new outcome should not pay (``bench/completion_strength_bench.py``).
STRENGTH_REFRESH_EVENTS = 20
#: The rate of a history with nothing in it.
BASE_RATE = 0.5
#: Names of the columns ``features`` returns, in order.
HISTORY_FEATURES: tuple[str, ...] = (
    "offer_outcome_rate",
    "org_outcome_rate",
    "area_outcome_rate",
    "offer_outcome_evidence",
    "org_outcome_evidence",
    "offer_completion_rate",
    "org_completion_rate",
    "org_completion_evidence",
)
#: The two rates each level keeps: every informative outcome on the label scale, and
#: completion among the referrals that started (reached ``enrolled``) and ended.
OUTCOME, COMPLETION = 0, 1
_ENROLLED = OUTCOME_GRADES["enrolled"] / MAX_GRADE
_DAY = 86_400.0


def area_key(category_parent: str, municipality: str) -> str:
    """The area an offer belongs to for the prior: its need (parent category) in its town."""
    return f"{category_parent}|{municipality.strip().lower()}"


def org_key(organization: str) -> str:
    return " ".join(organization.lower().split())


@dataclass(frozen=True)
class OutcomeEvent:
    """One status change of one referral (what the history needs of it)."""

    event_id: int
    referral_id: str
    offer_id: str
    organization: str
    area: str
    status: str
    at: datetime


def _seconds(at: datetime) -> float:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


class _Sums:
    """Decayed value and weight sums per key of one level, as of ``OutcomeHistory.clock``:
    one column per rate (``OUTCOME``, ``COMPLETION``), so both share the key's position."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.value = np.zeros((64, 2))
        self.weight = np.zeros((64, 2))
        #: the sum of squared weights: how many referrals the decayed weight stands for
        self.weight2 = np.zeros((64, 2))

    def idx(self, key: str) -> int:
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.index)
            if i >= len(self.value):
                self.value = np.concatenate([self.value, np.zeros_like(self.value)])
                self.weight = np.concatenate([self.weight, np.zeros_like(self.weight)])
                self.weight2 = np.concatenate([self.weight2, np.zeros_like(self.weight2)])
        return i

    def lookup(self, keys: Sequence[str]) -> np.ndarray:
        """Indexes of ``keys`` (registered when new, with nothing in them). Known keys are
        found by one ``map`` over the dict (a snapshot's first requests look up thousands)."""
        found = list(map(self.index.get, keys))
        if None in found:
            found = [self.idx(k) if i is None else i for k, i in zip(keys, found, strict=True)]
        return np.array(found, dtype=np.int64)

    def scale(self, factor: float) -> None:
        n = len(self.index)
        self.value[:n] *= factor
        self.weight[:n] *= factor
        self.weight2[:n] *= factor * factor


class OutcomeHistory:
    """Decayed, smoothed outcome rates per offer, organisation and area (thread-safe)."""

    def __init__(self, half_life_days: float = 180.0) -> None:
        if half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        self.decay_per_second = math.log(2.0) / (half_life_days * _DAY)
        #: Time (epoch seconds) the sums are expressed at; the latest event applied.
        self.clock: float | None = None
        self.last_event_id = 0
        self._seen_recent: set[int] = set()
        self._levels = {name: _Sums() for name in ("offer", "organization", "area")}
        self._all_value = np.zeros(2)
        self._all_weight = np.zeros(2)
        #: (referral id, rate) → (offer, organization, area, value, time) of its counted value
        self._counted: dict[tuple[str, int], tuple[str, str, str, float, float]] = {}
        #: completion prior strengths (offer, organisation) and the ``_changes`` they are of
        self._strengths: tuple[int, float, float] = (-1, 0.0, 0.0)
        self._changes = 0
        self._lock = threading.Lock()

    # --- applying events ---------------------------------------------------------------

    def _advance(self, t: float) -> None:
        if self.clock is None:
            self.clock = t
        elif t > self.clock:
            factor = math.exp(-self.decay_per_second * (t - self.clock))
            for sums in self._levels.values():
                sums.scale(factor)
            self._all_value *= factor
            self._all_weight *= factor
            self.clock = t

    def _add(self, keys: tuple[str, str, str], rate: int, value: float, weight: float) -> None:
        for sums, key in zip(self._levels.values(), keys, strict=True):
            i = sums.idx(key)
            sums.value[i, rate] = max(0.0, sums.value[i, rate] + value * weight)
            sums.weight[i, rate] = max(0.0, sums.weight[i, rate] + weight)
            sums.weight2[i, rate] = max(
                0.0, sums.weight2[i, rate] + math.copysign(weight**2, weight)
            )
        self._all_value[rate] = max(0.0, self._all_value[rate] + value * weight)
        self._all_weight[rate] = max(0.0, self._all_weight[rate] + weight)

    def _count(
        self, referral_id: str, rate: int, keys: tuple[str, str, str], value: float, t: float
    ) -> None:
        """Count ``value`` for a referral in one rate, replacing what it counted there before
        (a referral that moves on is counted once, with its latest value)."""
        assert self.clock is not None
        old = self._counted.get((referral_id, rate))
        if old is not None:
            offer, org, area, before, then = old
            weight = math.exp(-self.decay_per_second * max(0.0, self.clock - then))
            self._add((offer, org, area), rate, before, -weight)
        weight = math.exp(-self.decay_per_second * max(0.0, self.clock - t))
        self._add(keys, rate, value, weight)
        self._counted[(referral_id, rate)] = (*keys, value, t)

    def apply(self, events: Iterable[OutcomeEvent]) -> int:
        """Count the events (in the order given; sort by time first). An event already
        applied (same ``event_id``) is skipped. Returns how many changed the history."""
        changed = 0
        with self._lock:
            for e in events:
                if e.event_id in self._seen_recent:
                    continue
                if e.event_id:
                    self._seen_recent.add(e.event_id)
                    self.last_event_id = max(self.last_event_id, e.event_id)
                if e.status not in INFORMATIVE:
                    continue
                t = _seconds(e.at)
                self._advance(t)
                keys = (e.offer_id, org_key(e.organization), e.area)
                # only a drop after enrolling counts against completion: what the referral
                # counted until now says whether it had started
                before = self._counted.get((e.referral_id, OUTCOME))
                started = before is not None and before[3] == _ENROLLED
                self._count(e.referral_id, OUTCOME, keys, OUTCOME_GRADES[e.status] / MAX_GRADE, t)
                if e.status == "completed" or (e.status == "dropped" and started):
                    self._count(e.referral_id, COMPLETION, keys, float(e.status == "completed"), t)
                changed += 1
            self._changes += changed
            self._forget_old_ids()
        return changed

    def _forget_old_ids(self) -> None:
        # Ids are kept for a window below the newest one: a reader that looks back that far
        # (events of transactions that committed late) skips what it has already applied.
        if len(self._seen_recent) > 4 * LOOKBACK_EVENTS:
            floor = self.last_event_id - LOOKBACK_EVENTS
            self._seen_recent = {i for i in self._seen_recent if i > floor}

    # --- reading features --------------------------------------------------------------

    def features(
        self,
        offer_ids: Sequence[str],
        organizations: Sequence[str],
        areas: Sequence[str],
        now: datetime,
    ) -> np.ndarray:
        """Rows of ``HISTORY_FEATURES`` for the given offers (their organisation and area
        keys from ``org_key``/``area_key``), as of ``now``: shape (n, 8).

        Rates are 0–1 and never missing; evidence is ``log(1 + decayed referrals)`` (for
        completion: of referrals that started and ended)."""
        return self.features_of(self.index(offer_ids, organizations, areas), now)

    def index(
        self, offer_ids: Sequence[str], organizations: Sequence[str], areas: Sequence[str]
    ) -> np.ndarray:
        """Positions of the keys in the history's arrays, shape (n, 3): offer, organisation,
        area (new keys are registered, with nothing in them). Positions never change, so a
        caller may keep them (``rows_index``)."""
        lv = self._levels
        with self._lock:
            return np.column_stack(
                [
                    lv["offer"].lookup(offer_ids),
                    lv["organization"].lookup(organizations),
                    lv["area"].lookup(areas),
                ]
            )

    def rows_index(self, snapshot: Any, rows: np.ndarray) -> np.ndarray:
        """``index`` of snapshot rows, kept with the snapshot: a request looks up only the
        rows no earlier request of the same snapshot has (a catalogue change makes a new
        snapshot, which starts empty)."""
        cache = snapshot.__dict__.setdefault("_history_rows", {})
        known = cache.get(id(self))
        if known is None:
            known = cache[id(self)] = np.full((len(snapshot.ids), 3), -1, dtype=np.int64)
        found = known[rows]
        missing = found[:, 0] < 0
        if missing.any():
            new = rows[missing]
            known[new] = self.index(
                snapshot.ids[new].tolist(),
                snapshot.orgs[new].tolist(),
                snapshot.areas[new].tolist(),
            )
            found = known[rows]
        return found

    @staticmethod
    def carry_rows_index(old: Any, new: Any, changed: np.ndarray) -> None:
        """Hand the positions ``rows_index`` found for ``old``'s rows on to ``new``, its
        patched successor: a patch keeps every row in its place and appends new offers, so
        only the changed rows (their organisation or area may have changed) and the new ones
        are looked up again. Without this, every catalogue edit made the next requests look
        up thousands of keys afresh."""
        cache = old.__dict__.get("_history_rows")
        if not cache:
            return
        carried = {}
        for key, known in cache.items():
            kept = np.full((len(new.ids), 3), -1, dtype=np.int64)
            kept[: len(known)] = known
            kept[changed] = -1
            carried[key] = kept
        new.__dict__["_history_rows"] = carried

    def features_of(self, idx: np.ndarray, now: datetime) -> np.ndarray:
        """``features`` for positions from ``index``."""
        out = np.empty((len(idx), len(HISTORY_FEATURES)))
        f, o, a = idx[:, 0], idx[:, 1], idx[:, 2]
        lv = self._levels
        with self._lock:
            scale = 1.0
            if self.clock is not None:
                scale = math.exp(-self.decay_per_second * max(0.0, _seconds(now) - self.clock))
            m = {k: np.array([v, v]) for k, v in PRIOR_STRENGTH.items()}
            m["offer"][COMPLETION], m["organization"][COMPLETION] = self._completion_strengths()
            # both rates at once: columns OUTCOME and COMPLETION
            p_all = (self._all_value * scale + m["all"] * BASE_RATE) / (
                self._all_weight * scale + m["all"]
            )
            area_w = lv["area"].weight[a] * scale
            p_area = (lv["area"].value[a] * scale + m["area"] * p_all) / (area_w + m["area"])
            org_w = lv["organization"].weight[o] * scale
            p_org = (lv["organization"].value[o] * scale + m["organization"] * p_area) / (
                org_w + m["organization"]
            )
            offer_w = lv["offer"].weight[f] * scale
            p_offer = (lv["offer"].value[f] * scale + m["offer"] * p_org) / (offer_w + m["offer"])
        out[:, 0] = p_offer[:, OUTCOME]
        out[:, 1] = p_org[:, OUTCOME]
        out[:, 2] = p_area[:, OUTCOME]
        out[:, 3] = np.log1p(offer_w[:, OUTCOME])
        out[:, 4] = np.log1p(org_w[:, OUTCOME])
        out[:, 5] = p_offer[:, COMPLETION]
        out[:, 6] = p_org[:, COMPLETION]
        out[:, 7] = np.log1p(org_w[:, COMPLETION])
        return out

    def _completion_strengths(self) -> tuple[float, float]:
        """``moment_strength`` of offers' and organisations' completion rates (held by the
        caller's lock), found again only after enough new outcomes
        (``STRENGTH_REFRESH_EVENTS``)."""
        changes, offer, org = self._strengths
        due = max(STRENGTH_REFRESH_EVENTS, changes // 100)
        if changes < 0 or self._changes - changes >= due:
            w = self._all_weight[COMPLETION]
            p = (self._all_value[COMPLETION] + 2.0 * BASE_RATE) / (w + 2.0)
            n = {name: len(sums.index) for name, sums in self._levels.items()}
            offer, org = (
                moment_strength(
                    self._levels[name].value[: n[name], COMPLETION],
                    self._levels[name].weight[: n[name], COMPLETION],
                    self._levels[name].weight2[: n[name], COMPLETION],
                    p,
                )
                for name in ("offer", "organization")
            )
            self._strengths = (self._changes, offer, org)
        return offer, org

    def evidence(self, offer_id: str, now: datetime) -> float:
        """Decayed number of referrals with an outcome for one offer (for reasons)."""
        with self._lock:
            i = self._levels["offer"].index.get(offer_id)
            if i is None or self.clock is None:
                return 0.0
            scale = math.exp(-self.decay_per_second * max(0.0, _seconds(now) - self.clock))
            return float(self._levels["offer"].weight[i, OUTCOME] * scale)


def moment_strength(value: np.ndarray, weight: np.ndarray, weight2: np.ndarray, p: float) -> float:
    """How many pseudo-referrals at the overall rate ``p`` a key's 0/1 rate should be pulled
    towards: ``p(1 - p) / τ² - 1``, where τ² is the spread of the keys' true rates, found by
    the method of moments. A key's observed rate ``r`` over ``n`` referrals spreads around
    ``p`` by ``E(r - p)² = τ² + (p(1 - p) - τ²) / n`` (chance, with the keys' own rates), so
    the weighted sum ``S = Σ w (r - p)²`` gives ``τ² = (S - p(1 - p) Σ w/n) / Σ w (1 - 1/n)``;
    ``n`` is the effective number of referrals, ``weight² / weight2`` (decayed weights count
    for fewer). No spread beyond chance: the upper bound of ``COMPLETION_STRENGTH_BOUNDS``."""
    low, high = COMPLETION_STRENGTH_BOUNDS
    used = weight > 1e-9
    if used.sum() < 2 or not 0.0 < p < 1.0:
        return high
    w, v, w2 = weight[used], value[used], weight2[used]
    noise = p * (1.0 - p)
    spread = float((w * (v / w - p) ** 2).sum())
    repeated = float((w - w2 / w).sum())  # Σ w (1 - 1/n): keys seen once say nothing of τ²
    if repeated <= 1e-9:
        return high
    between = (spread - noise * float((w2 / w).sum())) / repeated
    if between <= 0.0:
        return high
    return float(np.clip(noise / between - 1.0, low, high))


#: How far below the newest event id a reader looks again, for events whose transactions
#: committed after later ones had been read (ids are handed out before commit).
LOOKBACK_EVENTS = 500


@dataclass(frozen=True)
class EventFeed:
    """Where the serving history reads referral events from (casework owns referrals, so the
    service hands this in): the newest event id, and the events after an id in id order."""

    latest_id: Callable[[Session], int]
    events_after: Callable[[Session, int], list[OutcomeEvent]]
