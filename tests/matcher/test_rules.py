"""The hard rules: vectorised masks agree with a plain per-offer reading of each rule, on
random offers and profiles (hypothesis), and exclusions are counted under the first rule."""

from __future__ import annotations

import math
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import taxonomy, vocab
from catalog.schema import validate_offer
from matcher.profile import resolve_profile, validate_profile
from matcher.rules import RULE_CODES, check_offer, screen
from matcher.snapshot import Snapshot
from tests.factories import offer_data
from tests.matcher.catalogue import TODAY

LEVEL = vocab.LEVEL_RANK


def subset(values):
    return st.lists(st.sampled_from(values), unique=True, max_size=len(values))


@st.composite
def offers(draw, i: int = 0):
    online = draw(st.booleans())
    has_place = not online or draw(st.booleans())
    lo_age = draw(st.none() | st.integers(0, 70))
    hi_age = draw(st.none() | st.integers(lo_age or 0, 90))
    levels = sorted(
        draw(st.lists(st.sampled_from(vocab.GERMAN_LEVELS), min_size=2, max_size=2)), key=LEVEL.get
    )
    start = draw(st.none() | st.dates(TODAY - timedelta(days=60), TODAY + timedelta(days=120)))
    end = draw(
        st.none() | st.dates(start or TODAY - timedelta(days=30), TODAY + timedelta(days=365))
    )
    free = draw(st.none() | st.integers(0, 5))
    data = offer_data(
        external_id=f"o{i}",
        category=draw(st.sampled_from(taxonomy.CATEGORIES)),
        online=online,
        latitude=draw(st.floats(49.5, 51.5)) if has_place else None,
        longitude=draw(st.floats(7.0, 10.0)) if has_place else None,
        min_age=lo_age,
        max_age=hi_age,
        genders=draw(subset(vocab.GENDERS)),
        residence_statuses=draw(subset(vocab.RESIDENCE_STATUSES)),
        benefits_required=draw(subset(vocab.BENEFITS)),
        min_german_level=draw(st.none() | st.just(levels[0])),
        max_german_level=draw(st.none() | st.just(levels[1])),
        literacy_required=draw(st.booleans()),
        days=draw(subset(vocab.DAYS)),
        times=draw(subset(vocab.TIMES)),
        start_date=start,
        end_date=end,
        capacity_free=free,
        capacity_total=None if free is None else free + draw(st.integers(0, 5)),
        wheelchair_accessible=draw(st.booleans()),
        status=draw(st.sampled_from(vocab.STATUSES)),
    )
    return {**validate_offer(data).model_dump(), "id": f"o{i}"}


@st.composite
def profiles(draw):
    benefits = draw(st.sampled_from([[], ["none"], ["sgb2"], ["asylblg"], ["sgb2", "asylblg"]]))
    return validate_profile(
        {
            "age": draw(st.integers(0, 90)),
            "gender": draw(st.sampled_from(vocab.GENDERS)),
            "location": {
                "latitude": draw(st.floats(50.3, 50.9)),
                "longitude": draw(st.floats(8.2, 8.8)),
            },
            "max_distance_km": draw(st.floats(1, 150)),
            "online_ok": draw(st.booleans()),
            "residence_status": draw(st.none() | st.sampled_from(vocab.RESIDENCE_STATUSES)),
            "german_level": draw(st.sampled_from(vocab.GERMAN_LEVELS)),
            "literate": draw(st.booleans()),
            "children_ages": draw(st.lists(st.integers(0, 17), max_size=3)),
            "needs": draw(
                st.lists(
                    st.sampled_from(taxonomy.CATEGORIES + taxonomy.PARENTS),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            ),
            "benefits": benefits,
            "availability": {"days": draw(subset(vocab.DAYS)), "times": draw(subset(vocab.TIMES))},
            "wheelchair": draw(st.booleans()),
            "earliest_start": draw(st.none() | st.dates(TODAY, TODAY + timedelta(days=90))),
        }
    )


def haversine(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, a)))


def reference(o: dict, prof, today: date) -> dict[str, bool]:
    """Each rule read literally from its description (docs/matching.md), one offer at a time."""
    leaves = {leaf for need in prof.needs for leaf in taxonomy.expand(need)}
    childcare = taxonomy.PARENT_OF[o["category"]] == "childcare"
    lo, hi = o["min_age"] or 0, 200 if o["max_age"] is None else o["max_age"]
    has_place = o["latitude"] is not None
    near = (
        has_place
        and haversine(
            prof.location.latitude, prof.location.longitude, o["latitude"], o["longitude"]
        )
        <= prof.max_distance_km
    )
    online = o["online"] and prof.online_ok
    avail = prof.availability
    return {
        "category": o["category"] in leaves,
        "active": o["status"] == "active" and (o["end_date"] is None or o["end_date"] >= today),
        "age": childcare or lo <= prof.age <= hi,
        "gender": not o["genders"] or prof.gender in o["genders"],
        "residence_status": not o["residence_statuses"]
        or prof.residence_status in o["residence_statuses"],
        "benefits": not o["benefits_required"]
        or bool(set(o["benefits_required"]) & set(prof.benefits or ["none"])),
        "german_level": LEVEL[o["min_german_level"] or "none"]
        <= LEVEL[prof.german_level]
        <= LEVEL[o["max_german_level"] or "C2"],
        "literacy": not o["literacy_required"] or prof.literate,
        "distance": near or online,
        "schedule": (not avail.days or not o["days"] or bool(set(avail.days) & set(o["days"])))
        and (not avail.times or not o["times"] or bool(set(avail.times) & set(o["times"]))),
        "start": prof.earliest_start is None
        or o["start_date"] is None
        or o["start_date"] >= prof.earliest_start,
        "wheelchair": not prof.wheelchair or o["wheelchair_accessible"] or online,
        "child_age": not childcare
        or not prof.children_ages
        or any(lo <= c <= hi for c in prof.children_ages),
        # no offer of the strategy names professions or a service area
        "profession": not o.get("professions"),
        "capacity": o["capacity_free"] != 0,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=12, unique=True).flatmap(
        lambda keys: st.tuples(*[offers(i) for i in keys])
    ),
    profiles(),
)
def test_masks_agree_with_the_rules_read_literally(catalogue, prof):
    s = Snapshot.from_records(list(catalogue), seq=1)
    p = resolve_profile(prof, today=TODAY)
    screening = screen(s, p)
    expected_counts = dict.fromkeys(RULE_CODES, 0)
    eligible, waitlist = set(), set()
    for o in catalogue:
        want = reference(o, prof, TODAY)
        got = {r.code: r.passed for r in check_offer(s, s.row_of[o["id"]], p)}
        assert got == want, o
        failed = [code for code in RULE_CODES if not want[code]]
        if failed:
            expected_counts[failed[0]] += 1
        if not failed:
            eligible.add(o["id"])
        if failed == ["capacity"]:
            waitlist.add(o["id"])
    assert screening.excluded == expected_counts
    assert {str(s.ids[r]) for r in screening.eligible} == eligible
    assert {str(s.ids[r]) for r in screening.waitlist} == waitlist
    assert sum(screening.excluded.values()) + len(screening.eligible) == len(catalogue)


@settings(max_examples=60, deadline=None)
@given(offers(), profiles(), st.sampled_from(["en", "de"]))
def test_every_rule_explains_itself_in_both_languages(o, prof, lang):
    s = Snapshot.from_records([o], seq=1)
    outcomes = check_offer(s, 0, resolve_profile(prof, today=TODAY), lang)
    assert [r.code for r in outcomes] == list(RULE_CODES)
    assert all(r.text and "{" not in r.text for r in outcomes)


def test_childcare_age_limits_are_the_childs():
    kita = {
        **offer_data(
            category="daycare",
            min_age=1,
            max_age=6,
            min_german_level=None,
            max_german_level=None,
            target_german_level=None,
        ),
        "id": "kita",
    }
    s = Snapshot.from_records([kita])
    base = {
        "age": 34,
        "location": {"latitude": 50.5558, "longitude": 8.5047},
        "needs": ["childcare"],
    }
    for kids, ok in (([2], True), ([7], False), ([0], False), ([], True), ([0, 6], True)):
        p = resolve_profile(validate_profile({**base, "children_ages": kids}), today=TODAY)
        got = {r.code: r.passed for r in check_offer(s, 0, p)}
        assert got["age"] and got["child_age"] == ok, kids


def test_unknown_residence_status_fails_only_restricted_offers():
    open_ = {**offer_data(), "id": "open"}
    only = {**offer_data(external_id="x", residence_statuses=["recognised_refugee"]), "id": "only"}
    s = Snapshot.from_records([open_, only])
    p = resolve_profile(
        validate_profile(
            {
                "age": 30,
                "location": {"latitude": 50.5558, "longitude": 8.5047},
                "needs": ["language"],
            }
        ),
        today=TODAY,
    )
    assert [str(s.ids[r]) for r in screen(s, p).eligible] == ["open"]
