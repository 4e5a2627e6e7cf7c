"""Likely duplicates across the catalogue: blocks, the provider rule, different runs, and the
blocking shortcuts never losing a pair a brute-force comparison would find."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.duplicates import (
    DUPLICATE_THRESHOLD,
    SAME_PROVIDER_THRESHOLD,
    distinct_runs,
    duplicate_pairs,
    find_duplicate_pairs,
    normalise,
    similarity,
    sketch,
)
from catalog.importing import import_offers
from lotse.accounts import Principal
from lotse.db import transaction
from tests.factories import offer_data

VHS = offer_data()
TWIN = offer_data(
    title="Allgemeiner Integrationskurs, Volkshochschule Wetzlar",
    organization="Volkshochschule Wetzlar",
)


def pairs_of(*offers: dict, threshold: float = DUPLICATE_THRESHOLD) -> set[tuple[int, int]]:
    sketches = [sketch(i, o) for i, o in enumerate(offers)]
    return {(i, j) for i, j, _sim in duplicate_pairs(sketches, threshold)}


def test_the_example_pair_is_found_with_its_similarity():
    sketches = [sketch("a", VHS), sketch("b", TWIN)]
    assert find_duplicate_pairs(sketches) == [("a", "b", 1.0)]


@pytest.mark.parametrize(
    "change,found",
    [
        ({}, True),
        ({"municipality": "Gießen"}, False),
        ({"category": "integration_course_intensive"}, True),  # same provider, same title
        (
            {"category": "integration_course_intensive", "title": "Intensiver Integrationskurs"},
            False,
        ),
        ({"start_date": "2027-02-01"}, True),  # 21 days later: the same run
        ({"start_date": "2027-02-02"}, False),  # 22 days: another run
        ({"start_date": None}, True),
        ({"days": ["sat"]}, False),
        ({"days": ["mon", "sat"]}, True),
        ({"times": ["evening"]}, False),
        ({"title": "Allgemeiner Integrationskurs 2, Volkshochschule Wetzlar"}, True),
        ({"title": "Sprachcafé für Frauen"}, False),
    ],
)
def test_what_counts_as_the_same_offer(change, found):
    assert bool(pairs_of(VHS, {**TWIN, **change})) is found


def test_numbers_in_titles_tell_offers_apart():
    a = offer_data(title="Berufssprachkurs B1 (Kurs 3)")
    assert pairs_of(a, {**a, "title": "Berufssprachkurs B1 (Kurs 3)"})
    assert not pairs_of(a, {**a, "title": "Berufssprachkurs B2 (Kurs 3)"})
    assert not pairs_of(a, {**a, "title": "Berufssprachkurs B1 (Kurs 4)"})
    assert pairs_of(a, {**a, "title": "Berufssprachkurs (Kurs)"})  # no number to tell apart


def test_one_provider_across_categories_only_for_near_identical_titles():
    a = offer_data(title="Migrationsberatung für Erwachsene", category="migration_counselling")
    same = {**a, "category": "social_counselling"}
    assert pairs_of(a, same) == {(0, 1)}
    similar = {**same, "title": "Migrationsberatung für junge Erwachsene"}
    assert similarity(normalise(a["title"]), normalise(similar["title"])) < SAME_PROVIDER_THRESHOLD
    assert pairs_of(a, similar) == set()


def test_involved_limits_pairs_to_the_new_offers():
    offers = [VHS, TWIN, {**VHS, "organization": "VHS Wetzlar e.V."}]
    sketches = [sketch(i, o) for i, o in enumerate(offers)]
    assert {(i, j) for i, j, _ in duplicate_pairs(sketches)} == {(0, 1), (0, 2), (1, 2)}
    involved = np.array([False, False, True])
    assert {(i, j) for i, j, _ in duplicate_pairs(sketches, involved=involved)} == {(0, 2), (1, 2)}
    with pytest.raises(ValueError):
        duplicate_pairs(sketches, threshold=0)


def test_catalogue_wide_pairs_from_the_database(sessions):
    rows = [
        {**VHS, "external_id": "a"},
        {**TWIN, "external_id": "b"},
        {**VHS, "external_id": "c", "title": "Kita Sonnenschein", "category": "daycare"},
    ]
    with transaction(sessions) as session:
        import_offers(session, Principal("admin"), "vhs", json.dumps(rows), fmt="json")
        found = find_duplicate_pairs(session)
        ids = {o: i for i, o in session.execute(_ids_sql()).all()}
    assert [(ids[a], ids[b]) for a, b, _ in found] in ([("a", "b")], [("b", "a")])


def _ids_sql():
    from sqlalchemy import select

    from catalog.tables import Offer

    return select(Offer.external_id, Offer.id)


WORDS = ["Integrationskurs", "VHS", "Volkshochschule", "Wetzlar", "allgemein", "Kurs", "2", "B1"]


@st.composite
def look_alikes(draw) -> dict:
    start = draw(st.none() | st.integers(0, 150))
    return {
        "title": " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5))),
        "organization": draw(st.sampled_from(["VHS Wetzlar", "Volkshochschule Wetzlar", "AWO"])),
        "municipality": draw(st.sampled_from(["Wetzlar", "wetzlar", "Gießen"])),
        "category": draw(st.sampled_from(["integration_course", "language_cafe"])),
        "start_date": None if start is None else date(2027, 1, 1) + timedelta(start),
        "days": draw(st.lists(st.sampled_from(["mon", "tue"]), unique=True)),
        "times": [],
    }


@settings(max_examples=80, deadline=None)
@given(offers=st.lists(look_alikes(), max_size=16), involved_bits=st.integers(0, 65535))
def test_blocking_finds_exactly_what_brute_force_finds(offers, involved_bits):
    sketches = [sketch(i, o) for i, o in enumerate(offers)]
    involved = np.array([bool(involved_bits >> i & 1) for i in range(len(offers))], dtype=bool)
    expected = set()
    for i, j in itertools.combinations(range(len(sketches)), 2):
        a, b = sketches[i], sketches[j]
        if not (involved[i] or involved[j]) or a.municipality != b.municipality:
            continue
        same_block = a.category == b.category and similarity(a.key, b.key) >= DUPLICATE_THRESHOLD
        same_provider = (
            a.category != b.category
            and a.provider == b.provider
            and similarity(a.title_key, b.title_key) >= SAME_PROVIDER_THRESHOLD
        )
        if (same_block or same_provider) and not distinct_runs(a, b):
            expected.add((i, j))
    found = {(i, j) for i, j, _ in duplicate_pairs(sketches, involved=involved)}
    assert found == expected
