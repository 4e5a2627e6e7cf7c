"""A simulated outcome history for the demo: people, the recommendations they really got, and
what they did with them. It bootstraps the ranker (``make run`` trains on it) and is the
ground truth in the tests that prove the ranker learns.

Simulated people go through the real engine (``matcher.engine.rank_offers``), so impressions
carry the engine's exact feature values; only the people and their behaviour are invented.
The behaviour is written down here, and deliberately *not* the rule score's weights, so a
learner has something to find that the hand-set rules miss:

**Who comes** (``draw_people``): adults 18–64 living near the catalogue's places; German
level mostly none–A2; one in ten not literate in Latin script; four in ten with children,
and young children make childcare a need for most of those parents; a third with a
profession, some regulated (nurse, doctor, teacher, engineer: recognition first). Needs follow
from that: a German course below B1, a job-language course from B1, work, recognition,
childcare, now and then counselling or housing. Parents record mornings; people in work
record evenings. Hidden traits the engine never sees: motivation, how far one is willing to
travel (parents of small children less), whether family can mind the children.

**What they do** with the offers shown for each need (``simulate_need``):

1. *Notice*: attention fades down the list (``ATTENTION ** (rank - 1)``): position bias.
2. *Choose* one noticed offer or none, by a multinomial logit on ``utility``: it grows with
   the need's priority and a profession match, and falls steeply with distance beyond one's
   own travel tolerance (``(km / tolerance) ** 1.5``), with a schedule that does not fit
   (schedules must fit: the penalty is large), with every month until the start, with an
   online format (hardest for beginners); a shared support language helps beginners; for
   parents of young children without other care, an offer without childcare is close to
   impossible and one with childcare attractive. The chosen offer gets a referral
   (``proposed``); if it is then rejected or declined, the person tries a second choice once.
3. *Provider*: a nearly full offer often rejects (no capacity); a few are rejected for other
   reasons.
4. *Person*: declines more when the schedule half fits, the start is months away, or
   childcare is missing.
5. *Enrol*: most accepted referrals enrol; a late start loses some.
6. *Complete or drop*: a course far above one's level (target four or more levels up) is
   mostly dropped as too difficult, three levels up often; a course at or below one's level
   bores and is dropped more; missing childcare, a long way, an online format and a poor
   schedule all add to dropping; motivation keeps people in.

Every step takes time (days to weeks; a course runs months), so for recent requests the
later steps have not happened yet: their referrals are still proposed, accepted or enrolled,
as real data would be.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from catalog import taxonomy
from models import columns as C

#: Share of attention left at each further rank.
ATTENTION = 0.92
PEOPLE_DEFAULT = 2000
DAYS_DEFAULT = 365
K = 10

_LEVELS = ("none", "A1", "A2", "B1", "B2", "C1")
_LEVEL_P = (0.18, 0.24, 0.22, 0.2, 0.11, 0.05)
_LANGS = ("ar", "fa", "uk", "tr", "ru", "ti", "so", "ku", "en", "ps", "sq", "ro")
_LANG_P = (0.22, 0.12, 0.14, 0.1, 0.08, 0.06, 0.05, 0.06, 0.06, 0.04, 0.04, 0.03)
_STATUSES = (
    "recognised_refugee",
    "asylum_seeker",
    "tolerated",
    "family_reunification",
    "eu_citizen",
    "skilled_worker",
    "resettler",
    "other",
)
_STATUS_P = (0.3, 0.14, 0.06, 0.16, 0.14, 0.1, 0.04, 0.06)
_REGULATED = ("Krankenpflegerin", "Arzt", "Lehrerin", "Ingenieur", "Apothekerin")
_OTHER_JOBS = ("Koch", "Elektriker", "Verkäuferin", "Friseurin", "Lagerarbeiter", "Buchhalterin")
_COURSE_PARENTS = frozenset({"language", "work", "recognition"})


@dataclass(frozen=True)
class Place:
    """A place people live near: a municipality of the catalogue and its centre."""

    name: str
    latitude: float
    longitude: float
    weight: float = 1.0


@dataclass
class SimulatedPerson:
    """A person's profile (contract JSON) and the traits the engine never sees."""

    person_ref: str
    profile: dict[str, Any]
    motivation: float
    tolerance_km: float
    family_care: bool
    works: bool
    #: The place the person lives near (for per-place figures; not in the profile).
    municipality: str = ""


@dataclass(frozen=True)
class Step:
    status: str
    at: datetime
    reason: str | None = None


@dataclass
class SimulatedOutcome:
    """What became of one shown offer: nothing, or a referral with its status history."""

    request_id: str
    offer_id: str
    history: list[Step] = field(default_factory=list)

    @property
    def status(self) -> str | None:
        return self.history[-1].status if self.history else None


def places_from_offers(records: Sequence[dict[str, Any]]) -> list[Place]:
    """The catalogue's municipalities, each at the mean position of its offers, weighted by
    how many offers it has (people live where services are)."""
    frame = pd.DataFrame(
        [
            (o.get("municipality"), o.get("latitude"), o.get("longitude"))
            for o in records
            if o.get("latitude") is not None and o.get("municipality")
        ],
        columns=["name", "lat", "lon"],
    )
    if frame.empty:
        return []
    g = frame.groupby("name").agg(lat=("lat", "mean"), lon=("lon", "mean"), n=("lat", "size"))
    return [Place(str(n), float(r.lat), float(r.lon), float(r.n)) for n, r in g.iterrows()]


def draw_people(places: Sequence[Place], n: int, rng: np.random.Generator) -> list[SimulatedPerson]:
    """``n`` people living near ``places`` (see the module docstring for the mix)."""
    if not places:
        raise ValueError("no places to put people in: the catalogue has no located offers")
    weights = np.array([p.weight for p in places], dtype=float)
    weights /= weights.sum()
    people = []
    for i in range(n):
        place = places[int(rng.choice(len(places), p=weights))]
        age = int(rng.integers(18, 65))
        gender = str(rng.choice(["female", "male", "diverse"], p=[0.5, 0.48, 0.02]))
        level = str(rng.choice(_LEVELS, p=_LEVEL_P))
        literate = bool(rng.random() > (0.25 if level == "none" else 0.03))
        mother_tongue = str(rng.choice(_LANGS, p=_LANG_P))
        languages = [mother_tongue] + (
            ["en"] if rng.random() < 0.3 and mother_tongue != "en" else []
        )
        children: list[int] = []
        if 22 <= age <= 50 and rng.random() < 0.45:
            children = sorted(int(a) for a in rng.integers(0, 16, int(rng.integers(1, 4))))
        young = any(a < 6 for a in children)
        profession = None
        if rng.random() < 0.35:
            pool = _REGULATED if rng.random() < 0.45 else _OTHER_JOBS
            profession = str(rng.choice(pool))
        works = bool(rng.random() < 0.25 and age < 60)
        needs: list[str] = []
        if level in ("none", "A1", "A2"):
            needs.append("integration_course" if rng.random() < 0.8 else "language")
        elif level in ("B1", "B2") and rng.random() < 0.6:
            needs.append("job_language_course")
        if young and rng.random() < 0.75:
            needs.insert(0 if rng.random() < 0.5 else len(needs), "childcare")
        if profession in _REGULATED:
            needs.append("recognition")
        if rng.random() < 0.45:
            needs.append("work")
        for extra, p in (("counselling", 0.12), ("housing", 0.06), ("health", 0.04)):
            if rng.random() < p:
                needs.append(extra)
        if not needs:
            needs.append("counselling")
        needs = list(dict.fromkeys(needs))[:4]
        days: list[str] = []
        times: list[str] = []
        if works:
            times = ["evening"]
        elif young:
            times = ["morning"] if rng.random() < 0.7 else ["morning", "afternoon"]
        elif rng.random() < 0.3:
            times = [str(rng.choice(["morning", "afternoon"]))]
        if rng.random() < 0.2:
            days = ["mon", "tue", "wed", "thu", "fri"]
        # people live within a few km of the place's centre
        lat = place.latitude + float(rng.normal(0, 0.03))
        lon = place.longitude + float(rng.normal(0, 0.045))
        person_ref = f"sim-{i:06d}-{uuid.UUID(int=int(rng.integers(0, 2**63))).hex[:8]}"
        profile = {
            "person_ref": person_ref,
            "age": age,
            "gender": gender,
            "location": {"latitude": round(lat, 5), "longitude": round(lon, 5)},
            "max_distance_km": float(15 if young else 25),
            "online_ok": bool(works or rng.random() < 0.25),
            "residence_status": str(rng.choice(_STATUSES, p=_STATUS_P)),
            "german_level": level,
            "literate": literate,
            "languages": languages,
            "children_ages": children,
            "needs": needs,
            "profession": profession,
            "benefits": [str(rng.choice(["sgb2", "asylblg", "none"], p=[0.45, 0.2, 0.35]))],
            "availability": {"days": days, "times": times},
        }
        people.append(
            SimulatedPerson(
                person_ref=person_ref,
                profile=profile,
                motivation=float(rng.normal(0, 0.6)),
                tolerance_km=float(rng.uniform(4, 14)) * (0.6 if young else 1.0),
                family_care=bool(rng.random() < 0.3),
                works=works,
            )
        )
    return people


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _days(rng: np.random.Generator, lo: float, hi: float) -> timedelta:
    return timedelta(days=float(rng.uniform(lo, hi)))


@dataclass(frozen=True)
class ShownOffer:
    """What the behaviour reads about one shown offer: the engine's features plus the few
    offer facts a person sees (category, target level, childcare)."""

    offer_id: str
    rank: int
    category: str
    target_level: int  # -1: none
    childcare: bool
    features: dict[str, float]


def _situation(person: SimulatedPerson, level: int, offer: ShownOffer) -> dict[str, Any]:
    parent_cat = taxonomy.parent(offer.category)
    young = any(a < 6 for a in person.profile["children_ages"])
    needs_care = young and not person.family_care and parent_cat in _COURSE_PARENTS
    return {
        "parent": parent_cat,
        "needs_care": needs_care,
        "childcare_missing": needs_care and not offer.childcare,
        "gap": offer.target_level - level if offer.target_level >= 0 else None,
    }


def utility(person: SimulatedPerson, level: int, offer: ShownOffer) -> float:
    """How much the person wants the offer (the logit of choosing it over nothing)."""
    f = offer.features
    sit = _situation(person, level, offer)
    beginner = level <= 1
    online = f["online"] > 0.5
    return (
        0.5
        + 1.2 * f["need_priority"]
        - 1.2 * (f["distance_km"] / person.tolerance_km) ** 1.5
        + online * (0.3 if person.works else (-1.8 if beginner else -0.6))
        - 3.0 * (1.0 - f["schedule_overlap"])
        + (1.5 if beginner else 0.2) * f["language_shared"]
        - f["days_until_start"] / 30.0
        + 2.0 * f["profession_similarity"]
        - 2.5 * sit["childcare_missing"]
        + (1.0 if sit["needs_care"] and offer.childcare else 0.0)
        + person.motivation
    )


def referral_history(
    person: SimulatedPerson,
    level: int,
    offer: ShownOffer,
    *,
    served_at: datetime,
    now: datetime,
    rng: np.random.Generator,
) -> list[Step]:
    """The documented funnel for an offer the person chose: provider, person, enrolment,
    completion or drop, each step some days later and cut where ``now`` is reached."""
    f = offer.features
    sit = _situation(person, level, offer)
    km, overlap, start_days = f["distance_km"], f["schedule_overlap"], f["days_until_start"]
    online = f["online"] > 0.5
    gap, childcare_missing = sit["gap"], sit["childcare_missing"]
    t = served_at + _days(rng, 0, 5)
    if t > now:
        return []
    steps = [Step("proposed", t)]

    def advance(status: str, lo: float, hi: float, reason: str | None = None) -> bool:
        nonlocal t
        t = t + _days(rng, lo, hi)
        if t > now:
            return False
        steps.append(Step(status, t, reason))
        return True

    capacity = f["capacity_ratio"]
    if rng.random() < 0.6 * (1.0 - capacity) ** 2 + 0.03:
        reason = (
            "no_capacity"
            if capacity < 0.3
            else str(rng.choice(["not_eligible", "could_not_contact"]))
        )
        advance("rejected_by_provider", 2, 14, reason)
        return steps
    p_decline = 0.05 + 0.3 * (overlap < 1.0) + 0.2 * (start_days > 90) + 0.3 * childcare_missing
    if rng.random() < p_decline:
        if childcare_missing:
            reason = "childcare_missing"
        elif overlap < 1.0:
            reason = "schedule_conflict"
        elif start_days > 90:
            reason = "found_other_offer"
        else:
            reason = "no_longer_interested"
        advance("declined", 2, 20, reason)
        return steps
    if not advance("accepted", 2, 14):
        return steps
    if rng.random() > 0.9 - 0.25 * (start_days > 60):
        advance("dropped", 5, 40, "could_not_contact")
        return steps
    if not advance("enrolled", max(3.0, start_days * 0.5), max(10.0, start_days + 10)):
        return steps
    p_drop = (
        0.1
        + (0.5 if gap is not None and gap >= 4 else 0.0)
        + (0.2 if gap == 3 else 0.0)
        + (0.25 if gap is not None and gap <= 0 else 0.0)
        + 0.35 * childcare_missing
        + 0.25 * (km > person.tolerance_km)
        + 0.15 * online
        + 0.3 * (1.0 - overlap)
        - 0.12 * person.motivation
    )
    if rng.random() < min(0.95, max(0.02, p_drop)):
        if gap is not None and gap >= 3:
            reason = "too_difficult"
        elif childcare_missing:
            reason = "childcare_missing"
        elif overlap < 1.0:
            reason = "schedule_conflict"
        else:
            reason = str(rng.choice(["work_started", "moved_away", "health", "other"]))
        advance("dropped", 10, 90, reason)
        return steps
    duration = 120 if sit["parent"] == "language" else 60
    advance("completed", duration * 0.5, duration * 1.5)
    return steps


def simulate_need(
    person: SimulatedPerson,
    level: int,
    offers: Sequence[ShownOffer],
    *,
    served_at: datetime,
    now: datetime,
    rng: np.random.Generator,
) -> dict[str, list[Step]]:
    """What the person does with the offers shown for one need: notices some (attention fades
    down the list), chooses among them or none (multinomial logit on ``utility``), and, if
    the first choice is rejected or declined, tries their next choice once."""
    noticed = [o for o in offers if rng.random() < ATTENTION ** (o.rank - 1)]
    out: dict[str, list[Step]] = {}
    for _attempt in range(2):
        if not noticed:
            break
        u = np.array([utility(person, level, o) for o in noticed])
        weights = np.exp(np.append(u, 0.0))  # the last option: none of these
        pick = int(rng.choice(len(weights), p=weights / weights.sum()))
        if pick == len(noticed):
            break
        chosen = noticed.pop(pick)
        steps = referral_history(person, level, chosen, served_at=served_at, now=now, rng=rng)
        out[chosen.offer_id] = steps
        if not steps or steps[-1].status not in ("rejected_by_provider", "declined"):
            break
    return out


@dataclass
class ServedRequest:
    """One simulated request as served: the engine's recommendation and who asked when."""

    request_id: str
    person: SimulatedPerson
    served_at: datetime
    recommendation: Any  # matcher.engine.Recommendation
    outcomes: list[SimulatedOutcome]


def simulate_requests(
    snapshot: Any,
    places: Sequence[Place],
    *,
    people: int,
    seed: int,
    ranker: Any = None,
    days: int = DAYS_DEFAULT,
    now: datetime | None = None,
    k: int = K,
) -> Iterator[ServedRequest]:
    """Draw ``people``, serve each one a real recommendation at a time spread over the last
    ``days`` (oldest first), and draw what they did with every shown offer.

    The catalogue is the snapshot as it is now; requests are stamped in the past but see
    today's offers (the demo catalogue has no history). The outcome history the features
    read is the simulation's own, as of each request's time: earlier people's referral
    steps count once their (simulated) time has come.
    """
    import heapq
    import itertools

    from matcher.engine import rank_offers
    from matcher.history import OutcomeEvent, OutcomeHistory
    from matcher.profile import resolve_profile, validate_profile

    rng = np.random.default_rng(seed)
    now = now or datetime.now(UTC)
    persons = draw_people(places, people, rng)
    offsets = np.sort(rng.uniform(0, days, len(persons)))[::-1]
    from catalog.vocab import LEVEL_RANK
    from lotse.settings import current
    from matcher.features import FEATURE_NAMES

    history = OutcomeHistory(current().history_half_life_days)
    pending: list[tuple[datetime, int, OutcomeEvent]] = []
    ticket = itertools.count()
    for person, offset in zip(persons, offsets, strict=True):
        served_at = now - timedelta(days=float(offset))
        due = []
        while pending and pending[0][0] <= served_at:
            due.append(heapq.heappop(pending)[2])
        history.apply(due)
        resolved = resolve_profile(validate_profile(person.profile), today=date.today())
        rec = rank_offers(snapshot, resolved, k=k, ranker=ranker, history=history, now=served_at)
        level = LEVEL_RANK[person.profile["german_level"]]
        by_need: dict[str, list[ShownOffer]] = {}
        for sug in rec.results:
            row = snapshot.row_of[sug.offer_id]
            by_need.setdefault(sug.need, []).append(
                ShownOffer(
                    offer_id=sug.offer_id,
                    rank=sug.rank,
                    category=sug.category,
                    target_level=int(snapshot.level_target[row]),
                    childcare=bool(snapshot.childcare[row]),
                    features=dict(zip(FEATURE_NAMES, map(float, sug.features), strict=True)),
                )
            )
        histories: dict[str, list[Step]] = {}
        for offers in by_need.values():
            histories.update(
                simulate_need(person, level, offers, served_at=served_at, now=now, rng=rng)
            )
        outcomes = [
            SimulatedOutcome(rec.request_id, sug.offer_id, histories.get(sug.offer_id, []))
            for sug in rec.results
        ]
        for o in outcomes:
            row = snapshot.row_of[o.offer_id]
            for step in o.history:
                event = OutcomeEvent(
                    event_id=0,
                    referral_id=f"{o.request_id}/{o.offer_id}",
                    offer_id=o.offer_id,
                    organization=str(snapshot.orgs[row]),
                    area=str(snapshot.areas[row]),
                    status=step.status,
                    at=step.at,
                )
                heapq.heappush(pending, (step.at, next(ticket), event))
        yield ServedRequest(rec.request_id, person, served_at, rec, outcomes)


def impressions_frame(
    served: Sequence[ServedRequest], person_key: Callable[[str], str]
) -> pd.DataFrame:
    """The impressions of simulated requests in the training frame's shape (what
    ``models.training.load_impressions`` reads from the database), without a database."""
    from matcher.features import FEATURE_NAMES

    rows = []
    for req in served:
        p = req.person.profile
        for s in req.recommendation.results:
            row = {
                C.QUERY: req.request_id,
                C.ITEM: s.offer_id,
                C.PERSON: person_key(req.person.person_ref),
                C.TIME: req.served_at,
                C.POSITION: s.rank,
                C.SERVED_BY: req.recommendation.model_version,
                "german_level": p["german_level"],
                "municipality": req.recommendation.place.place,
                "gender": p["gender"],
                "residence_status": p["residence_status"],
                C.NEED: taxonomy.parent(s.need) if taxonomy.is_known(s.need) else s.need,
            }
            row.update(dict(zip(FEATURE_NAMES, (float(v) for v in s.features), strict=True)))
            rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame[C.TIME] = pd.to_datetime(frame[C.TIME], utc=True)
    return frame


def outcomes_frame(served: Sequence[ServedRequest]) -> pd.DataFrame:
    """The referrals of simulated requests as an outcome source returns them."""
    rows = [
        (o.request_id, o.offer_id, o.status, o.history[-1].at)
        for req in served
        for o in req.outcomes
        if o.history
    ]
    return pd.DataFrame(rows, columns=["request_id", "offer_id", "status", "updated_at"])


# --- writing a simulated history into the database ---------------------------------------

#: The counselling centre simulated requests and referrals belong to.
SIM_CENTRE = "demo-simulation"
SIM_ACTOR = "demo:simulate"
BATCH_REQUESTS = 250


@dataclass(frozen=True)
class SimulatedReferral:
    """A referral to write: which served request and offer, whose, and its status history."""

    request_id: str
    offer_id: str
    centre_id: str
    person_key: str
    history: tuple[Step, ...]


#: Writes simulated referrals with their backdated histories (implemented where referrals
#: live, in casework, and handed in by the service); returns how many were written.
RecordReferrals = Callable[[Any, Sequence[SimulatedReferral]], int]


def catalogue_places(session: Any) -> list[Place]:
    """The catalogue's municipalities as places people live near."""
    from sqlalchemy import func, select

    from catalog.tables import Offer

    rows = session.execute(
        select(
            Offer.municipality,
            func.avg(Offer.latitude),
            func.avg(Offer.longitude),
            func.count(),
        )
        .where(Offer.archived.is_(False), Offer.latitude.is_not(None))
        .group_by(Offer.municipality)
    ).all()
    return [Place(str(m), float(lat), float(lon), float(n)) for m, lat, lon, n in rows if m]


def simulate_history(
    sessions: Any,
    record_referrals: RecordReferrals,
    *,
    people: int = PEOPLE_DEFAULT,
    seed: int = 0,
    days: int = DAYS_DEFAULT,
    ranker: Any = None,
    now: datetime | None = None,
    progress: Callable[[Iterator[ServedRequest], int], Iterator[ServedRequest]] = lambda it, _n: it,
) -> dict[str, Any]:
    """Serve ``people`` simulated requests through the engine over the last ``days``, log
    their impressions as the service would (backdated), and record what came of them.

    ``ranker`` is what serves them (the rule score when None). Returns a summary.
    """
    from sqlalchemy import update

    from catalog.store import current_seq
    from lotse.accounts import ensure_centre
    from lotse.db import transaction
    from lotse.pseudonyms import person_key
    from matcher.impressions import log_impressions
    from matcher.snapshot import Snapshot, load_offers
    from matcher.tables import RecommendationRequest

    with sessions() as session:
        places = catalogue_places(session)
        snapshot = Snapshot.from_records(load_offers(session), current_seq(session))
    if not snapshot.n_live:
        raise ValueError("the catalogue is empty: run `lotse demo seed` first")
    stream = simulate_requests(
        snapshot, places, people=people, seed=seed, ranker=ranker, days=days, now=now
    )
    counts: dict[str, int] = {"requests": 0, "impressions": 0, "referrals": 0}
    statuses: dict[str, int] = {}
    batch: list[ServedRequest] = []

    def flush() -> None:
        with transaction(sessions) as session:
            ensure_centre(session, SIM_CENTRE, "Simulated demo history")
            referrals: list[SimulatedReferral] = []
            for req in batch:
                counts["impressions"] += log_impressions(
                    session,
                    req.recommendation,
                    centre_id=SIM_CENTRE,
                    person_ref=req.person.person_ref,
                )
                session.execute(
                    update(RecommendationRequest)
                    .where(RecommendationRequest.request_id == req.request_id)
                    .values(served_at=req.served_at)
                )
                key = person_key(SIM_CENTRE, req.person.person_ref)
                for o in req.outcomes:
                    if o.history:
                        referrals.append(
                            SimulatedReferral(
                                o.request_id, o.offer_id, SIM_CENTRE, key, tuple(o.history)
                            )
                        )
                        last = o.history[-1].status
                        statuses[last] = statuses.get(last, 0) + 1
            counts["referrals"] += record_referrals(session, referrals)
        counts["requests"] += len(batch)
        batch.clear()

    for req in progress(stream, people):
        batch.append(req)
        if len(batch) >= BATCH_REQUESTS:
            flush()
    if batch:
        flush()
    return {**counts, "statuses": dict(sorted(statuses.items()))}
