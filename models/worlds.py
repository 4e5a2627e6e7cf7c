"""A zoo of simulated outcome worlds, each with a different truth about which offers work for
whom, to judge the learning loop on truths it was not built around.

``models.simulation`` is the demo's one world, written next to the engine. These worlds are
written the other way round: from the *raw* facts of people and offers (coordinates,
categories, levels, childcare, fees, languages, organisations), never from the engine's
features, and each hides one thing the rule score does not know:

================  ===========================================================================
world             what decides, beyond distance and schedule
================  ===========================================================================
provider_quality  each organisation's hidden quality decides how often referrals complete; only
                  outcomes reveal it
level_cliff       a course far above the person's level (three steps or more) is almost always
                  dropped; at or below the level it bores; the rules like big steps
first_language    beginners (no German, A1) complete only with support in their first
                  language; for everyone else it does not matter
childcare         a parent of a small child without family care cannot attend a course that
                  provides no childcare, and attends one that does gladly
fees              people on benefits do not take up offers that cost money
quality_shift     like provider_quality, but half the organisations change sides half-way:
                  only a recent history shows it
position_bias     attention falls very steeply down the list (1 / rank^1.6), which hides what
                  people would take further down; and parents of small children drop out of
                  intensive courses (15 hours a week or more), which everyone else completes
                  best
================  ===========================================================================

Every world shares the same mechanics, so its truth is exact per (person, offer):

- **attention**: the offer at rank ``k`` is noticed with probability ``attention(k)``;
- **take-up**: a noticed offer is referred with probability ``take_up(person, offer)``;
- **outcome** of a referral: rejected by the provider (8 %), declined (``1 - accept``),
  otherwise accepted; 85 % of accepted enrol; an enrolment completes with probability
  ``complete``, else is dropped. Labels: declined/rejected 0, accepted or dropped 1, enrolled
  2, completed 3.

The true value of showing an offer is ``value = take_up × E[2**label - 1 | referred]``: the
expected gain once noticed. ``oracle_ratio`` compares a served top 5 with the best possible
top 5 of the same eligible offers, both weighted by the DCG discount.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from catalog import taxonomy
from catalog.vocab import LEVEL_RANK
from lotse.geo import distance_km
from matcher.engine import cover_needs
from models.simulation import Place, SimulatedPerson, draw_people

REJECTED = 0.08
ENROL = 0.85
GAINS = {"declined": 0.0, "rejected_by_provider": 0.0, "accepted": 1.0, "dropped": 1.0,
         "enrolled": 3.0, "completed": 7.0}  # fmt: skip
COURSES = frozenset({"language", "work", "recognition"})
TIMES = ("morning", "afternoon", "evening")


def _hidden(name: str, key: str, seed: int) -> float:
    """A fixed standard-normal draw per (world, key, seed): hidden quality nobody records."""
    digest = hashlib.sha256(f"{name}|{seed}|{key}".encode()).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64
    u2 = (int.from_bytes(digest[8:16], "big") + 0.5) / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@dataclass(frozen=True)
class Situation:
    """The raw facts of one person and one offer that every world reads."""

    km: float
    online: bool
    parent: str  # the offer's parent category
    level: int  # the person's German level rank
    target: int | None  # the offer's target level rank
    young_child: bool
    needs_care: bool  # a young child and no family care
    childcare: bool
    on_benefits: bool
    cost: float
    first_language_supported: bool
    schedule_fits: bool
    first_need: bool
    organization: str
    offer_id: str
    hours: float | None


def situation(person: SimulatedPerson, offer: Mapping[str, Any]) -> Situation:
    prof = person.profile
    loc = prof["location"]
    online = bool(offer.get("online")) and bool(prof.get("online_ok"))
    if offer.get("latitude") is not None:
        km = distance_km(loc["latitude"], loc["longitude"], offer["latitude"], offer["longitude"])
    else:
        km = 0.0
    if online and km > float(prof.get("max_distance_km") or 25):
        km = 0.0
    category = offer["category"]
    parent = taxonomy.parent(category) if taxonomy.is_known(category) else category
    ages = prof.get("children_ages") or []
    young = any(a < 6 for a in ages)
    target = offer.get("target_german_level")
    langs = prof.get("languages") or []
    wanted_times = set((prof.get("availability") or {}).get("times") or [])
    offer_times = set(offer.get("times") or [])
    needs = prof.get("needs") or []
    first = needs[0] if needs else None
    return Situation(
        km=km,
        online=online and km == 0.0,
        parent=parent,
        level=LEVEL_RANK[prof["german_level"]],
        target=None if target is None else LEVEL_RANK[target],
        young_child=young,
        needs_care=young and not person.family_care,
        childcare=bool(offer.get("childcare")) or category in ("daycare", "childminder"),
        on_benefits=bool({"sgb2", "asylblg"} & set(prof.get("benefits") or [])),
        cost=float(offer.get("cost_eur") or 0.0),
        first_language_supported=bool(langs) and langs[0] in (offer.get("languages") or []),
        schedule_fits=not wanted_times or not offer_times or bool(wanted_times & offer_times),
        first_need=first is not None and (first in (category, parent)),
        organization=str(offer.get("organization") or ""),
        offer_id=str(offer["id"]),
        hours=None if offer.get("hours_per_week") is None else float(offer["hours_per_week"]),
    )


@dataclass(frozen=True)
class Truth:
    """What a world says of one (person, offer): probabilities of the funnel's steps."""

    take_up: float
    accept: float
    complete: float

    @property
    def gain(self) -> float:
        """E[2**label - 1 | referred]."""
        accepted = (1 - REJECTED) * self.accept
        enrolled = accepted * ENROL
        return (accepted - enrolled) * GAINS["dropped"] + enrolled * (
            self.complete * GAINS["completed"] + (1 - self.complete) * GAINS["dropped"]
        )

    @property
    def value(self) -> float:
        return self.take_up * self.gain


@dataclass
class World:
    """One world: a name, its attention curve and its truth (see the module docstring)."""

    name: str
    description: str
    truth_of: Callable[[World, SimulatedPerson, Situation, float], Truth]
    attention_power: float = 0.8
    seed: int = 0
    _cache: dict[str, float] = field(default_factory=dict, repr=False)

    def attention(self, rank: int) -> float:
        """Probability that the offer at ``rank`` (1-based) is noticed."""
        return float(rank) ** -self.attention_power

    def hidden(self, key: str) -> float:
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = _hidden(self.name, key, self.seed)
        return value

    def truth(self, person: SimulatedPerson, offer: Mapping[str, Any], phase: float) -> Truth:
        """The truth of ``offer`` for ``person`` at ``phase`` (0–1: how far the run has got)."""
        return self.truth_of(self, person, situation(person, offer), phase)

    def value(self, person: SimulatedPerson, offer: Mapping[str, Any], phase: float) -> float:
        return self.truth(person, offer, phase).value

    def respond(
        self,
        person: SimulatedPerson,
        shown: Sequence[Mapping[str, Any]],
        phase: float,
        rng: np.random.Generator,
    ) -> list[tuple[str, list[tuple[str, str | None]]]]:
        """What the person does with a served list (offers in rank order): for each referred
        offer, its id and the status steps ``[(status, reason)]`` after ``proposed``."""
        out = []
        for rank, offer in enumerate(shown, start=1):
            if rng.random() >= self.attention(rank):
                continue
            t = self.truth(person, offer, phase)
            if rng.random() >= t.take_up:
                continue
            steps: list[tuple[str, str | None]] = []
            if rng.random() < REJECTED:
                steps.append(("rejected_by_provider", "not_eligible"))
            elif rng.random() >= t.accept:
                steps.append(("declined", "no_longer_interested"))
            else:
                steps.append(("accepted", None))
                if rng.random() >= ENROL:
                    steps.append(("dropped", "could_not_contact"))
                else:
                    steps.append(("enrolled", None))
                    if rng.random() < t.complete:
                        steps.append(("completed", None))
                    else:
                        steps.append(("dropped", "other"))
            out.append((str(offer["id"]), steps))
        return out


# --- the shared behaviour, and what each world adds --------------------------------------------


def base_take_up(person: SimulatedPerson, s: Situation) -> float:
    """Everyone prefers near offers (beyond their own tolerance steeply), a schedule that
    fits, and what serves their first need."""
    reach = math.exp(-((s.km / person.tolerance_km) ** 1.5))
    return 0.45 * reach * (1.0 if s.schedule_fits else 0.3) * (1.0 if s.first_need else 0.75)


def completion_of_quality(q: Any) -> Any:
    """Completion of a referral to an organisation of hidden quality ``q`` (a number or an
    array of them): the provider_quality and quality_shift worlds."""
    return 1.0 / (1.0 + np.exp(-2.0 * q))


def changed_sides(world: World, organization: str, phase: float) -> bool:
    """Whether an organisation of the quality_shift world has changed sides by ``phase``."""
    return phase >= 0.5 and world.hidden("flip:" + organization) > 0


def _provider_quality(world: World, person: SimulatedPerson, s: Situation, phase: float) -> Truth:
    q = world.hidden("org:" + s.organization)
    return Truth(base_take_up(person, s), 0.8, float(completion_of_quality(q)))


def _level_cliff(world: World, person: SimulatedPerson, s: Situation, phase: float) -> Truth:
    complete = 0.6
    if s.target is not None:
        gap = s.target - s.level
        complete = {1: 0.85, 2: 0.6}.get(gap, 0.03 if gap >= 3 else 0.2)
    return Truth(base_take_up(person, s), 0.8, complete)


def _first_language(world: World, person: SimulatedPerson, s: Situation, phase: float) -> Truth:
    complete = 0.6
    if s.level <= LEVEL_RANK["A1"]:
        complete = 0.85 if s.first_language_supported else 0.08
    return Truth(base_take_up(person, s), 0.8, complete)


def _childcare(world: World, person: SimulatedPerson, s: Situation, phase: float) -> Truth:
    take_up = base_take_up(person, s)
    accept, complete = 0.8, 0.6
    if s.needs_care and s.parent in COURSES:
        if s.childcare:
            take_up, complete = min(0.95, take_up * 1.6), 0.75
        else:
            take_up, accept, complete = take_up * 0.05, 0.2, 0.1
    return Truth(take_up, accept, complete)


def _fees(world: World, person: SimulatedPerson, s: Situation, phase: float) -> Truth:
    take_up = base_take_up(person, s)
    if s.cost > 0:
        take_up *= 0.04 if s.on_benefits else 0.8
    return Truth(take_up, 0.8, 0.6)


def _quality_shift(world: World, person: SimulatedPerson, s: Situation, phase: float) -> Truth:
    q = world.hidden("org:" + s.organization)
    if changed_sides(world, s.organization, phase):
        q = -q
    return Truth(base_take_up(person, s), 0.8, float(completion_of_quality(q)))


def _position_bias(world: World, person: SimulatedPerson, s: Situation, phase: float) -> Truth:
    complete = 0.6
    if s.parent in COURSES and s.hours is not None:
        intensive = s.hours >= 15
        complete = (0.1 if intensive else 0.7) if s.young_child else 0.85 if intensive else 0.45
    return Truth(base_take_up(person, s), 0.8, complete)


def zoo(seed: int = 0) -> list[World]:
    """The worlds, in the order the benchmark runs them."""
    doc = {name: line for name, line in _DESCRIPTIONS}
    return [
        World("provider_quality", doc["provider_quality"], _provider_quality, seed=seed),
        World("level_cliff", doc["level_cliff"], _level_cliff, seed=seed),
        World("first_language", doc["first_language"], _first_language, seed=seed),
        World("childcare", doc["childcare"], _childcare, seed=seed),
        World("fees", doc["fees"], _fees, seed=seed),
        World("quality_shift", doc["quality_shift"], _quality_shift, seed=seed),
        World("position_bias", doc["position_bias"], _position_bias, 1.6, seed=seed),
    ]


_DESCRIPTIONS = (
    ("provider_quality", "an organisation's hidden quality decides completion"),
    ("level_cliff", "courses three or more levels up are dropped; the rules like them"),
    ("first_language", "beginners complete only with support in their first language"),
    ("childcare", "parents of small children need childcare to attend a course"),
    ("fees", "people on benefits do not take up offers that cost money"),
    ("quality_shift", "half the organisations change quality half-way through"),
    ("position_bias", "attention falls as 1/rank^1.6; parents drop intensive courses"),
)


def world_named(name: str, seed: int = 0) -> World:
    for world in zoo(seed):
        if world.name == name:
            return world
    raise KeyError(f"no world named {name!r}; one of {', '.join(w.name for w in zoo())}")


# --- judging an order against the truth ------------------------------------------------------


def dcg(values: Sequence[float], k: int = 5) -> float:
    """``Σ value_r / log2(r + 1)`` over the first ``k``."""
    return float(sum(v / math.log2(r + 2) for r, v in enumerate(list(values)[:k])))


def oracle_ratio(served: Sequence[float], candidates: Sequence[float], k: int = 5) -> float | None:
    """DCG of the served top ``k`` (their true values in served order) over the DCG of the
    best ``k`` of all candidates; ``None`` when no candidate has any value."""
    best = dcg(sorted(candidates, reverse=True), k)
    if best <= 0:
        return None
    return dcg(served, k) / best


#: The orders ``ceiling`` judges, each with its need coverage (``matcher.engine.cover_needs``)
#: unless it says otherwise: the truth itself (the most any ranker can reach while every need
#: gets a place within the first ``max(3, needs)``), the model as it serves, the model without
#: coverage, and the model with one of its two halves replaced by the truth.
CEILING_ORDERS: tuple[str, ...] = (
    "truth",
    "model",
    "model, needs not covered",
    "true take-up × model outcome",
    "model take-up × true outcome",
)
#: The order ``ceiling`` adds where the world's outcome hangs on a hidden quality of each
#: organisation (``ORG_QUALITY_WORLDS``): the true take-up times the outcome the best
#: possible learner could know from the run's own referrals (``known_outcomes``).
KNOWN_OUTCOME_ORDER = "true take-up × best-known outcome"


def ceiling(
    world: World,
    person: SimulatedPerson,
    offers: Sequence[Mapping[str, Any]],
    need: np.ndarray,
    n_needs: int,
    take_up: np.ndarray,
    gain: np.ndarray,
    phase: float,
    k: int = 5,
    known: Callable[[str], float] | None = None,
) -> dict[str, float] | None:
    """DCG@``k`` of the true values under each of ``CEILING_ORDERS`` for one person's eligible
    ``offers`` (``need``: the index of the need each serves; ``take_up`` and ``gain``: the
    model's two halves for each), and ``"best"``: the DCG of the best ``k`` regardless of
    needs, the oracle's denominator. None when no offer has any value. With ``known`` (an
    organisation's best-known completion, ``known_outcomes``) also ``KNOWN_OUTCOME_ORDER``.

    Why: a learned order below the target can be short of it because coverage costs (the
    truth's own ratio under coverage), because its take-up half errs, or because its outcome
    half does; swapping each half for the truth says which. And where the outcome half is
    short, the best-known outcome says whether a better learner could do better with the
    same referrals, or whether the referrals themselves are too few."""
    truths = [world.truth(person, offer, phase) for offer in offers]
    value = np.array([t.value for t in truths])
    true_take_up = np.array([t.take_up for t in truths])
    true_gain = np.array([t.gain for t in truths])
    best = dcg(sorted(value.tolist(), reverse=True), k)
    if best <= 0:
        return None

    def covered(score: np.ndarray) -> float:
        order = np.argsort(-score, kind="stable")
        picked = cover_needs(need, order, n_needs, k)
        return dcg(value[picked].tolist(), k)

    model = take_up * gain
    out = {
        "best": best,
        "truth": covered(value),
        "model": covered(model),
        "model, needs not covered": dcg(value[np.argsort(-model, kind="stable")].tolist(), k),
        "true take-up × model outcome": covered(true_take_up * gain),
        "model take-up × true outcome": covered(take_up * true_gain),
    }
    if known is not None:
        best_known = np.array(
            [
                Truth(t.take_up, t.accept, known(situation(person, o).organization)).gain
                for t, o in zip(truths, offers, strict=True)
            ]
        )
        out[KNOWN_OUTCOME_ORDER] = covered(true_take_up * best_known)
    return out


#: Worlds whose outcome hangs on a hidden quality of each organisation, and how: the
#: completion of a referral to an organisation of quality ``q`` at ``phase``.
ORG_QUALITY_WORLDS: dict[str, Callable[[World, str, float, np.ndarray], np.ndarray]] = {
    "provider_quality": lambda world, org, phase, q: completion_of_quality(q),
    "quality_shift": lambda world, org, phase, q: completion_of_quality(
        -q if changed_sides(world, org, phase) else q
    ),
}


def known_outcomes(
    world: World, observed: Sequence[tuple[str, list[tuple[str, str | None]], float]]
) -> Callable[[str], float] | None:
    """What the best possible learner could know of each organisation's completion at the
    end of the run from the run's own referrals (``observed``: organisation, status steps,
    phase): the posterior mean under the world's own prior (quality ~ N(0, 1)) and its own
    outcome model, which it knows exactly (including which organisations change and when).
    Only an enrolment says anything of the quality (completed or dropped); declines,
    rejections and drops before enrolment do not depend on it. None for worlds without a
    hidden organisation quality."""
    complete_of = ORG_QUALITY_WORLDS.get(world.name)
    if complete_of is None:
        return None
    grid = np.linspace(-5.0, 5.0, 801)
    log_prior = -0.5 * grid**2
    by_org: dict[str, list[tuple[bool, float]]] = {}
    for org, steps, phase in observed:
        statuses = [status for status, _ in steps]
        if "enrolled" in statuses:
            by_org.setdefault(org, []).append((statuses[-1] == "completed", phase))
    known: dict[str, float] = {}
    for org, seen in by_org.items():
        log_post = log_prior.copy()
        for completed, phase in seen:
            p = np.clip(complete_of(world, org, phase, grid), 1e-12, 1 - 1e-12)
            log_post += np.log(p if completed else 1 - p)
        w = np.exp(log_post - log_post.max())
        known[org] = float((w * complete_of(world, org, 1.0, grid)).sum() / w.sum())
    # an organisation nobody enrolled with is known only by the prior
    prior = np.exp(log_prior)
    unseen = float((prior * complete_of(world, "", 0.0, grid)).sum() / prior.sum())
    return lambda org: known.get(org, unseen)


# --- the whole loop, through the public API ---------------------------------------------------

#: ``api(method, path, body=None, *, token=None, raw=None, content_type=None)`` →
#: ``(status, parsed body)``: the HTTP API, over a socket (the benchmark) or a test client.
Api = Callable[..., tuple[int, Any]]

SEGMENTS = ("german_level", "gender", "municipality", "parents")


class ApiError(RuntimeError):
    """The API answered something the loop cannot go on with."""


@dataclass
class LearningRun:
    """One world, driven only through the API: an agency's catalogue is imported, counsellors
    ask for suggestions and report what people did, the analyst trains and promotes.

    ``tokens``: ``admin`` (imports, referral steps), ``counsellor`` and ``analyst``."""

    world: World
    api: Api
    tokens: Mapping[str, str]
    seed: int = 0
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Every referral's organisation, the status steps the API recorded and the phase: what
    #: the run's referrals could teach (``known_outcomes``).
    observed: list[tuple[str, list[tuple[str, str | None]], float]] = field(default_factory=list)
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def _call(self, method: str, path: str, body: Any = None, *, who: str, ok=(200, 201)) -> Any:
        status, data = self.api(method, path, body, token=self.tokens[who])
        if status not in ok:
            raise ApiError(f"{method} {path} answered {status}: {str(data)[:300]}")
        return data

    # catalogue ---------------------------------------------------------------------------

    def import_catalogue(self, catalogue: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Import ``(agency, offer)`` pairs, one JSON import per agency."""
        by_agency: dict[str, list[dict[str, Any]]] = {}
        for agency, offer in catalogue:
            by_agency.setdefault(agency, []).append(offer)
        created = 0
        for agency, offers in by_agency.items():
            report = self._call(
                "POST", f"/v1/offers/import?format=json&agency_id={agency}", offers, who="admin"
            )
            created += int(report.get("created", 0))
        return created

    def load_catalogue(self) -> dict[str, dict[str, Any]]:
        """Every offer as served now (ids, capacity), from the export."""
        offers = self._call("GET", "/v1/offers/export?format=json", who="admin")
        self.offers = {str(o["id"]): o for o in offers}
        return self.offers

    def places(self) -> list[Place]:
        """Where people live: the catalogue's municipalities, weighted by their offers."""
        groups: dict[str, list[tuple[float, float]]] = {}
        for o in self.offers.values():
            if o.get("latitude") is not None and o.get("municipality"):
                groups.setdefault(o["municipality"], []).append((o["latitude"], o["longitude"]))
        return [
            Place(
                name,
                float(np.mean([p[0] for p in pts])),
                float(np.mean([p[1] for p in pts])),
                float(len(pts)),
            )
            for name, pts in groups.items()
        ]

    # serving and outcomes ------------------------------------------------------------------

    def recommend(self, person: SimulatedPerson, *, log_person: bool = True) -> dict[str, Any]:
        profile = dict(person.profile)
        if not log_person:
            profile.pop("person_ref", None)
        return self._call(
            "POST", "/v1/recommendations", {"profile": profile, "k": 10}, who="counsellor"
        )

    def serve(self, people: Sequence[SimulatedPerson], start: int, total: int) -> dict[str, int]:
        """Each person asks once and does what the world says with the list; outcomes are
        reported at once. ``start``/``total`` place them in the run (the world's phase)."""
        counts = {"requests": 0, "referrals": 0}
        for i, person in enumerate(people):
            phase = (start + i) / max(total, 1)
            rec = self.recommend(person)
            counts["requests"] += 1
            shown = [self.offers[r["offer_id"]] for r in rec["results"]]
            for offer_id, steps in self.world.respond(person, shown, phase, self.rng):
                recorded = self._refer(rec["request_id"], offer_id, steps)
                organization = str(self.offers[offer_id].get("organization") or "")
                self.observed.append((organization, recorded, phase))
                counts["referrals"] += 1
        return counts

    def _refer(
        self, request_id: str, offer_id: str, steps: list[tuple[str, str | None]]
    ) -> list[tuple[str, str | None]]:
        """Refer and report ``steps``; returns the steps recorded (a provider full by then
        rejects instead of enrolling)."""
        body = {"request_id": request_id, "offer_id": offer_id, "consent": True}
        referral = self._call("POST", "/v1/referrals", body, who="counsellor")
        recorded: list[tuple[str, str | None]] = []
        for status, reason in steps:
            patch = {"status": status, "reason": reason}
            code, data = self.api(
                "PATCH", f"/v1/referrals/{referral['id']}", patch, token=self.tokens["admin"]
            )
            if code == 409 and status == "enrolled":  # full meanwhile: the provider says no
                self._call(
                    "PATCH",
                    f"/v1/referrals/{referral['id']}",
                    {"status": "rejected_by_provider", "reason": "no_capacity"},
                    who="admin",
                )
                return [*recorded, ("rejected_by_provider", "no_capacity")]
            if code != 200:
                raise ApiError(f"PATCH referral {status} answered {code}: {str(data)[:300]}")
            recorded.append((status, reason))
        return recorded

    # the analyst ---------------------------------------------------------------------------

    def train(self, negative_control: str | None = None) -> dict[str, Any]:
        body = {"negative_control": negative_control} if negative_control else {}
        return self._call("POST", "/v1/models/train", body, who="analyst")

    def compare_online(
        self, version: str, share: float, people: int, design: str = "split"
    ) -> dict[str, Any]:
        """Let ``version`` serve ``share`` of the people from now on (an online comparison:
        alone, or interleaved with the active version for ``design="interleave"``), judged
        on the first ``people`` people."""
        body = {"challenger": version, "share": share, "design": design, "people": people}
        return self._call("POST", "/v1/models/experiment", body, who="analyst", ok=(201,))

    def promote(
        self, version: str, *, force: bool = False, online: bool = False
    ) -> tuple[bool, dict[str, Any]]:
        """``(promoted, answer)``: the answer carries the comparison and the decision;
        ``online``: decided on the version's online comparison (outcomes count at once)."""
        body: dict[str, Any] = {"force": True, "reason": "measured anyway"} if force else {}
        if online:
            body.update(evidence="online", matured_days=0)
        status, data = self.api(
            "POST", f"/v1/models/{version}/promote", body, token=self.tokens["analyst"]
        )
        if status not in (200, 409):
            raise ApiError(f"promote answered {status}: {str(data)[:300]}")
        return status == 200, data

    # the truth -----------------------------------------------------------------------------

    def judge(self, people: Sequence[SimulatedPerson], phase: float, k: int = 5) -> dict[str, Any]:
        """The oracle ratio of what the API serves now to ``people`` (asked without a person
        reference, so nothing of it is ever trained on), overall and per segment: DCG of the
        true values of the served top ``k`` over the DCG of the best ``k`` eligible offers."""
        from matcher.profile import resolve_profile, validate_profile
        from matcher.rules import screen
        from matcher.snapshot import Snapshot

        self.load_catalogue()
        snapshot = Snapshot.from_records(list(self.offers.values()))
        totals: dict[str, list[float]] = {"all": [0.0, 0.0]}
        for person in people:
            rec = self.recommend(person, log_person=False)
            resolved = resolve_profile(validate_profile(person.profile))
            eligible = screen(snapshot, resolved).eligible
            candidates = [
                self.world.value(person, self.offers[str(snapshot.ids[r])], phase) for r in eligible
            ]
            served = [
                self.world.value(person, self.offers[r["offer_id"]], phase)
                for r in rec["results"][:k]
            ]
            best = dcg(sorted(candidates, reverse=True), k)
            if best <= 0:
                continue
            got = dcg(served, k)
            for key in ["all", *(f"{seg}={segment_of(person, seg)}" for seg in SEGMENTS)]:
                pair = totals.setdefault(key, [0.0, 0.0])
                pair[0] += got
                pair[1] += best
        ratios = {key: (g / b if b else None) for key, (g, b) in totals.items()}
        people_in = {key: 0 for key in totals}
        for person in people:
            for seg in SEGMENTS:
                key = f"{seg}={segment_of(person, seg)}"
                if key in people_in:
                    people_in[key] += 1
        return {
            "ratio": ratios["all"],
            "segments": {
                key: {"ratio": value, "people": people_in[key]}
                for key, value in ratios.items()
                if key != "all"
            },
        }


def segment_of(person: SimulatedPerson, segment: str) -> str:
    prof = person.profile
    if segment == "parents":
        return "yes" if any(a < 6 for a in prof.get("children_ages") or []) else "no"
    if segment == "municipality":
        return person.municipality
    return str(prof.get(segment))


def people_for(places: Sequence[Place], n: int, seed: int) -> list[SimulatedPerson]:
    """``n`` people near ``places`` (the demo simulation's mix), each knowing the place they
    live near (for the municipality segment)."""
    rng = np.random.default_rng(seed)
    people = draw_people(places, n, rng)
    for person in people:
        loc = person.profile["location"]
        person.municipality = min(
            places,
            key=lambda p: (
                (p.latitude - loc["latitude"]) ** 2 + (p.longitude - loc["longitude"]) ** 2
            ),
        ).name
    return people
