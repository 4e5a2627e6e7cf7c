"""Recommending offers for a profile, and explaining any offer's fit.

``recommend`` runs one request end to end:

1. resolve the profile (place → coordinates, need texts → codes, profession → recognition);
2. take the current catalogue snapshot (patched to the latest catalogue version);
3. screen every offer with the hard rules (``matcher.rules``), counting exclusions per rule;
   offers that fail only capacity become waitlist alternatives;
4. compute features for the eligible offers, keep the best ``CANDIDATES_PER_NEED`` per need
   by the cheap rule score (so a learned model never scores thousands of rows), and let the
   ranker order them;
5. pick results so that every need is covered: round-robin over the needs in their priority
   order (the best offer of each need, then the second best of each, …) until ``k`` — a
   person needing a German course and childcare sees both, not ten German courses;
6. attach the reasons each shown offer fits.

Texts are English unless ``lang="de"``: the contract's examples are English, and the service
picks German from the request's ``Accept-Language``.

``explain`` applies every rule to one offer with the same masks, so the explanation cannot
disagree with the recommendation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from catalog import taxonomy
from catalog.store import current_seq
from lotse.errors import NotFound
from matcher.features import FEATURE_SCHEMA, feature_matrix
from matcher.needs import Need
from matcher.places import ResolvedPlace
from matcher.profile import ProfileIn, ResolvedProfile, resolve_profile, validate_profile
from matcher.reasons import Reason, reasons_for
from matcher.rules import RuleOutcome, check_offer, distances_km, screen
from matcher.scoring import Ranker, RuleScoreRanker, columns_for, prescore
from matcher.snapshot import Snapshot, SnapshotCache, load_offer, load_offers

DEFAULT_K = 10
MAX_K = 50
#: How many candidates per need the ranker scores at most; the rest are cut by pre-score.
#: The benchmark shows that top-10 lists do not change at this cap.
CANDIDATES_PER_NEED = 100
#: Waitlist alternatives shown at most (offers that fit but are full).
WAITLIST_SIZE = 5

DEFAULT_RANKER = RuleScoreRanker()


@dataclass(frozen=True)
class Suggestion:
    """One offer in a result list. ``features`` are the exact values the ranker saw."""

    rank: int
    offer_id: str
    title: str
    category: str
    need: str
    score: float
    distance_km: float | None
    reasons: list[Reason]
    features: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class Recommendation:
    """What one request served: its id, the model, what the profile was understood as, the
    results and waitlist alternatives, and how many offers each rule excluded."""

    request_id: str
    model_version: str
    feature_schema: str
    catalog_seq: int
    place: ResolvedPlace
    needs: tuple[Need, ...]
    results: list[Suggestion]
    waitlist: list[Suggestion]
    excluded: dict[str, int]
    eligible_count: int
    k: int
    profile: ResolvedProfile = field(repr=False, compare=False)

    @property
    def resolved(self) -> dict[str, Any]:
        """The contract's ``resolved`` object."""
        return {
            "location": {
                "place": self.place.place,
                "latitude": self.place.latitude,
                "longitude": self.place.longitude,
            },
            "needs": [
                {"text": n.text, "category": n.category, "derived": n.derived} for n in self.needs
            ],
        }


@dataclass(frozen=True)
class Explanation:
    """Every rule for one offer: ``eligible`` when all pass; ``waitlist`` when only capacity
    fails (the offer is shown as a waitlist alternative)."""

    offer_id: str
    eligible: bool
    waitlist: bool
    rules: list[RuleOutcome]


# -- entry points ---------------------------------------------------------------------------


def current_snapshot(session: Session, snapshots: SnapshotCache | None) -> Snapshot:
    """The catalogue snapshot: from the process cache, or built afresh without one."""
    if snapshots is not None:
        return snapshots.current(session)
    return Snapshot.from_records(load_offers(session), current_seq(session))


def recommend(
    session: Session,
    profile: ProfileIn | dict[str, Any],
    *,
    k: int = DEFAULT_K,
    ranker: Ranker | None = None,
    snapshots: SnapshotCache | None = None,
    today: date | None = None,
    lang: str = "en",
    field_prefix: str = "",
) -> Recommendation:
    """The best ``k`` eligible offers for ``profile`` covering every need, plus waitlist
    alternatives and exclusion counts. ``InvalidInput`` (fields under ``field_prefix``) for
    an invalid profile, an unknown place or an unknown need."""
    clean = validate_profile(profile, field_prefix)
    resolved = resolve_profile(clean, today=today, field_prefix=field_prefix)
    snapshot = current_snapshot(session, snapshots)
    return rank_offers(snapshot, resolved, k=k, ranker=ranker, lang=lang)


def explain(
    session: Session,
    profile: ProfileIn | dict[str, Any],
    offer_id: str,
    *,
    snapshots: SnapshotCache | None = None,
    today: date | None = None,
    lang: str = "en",
    field_prefix: str = "",
) -> Explanation:
    """Which rules offer ``offer_id`` passes and fails for ``profile`` (archived offers too);
    ``NotFound`` for an unknown offer."""
    clean = validate_profile(profile, field_prefix)
    resolved = resolve_profile(clean, today=today, field_prefix=field_prefix)
    snapshot = current_snapshot(session, snapshots)
    row = snapshot.row_of.get(offer_id)
    if row is None:
        record = load_offer(session, offer_id)
        if record is None:
            raise NotFound(f"no offer with id '{offer_id}'")
        snapshot, row = Snapshot.from_records([record], snapshot.seq), 0
    return explain_row(snapshot, row, resolved, lang)


def explain_row(s: Snapshot, row: int, p: ResolvedProfile, lang: str = "en") -> Explanation:
    """The explanation for one snapshot row."""
    outcomes = check_offer(s, row, p, lang)
    failed = [o.code for o in outcomes if not o.passed]
    return Explanation(
        offer_id=str(s.ids[row]),
        eligible=not failed,
        waitlist=failed == ["capacity"],
        rules=outcomes,
    )


# -- ranking --------------------------------------------------------------------------------


def rank_offers(
    s: Snapshot,
    p: ResolvedProfile,
    *,
    k: int = DEFAULT_K,
    ranker: Ranker | None = None,
    lang: str = "en",
    cap: int | None = CANDIDATES_PER_NEED,
) -> Recommendation:
    """Screen, rank and pick for a resolved profile over a snapshot (no database: the core
    that the benchmark and the behavioural tests drive directly). ``cap=None`` lets the
    ranker score every eligible offer."""
    ranker = ranker or DEFAULT_RANKER
    k = max(1, min(int(k), MAX_K))
    screening = screen(s, p)
    results = _ranked(s, p, screening.eligible, ranker, k, lang, cap)
    waitlist = _ranked(s, p, screening.waitlist, ranker, min(k, WAITLIST_SIZE), lang, cap)
    return Recommendation(
        request_id=str(uuid.uuid4()),
        model_version=ranker.version,
        feature_schema=FEATURE_SCHEMA,
        catalog_seq=s.seq,
        place=p.place,
        needs=p.needs,
        results=results,
        waitlist=waitlist,
        excluded=screening.excluded,
        eligible_count=len(screening.eligible),
        k=k,
        profile=p,
    )


def shortlist(need: np.ndarray, scores: np.ndarray, n_needs: int, cap: int | None) -> np.ndarray:
    """Positions of the best ``cap`` candidates of each need by ``scores`` (all if None)."""
    if cap is None:
        return np.arange(len(scores))
    keep = []
    for j in range(n_needs):
        members = np.flatnonzero(need == j)
        if len(members) > cap:
            members = members[np.argpartition(-scores[members], cap - 1)[:cap]]
        keep.append(members)
    return np.sort(np.concatenate(keep)) if keep else np.arange(0)


def cover_needs(need: np.ndarray, order: np.ndarray, n_needs: int, k: int) -> list[int]:
    """Pick ``k`` positions round-robin over the needs in priority order: each need's best,
    then each need's second best, … (``order``: positions best first)."""
    queues = [order[need[order] == j] for j in range(n_needs)]
    picked: list[int] = []
    depth = 0
    while len(picked) < k and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and len(picked) < k:
                picked.append(int(q[depth]))
        depth += 1
    return picked


def _ranked(
    s: Snapshot,
    p: ResolvedProfile,
    rows: np.ndarray,
    ranker: Ranker,
    k: int,
    lang: str,
    cap: int | None,
) -> list[Suggestion]:
    if not len(rows):
        return []
    d = distances_km(s, rows, p)
    x = feature_matrix(s, rows, p, distances=d)
    need = p.need_of_category[s.cat[rows]]
    # Never cut below what the list shows: each need may fill all k places.
    keep = shortlist(need, prescore(x), len(p.needs), None if cap is None else max(cap, k))
    rows, x, need, d = rows[keep], x[keep], need[keep], d[keep]
    scores = np.asarray(ranker.score(x[:, columns_for(ranker)]), dtype=np.float64)
    order = np.lexsort((s.ids[rows], -scores))  # best first; ties by offer id, stable
    picked = cover_needs(need, order, len(p.needs), k)
    out = []
    for rank, i in enumerate(picked, start=1):
        row = int(rows[i])
        category = taxonomy.CATEGORIES[int(s.cat[row])]
        out.append(
            Suggestion(
                rank=rank,
                offer_id=str(s.ids[row]),
                title=str(s.titles[row]),
                category=category,
                need=p.needs[int(need[i])].category,
                score=round(float(scores[i]), 4),
                distance_km=round(float(d[i]), 1) if np.isfinite(d[i]) else None,
                reasons=reasons_for(s, row, p, x[i], lang),
                features=x[i],
            )
        )
    return out
