"""Recommending offers for a profile, and explaining any offer's fit.

``recommend`` runs one request end to end:

1. resolve the profile (place → coordinates, need texts → codes, profession → recognition);
2. take the current catalogue snapshot (patched to the latest catalogue version);
3. screen every offer with the hard rules (``matcher.rules``), counting exclusions per rule;
   offers that fail only capacity become waitlist alternatives;
4. compute the rule score's features for the eligible offers (with the outcome history as
   of the request), keep the best ``CANDIDATES_PER_NEED`` per need by that cheap score (so a
   learned model never scores thousands of rows), complete the features of those and let
   the ranker score them;
5. order by score, with one guarantee: every stated need that has an offer gets a place
   within the first ``max(3, number of needs)`` results (``cover_needs``) — a person needing
   a German course and childcare sees both near the top, not ten German courses; beyond that
   the scores alone decide, so a need with better offers gets more of the list;
6. optionally explore (``Exploration``, off by default): for a share of requests, swap one
   pair of neighbouring results near the top, never moving a clearly worse offer into the
   first three and never breaking the guarantee above; every shown offer carries the exact
   probability of being shown where it was (``propensity``), for counterfactual evaluation;
   or, while an interleaved online comparison runs (``rival``), merge the active ranker's
   list and the challenger's by team draft (``matcher.interleaving``), the guarantee above
   kept, and record each shown offer's team;
7. attach the reasons each shown offer fits.

Texts are English unless ``lang="de"``: the contract's examples are English, and the service
picks German from the request's ``Accept-Language``.

``explain`` applies every rule to one offer with the same masks, so the explanation cannot
disagree with the recommendation.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from catalog import taxonomy
from catalog.store import current_seq
from lotse.errors import NotFound
from matcher.features import FEATURE_SCHEMA, add_context_features, rule_features
from matcher.history import OutcomeHistory
from matcher.interleaving import shared_prefix, team_draft
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
    #: Probability that the serving policy showed this offer at this rank (1 without
    #: exploration): exact, as the randomisation was drawn; ``None`` in an interleaved list
    #: (its places come from coin flips whose every outcome is not enumerated).
    propensity: float | None = 1.0


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
    #: How the order was chosen: ``None`` without exploration or interleaving; else the share
    #: explored, the pairs that could have been swapped, the one swapped (or None) and the
    #: probability of the order shown; or, interleaved, the two versions, each result's team
    #: and how many first places both lists share (``{"interleaved": {"control": …,
    #: "challenger": …, "teams": [...], "shared": n}}``).
    policy: dict[str, Any] | None = None

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
    exploration: Exploration | None = None,
    rival: Ranker | None = None,
) -> Recommendation:
    """The best ``k`` eligible offers for ``profile`` covering every need, plus waitlist
    alternatives and exclusion counts (``rival``: interleave with this challenger, see
    ``rank_offers``). ``InvalidInput`` (fields under ``field_prefix``) for an invalid
    profile, an unknown place or an unknown need."""
    clean = validate_profile(profile, field_prefix)
    resolved = resolve_profile(clean, today=today, field_prefix=field_prefix)
    snapshot = current_snapshot(session, snapshots)
    return rank_offers(
        snapshot,
        resolved,
        k=k,
        ranker=ranker,
        lang=lang,
        history=snapshots.history if snapshots is not None else None,
        exploration=exploration,
        rival=rival,
    )


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
    history: OutcomeHistory | None = None,
    now: datetime | None = None,
    exploration: Exploration | None = None,
    rng: random.Random | None = None,
    rival: Ranker | None = None,
) -> Recommendation:
    """Screen, rank and pick for a resolved profile over a snapshot (no database: the core
    that the benchmark, the simulations and the behavioural tests drive directly).
    ``cap=None`` lets the ranker score every eligible offer; ``history`` is the outcome
    history as of ``now`` (the request's time, default: now). With ``rival`` (the challenger
    of an interleaved comparison) the results interleave ``ranker``'s list and the rival's
    (no exploration then); the waitlist is ``ranker``'s alone."""
    ranker = ranker or DEFAULT_RANKER
    k = max(1, min(int(k), MAX_K))
    now = now or datetime.now(UTC)
    screening = screen(s, p)
    ctx = _Context(s, p, ranker, lang, cap, history, now, rival)
    lists = _scored(ctx, (screening.eligible, screening.waitlist), (k, min(k, WAITLIST_SIZE)))
    if rival is not None:
        results, policy = _interleaved(ctx, lists[0], k, rng or random.Random())
    else:
        results, policy = _ranked(ctx, lists[0], k, exploration, rng)
    waitlist, _ = _ranked(ctx, lists[1], min(k, WAITLIST_SIZE), None, None)
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
        policy=policy,
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


def coverage_window(n_needs: int) -> int:
    """Within how many first places every need must appear: ``max(3, n_needs)``."""
    return max(3, n_needs)


def cover_needs(need: np.ndarray, order: np.ndarray, n_needs: int, k: int) -> list[int]:
    """Pick ``k`` positions in score order (``order``: positions best first), except that
    every need with a candidate gets a place within the first ``coverage_window`` picks: when
    the places left in that window are just enough for the needs not yet shown, the next
    place goes to the best candidate of one of them (the best of those bests)."""
    window = coverage_window(n_needs)
    firsts = {}
    for pos in order.tolist():
        j = int(need[pos])
        if j not in firsts:
            firsts[j] = pos
    picked: list[int] = []
    taken: set[int] = set()
    uncovered = set(firsts)
    remaining = order.tolist()
    while len(picked) < k and remaining:
        left_in_window = window - len(picked)
        if uncovered and left_in_window <= len(uncovered):
            pos = min((firsts[j] for j in uncovered), key=remaining.index)
        else:
            pos = next(x for x in remaining if x not in taken)
        picked.append(pos)
        taken.add(pos)
        remaining.remove(pos)
        uncovered.discard(int(need[pos]))
    return picked


@dataclass(frozen=True)
class Exploration:
    """Controlled exploration: ``share`` of requests see one pair of neighbouring results
    swapped among the first ``depth`` places. A swap that would bring an offer scoring below
    ``1 - tolerance`` of the one it passes into the first three, or push a need out of the
    coverage window, is never drawn. Off (share 0) unless configured."""

    share: float
    depth: int = 6
    tolerance: float = 0.1

    def allowed_pairs(self, scores: list[float], needs: list[int], n_needs: int) -> list[int]:
        """Upper positions (0-based) ``j`` whose swap with ``j + 1`` is allowed."""
        window = coverage_window(n_needs)
        before = _first_places(needs)
        pairs = []
        for j in range(min(self.depth, len(scores)) - 1):
            if j < 3 and scores[j + 1] < (1.0 - self.tolerance) * scores[j]:
                continue
            after = _first_places([*needs[:j], needs[j + 1], needs[j], *needs[j + 2 :]])
            if any(after[n] >= window > before[n] for n in before):
                continue
            pairs.append(j)
        return pairs

    def draw(
        self, scores: list[float], needs: list[int], n_needs: int, rng: random.Random
    ) -> tuple[int | None, list[float], dict[str, Any]]:
        """The pair to swap (or None), each position's probability of holding what it will
        hold, and the policy record."""
        pairs = self.allowed_pairs(scores, needs, n_needs)
        n = len(scores)
        share = min(max(self.share, 0.0), 1.0) if pairs else 0.0
        swap = None
        if pairs and rng.random() < share:
            swap = pairs[rng.randrange(len(pairs))]
        each = share / len(pairs) if pairs else 0.0
        touched = [0] * n
        for j in pairs:
            touched[j] += 1
            touched[j + 1] += 1
        if swap is None:
            placement = [1.0 - each * touched[i] for i in range(n)]
            order_probability = 1.0 - share
        else:
            placement = [1.0 - each * touched[i] for i in range(n)]
            placement[swap] = placement[swap + 1] = each
            order_probability = each
        policy = {
            "explore_share": self.share,
            "pairs": [[j + 1, j + 2] for j in pairs],
            "swapped": None if swap is None else [swap + 1, swap + 2],
            "order_probability": order_probability,
        }
        return swap, placement, policy


def _first_places(needs: list[int]) -> dict[int, int]:
    first: dict[int, int] = {}
    for i, n in enumerate(needs):
        first.setdefault(n, i)
    return first


@dataclass(frozen=True)
class _Context:
    s: Snapshot
    p: ResolvedProfile
    ranker: Ranker
    lang: str
    cap: int | None
    history: OutcomeHistory | None
    now: datetime
    rival: Ranker | None = None


@dataclass(frozen=True)
class _Candidates:
    """One list's shortlisted candidates with what ranking them produced (``rival_scores``:
    the interleaved challenger's scores of the same rows, when one runs)."""

    rows: np.ndarray
    x: np.ndarray
    need: np.ndarray
    d: np.ndarray
    scores: np.ndarray
    rival_scores: np.ndarray | None = None


def _scored(c: _Context, lists: tuple[np.ndarray, ...], ks: tuple[int, ...]) -> list[_Candidates]:
    """Features and scores of every list's shortlisted candidates, computed in one pass for
    all lists (results and waitlist): the fixed cost of each step is paid once."""
    s, p = c.s, c.p
    rows = np.concatenate(lists) if lists else np.arange(0)
    bounds = np.cumsum([0, *(len(part) for part in lists)])
    if not len(rows):
        empty = np.arange(0)
        return [_Candidates(empty, np.empty((0, 0)), empty, empty, empty) for _ in lists]
    d = distances_km(s, rows, p)
    x = rule_features(s, rows, p, distances=d, history=c.history, now=c.now)
    need = p.need_of_category[s.cat[rows]]
    pre = prescore(x)
    keeps = []
    for part, k in enumerate(ks):
        lo, hi = bounds[part], bounds[part + 1]
        # Never cut below what the list shows: each need may fill all k places.
        cap = None if c.cap is None else max(c.cap, k)
        keeps.append(lo + shortlist(need[lo:hi], pre[lo:hi], len(p.needs), cap))
    keep = np.concatenate(keeps)
    # only the shortlist is ranked and shown: only its rows need the context columns
    x_keep = x[keep]
    add_context_features(x_keep, s, rows[keep], p)
    x[keep] = x_keep
    scores = np.empty(len(rows))
    rival = None if c.rival is None else np.empty(len(rows))
    if len(keep):
        scores[keep] = np.asarray(c.ranker.score(x_keep[:, columns_for(c.ranker)]), dtype=float)
        if c.rival is not None and rival is not None:
            rival[keep] = np.asarray(c.rival.score(x_keep[:, columns_for(c.rival)]), dtype=float)
    return [
        _Candidates(
            rows[kept],
            x[kept],
            need[kept],
            d[kept],
            scores[kept],
            None if rival is None else rival[kept],
        )
        for kept in keeps
    ]


def _ranked(
    c: _Context,
    cand: _Candidates,
    k: int,
    exploration: Exploration | None,
    rng: random.Random | None,
) -> tuple[list[Suggestion], dict[str, Any] | None]:
    if not len(cand.rows):
        return [], None
    picked = _picks(c, cand, cand.scores, k)
    placement: list[float | None] = [1.0] * len(picked)
    policy = None
    if exploration is not None and exploration.share > 0 and len(picked) > 1:
        swap, drawn, policy = exploration.draw(
            [float(cand.scores[i]) for i in picked],
            [int(cand.need[i]) for i in picked],
            len(c.p.needs),
            rng or random.Random(),
        )
        placement = list(drawn)
        if swap is not None:
            picked[swap], picked[swap + 1] = picked[swap + 1], picked[swap]
    return _suggestions(c, cand, picked, placement), policy


def _picks(c: _Context, cand: _Candidates, scores: np.ndarray, k: int) -> list[int]:
    """Positions of ``k`` candidates in ``scores`` order (ties by offer id), needs covered."""
    order = np.lexsort((c.s.ids[cand.rows], -scores))  # best first; ties by offer id, stable
    return cover_needs(cand.need, order, len(c.p.needs), k)


def _interleaved(
    c: _Context, cand: _Candidates, k: int, rng: random.Random
) -> tuple[list[Suggestion], dict[str, Any] | None]:
    """The ranker's and the rival's lists merged by team draft, needs covered again; the
    policy records both versions and every result's team. Scores shown are the ranker's."""
    if not len(cand.rows) or cand.rival_scores is None or c.rival is None:
        return [], None
    mine, theirs = _picks(c, cand, cand.scores, k), _picks(c, cand, cand.rival_scores, k)
    merged, team_of = team_draft(mine, theirs, rng)
    picked = cover_needs(cand.need, np.asarray(merged), len(c.p.needs), k)
    policy = {
        "interleaved": {
            "control": c.ranker.version,
            "challenger": c.rival.version,
            "teams": [team_of[i] for i in picked],
            "shared": shared_prefix(picked, mine, theirs),
        }
    }
    return _suggestions(c, cand, picked, [None] * len(picked)), policy


def _suggestions(
    c: _Context, cand: _Candidates, picked: list[int], placement: list[float | None]
) -> list[Suggestion]:
    s, p = c.s, c.p
    rows, x, need, d, scores = cand.rows, cand.x, cand.need, cand.d, cand.scores
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
                reasons=reasons_for(s, row, p, x[i], c.lang),
                features=x[i],
                propensity=None if (q := placement[rank - 1]) is None else round(q, 6),
            )
        )
    return out
