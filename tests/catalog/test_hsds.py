"""HSDS 3.0: offers written as services valid against the compiled schema, the specification's
own example imported field by field (the rest kept in ``extra``), and HSDS export → import."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from catalog import taxonomy
from catalog.exporting import export_offers
from catalog.hsds import (
    ATTRIBUTE_FIELDS,
    CATEGORY_TAXONOMY,
    FIELD_TAXONOMY,
    TAXONOMIES,
    category_for_term_id,
    category_term_id,
    field_for_term_id,
    offer_to_hsds_service,
    offer_to_hsds_service_at_location,
    service_at_location_id,
    service_of_location_id,
    service_to_offer,
    taxonomy_id,
    taxonomy_record,
    taxonomy_terms,
)
from catalog.importing import import_offers
from catalog.schema import OFFER_FIELDS, validate_offer
from catalog.tables import Offer
from lotse.accounts import Principal
from lotse.db import transaction
from lotse.errors import RejectedImport
from tests.factories import offer_data
from tests.hsds_schemas import assert_valid

ADMIN = Principal(role="admin", name="test")
WETZLAR = {"latitude": 50.5558, "longitude": 8.5047}


@pytest.fixture
def example(hsds_dir: Path) -> dict:
    return json.loads((hsds_dir / "examples/service_full.json").read_text())


def in_germany(service: dict) -> dict:
    """The specification's example, moved to Wetzlar and priced in euros (it is British)."""
    moved = copy.deepcopy(service)
    moved["service_at_locations"][0]["location"].update(WETZLAR)
    moved["cost_options"][0]["currency"] = "EUR"
    return moved


def stored_offer(**overrides) -> dict:
    data = validate_offer(offer_data(**overrides)).model_dump()
    return {
        **data,
        "id": str(uuid.uuid4()),
        "agency_id": "vhs",
        "last_modified": datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC),
        "extra": None,
    }


VARIANTS = [
    {},
    {"online": True, "latitude": None, "longitude": None, "street": None, "postcode": None},
    {"days": [], "times": [], "start_date": None, "end_date": None, "languages": []},
    {"times": ["morning", "evening"], "wheelchair_accessible": True, "phone": "+49 6441 1"},
    {"genders": ["female"], "target_groups": ["women"], "childcare": True, "cost_eur": 12.5},
    {"url": "https://vhs.example", "email": "a@vhs.example", "status": "inactive"},
]


@pytest.mark.parametrize("overrides", VARIANTS)
def test_offers_become_valid_hsds_services(hsds_schemas, overrides):
    offer = stored_offer(**overrides)
    service = offer_to_hsds_service(offer)
    assert_valid(hsds_schemas["service"], service)
    flat = offer_to_hsds_service(offer, nested=False)
    assert_valid(hsds_schemas["service_list"], flat)
    assert_valid(hsds_schemas["service"], flat)
    assert service["id"] == offer["id"] and service["name"] == offer["title"]
    assert service == offer_to_hsds_service(offer)  # derived ids are stable


@pytest.mark.parametrize("overrides", VARIANTS)
def test_hsds_service_reads_back_into_the_same_offer(overrides):
    offer = stored_offer(**overrides)
    data, extra, problems = service_to_offer(offer_to_hsds_service(offer))
    assert problems == []
    back = validate_offer(data).model_dump()
    assert back == {name: offer[name] for name in OFFER_FIELDS}
    attributes = extra["hsds"].get("attributes", [])
    assert [a["taxonomy_term"]["taxonomy"] for a in attributes] == ["lotse-categories"]


def test_category_terms_are_stable_and_reversible():
    assert category_term_id("daycare") == category_term_id("daycare")
    assert category_for_term_id(category_term_id("daycare")) == "daycare"
    assert category_for_term_id(category_term_id("childcare")) == "childcare"
    assert category_for_term_id(str(uuid.uuid4())) is None


def import_hsds(sessions, body: Any, **kwargs):
    with transaction(sessions) as session:
        return import_offers(session, ADMIN, "mycity", json.dumps(body), fmt="hsds", **kwargs)


def test_the_specification_example_imports_field_by_field(sessions, example):
    moved = in_germany(example)
    with pytest.raises(RejectedImport) as info:  # "code" is no Lotse category
        import_hsds(sessions, moved)
    assert info.value.report["rejected"][0]["field"] == "category"
    assert "pass category=CODE" in info.value.report["rejected"][0]["message"]

    report = import_hsds(sessions, moved, category="psychosocial_support")
    assert report.created == 1
    with transaction(sessions) as session:
        offer = session.scalars(select(Offer)).one()
        fields = {name: getattr(offer, name) for name in OFFER_FIELDS}
        extra = offer.extra
    location = moved["service_at_locations"][0]["location"]
    assert fields["external_id"] == moved["id"]
    assert fields["title"] == moved["name"]
    assert fields["description"] == moved["description"].strip()
    assert fields["organization"] == moved["organization"]["name"]
    assert fields["category"] == "psychosocial_support"
    assert fields["municipality"] == location["addresses"][0]["city"]
    assert fields["street"] == location["addresses"][0]["address_1"]
    assert fields["postcode"] is None  # "ABC 1234" is no German postcode; kept in extra
    assert (fields["latitude"], fields["longitude"]) == (50.5558, 8.5047)
    assert fields["languages"] == ["ur"]
    assert (fields["min_age"], fields["max_age"]) == (12, 100)
    assert fields["url"] == moved["url"] and fields["email"] == moved["email"]
    assert fields["phone"] == "+44 1234 234567"
    assert fields["cost_eur"] == 35
    assert fields["days"] == ["thu", "fri"]
    assert fields["times"] == ["morning", "afternoon", "evening"]  # open 10:00–18:00
    assert str(fields["start_date"]) == str(fields["end_date"]) == "2005-01-01"
    assert fields["status"] == "active"
    # everything Lotse does not model is kept
    kept = extra["hsds"]
    for key, value in moved.items():
        if key not in {"id", "name", "description", "url", "email", "status"} | {
            "minimum_age",
            "maximum_age",
        }:
            assert kept[key] == value, key
    assert kept["organization"]["alternate_name"] == "Example Org"

    again = import_hsds(sessions, moved, category="psychosocial_support")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    changed = copy.deepcopy(moved)
    changed["alert"] = "Closed on Friday"
    assert import_hsds(sessions, changed, category="psychosocial_support").updated == 1


def test_the_unmodified_example_is_rejected_as_outside_germany(sessions, example):
    with pytest.raises(RejectedImport) as info:
        import_hsds(sessions, [example], category="psychosocial_support")
    rejected = info.value.report["rejected"]
    assert {r["row"] for r in rejected} == {1}
    by_field = {r["field"]: r["message"] for r in rejected}
    assert by_field["latitude"].startswith("100 is far outside Germany")
    assert "service_at_locations[0].location.latitude" in by_field["latitude"]
    assert "GBP" in by_field["cost_eur"]


def test_schedules_and_odd_values_are_read_sensibly():
    service = {
        "id": "s-1",
        "name": "Sprachcafé",
        "status": "temporarily closed",
        "organization": {"id": "o", "name": "Café International"},
        "minimum_age": 16.0,
        "languages": [{"id": "l", "code": "ARA"}, {"id": "m", "code": "eng"}],
        "schedules": [
            {"id": "a", "byday": "1MO,-1FR", "opens_at": "18:30", "valid_from": "2027-02-01"},
            {"id": "b", "byday": "WE", "opens_at": "09:00:00Z", "closes_at": "11:00:00"},
        ],
        "service_at_locations": [
            {
                "id": "x",
                "location": {
                    "id": "y",
                    "location_type": "virtual",
                    "name": "Gießen",
                    "addresses": [{"id": "z", "postal_code": "D-35390", "city": "Gießen"}],
                },
            }
        ],
        "attributes": [{"id": "t", "taxonomy_term": {"id": "u", "code": "language_cafe"}}],
    }
    data, _extra, problems = service_to_offer(service)
    assert problems == []
    offer = validate_offer(data)
    assert offer.category == "language_cafe" and offer.status == "inactive"
    assert offer.days == ["mon", "wed", "fri"] and offer.times == ["morning", "evening"]
    assert offer.languages == ["ar", "en"] and offer.min_age == 16
    assert offer.online and offer.municipality == "Gießen" and offer.postcode == "35390"
    assert str(offer.start_date) == "2027-02-01"
    _data, _extra, problems = service_to_offer([1, 2])
    assert problems[0].field == "service"


def test_hsds_export_imports_back_into_another_agency(sessions, hsds_schemas):
    rows = [
        offer_data(external_id="a"),
        offer_data(external_id="b", title="Kita Sonne", category="daycare", min_age=0, max_age=6),
    ]
    with transaction(sessions) as session:
        import_offers(session, ADMIN, "vhs", json.dumps(rows), fmt="json")
        services = json.loads("".join(export_offers(session, "hsds", "vhs")))
    assert len(services) == 2
    for service in services:
        assert_valid(hsds_schemas["service"], service)
    report = import_hsds(sessions, services)
    assert report.created == 2 and report.duplicates  # the same offers, by another agency
    with transaction(sessions) as session:
        offers = {(o.agency_id, o.external_id): o for o in session.scalars(select(Offer))}
    for ext in ("a", "b"):
        original, copied = offers[("vhs", ext)], offers[("mycity", ext)]
        for name in OFFER_FIELDS:
            assert getattr(copied, name) == getattr(original, name), name
    assert set(ATTRIBUTE_FIELDS) <= set(OFFER_FIELDS)


@pytest.mark.parametrize("overrides", VARIANTS)
def test_every_offer_has_a_valid_service_at_location(hsds_schemas, overrides):
    offer = stored_offer(**overrides)
    item = offer_to_hsds_service_at_location(offer, nested=False)
    assert_valid(hsds_schemas["service_at_location_list"], item)
    assert "addresses" not in item["location"] and "phones" not in item["service"]
    record = offer_to_hsds_service_at_location(offer)
    assert_valid(hsds_schemas["raw:service_at_location"], record)
    assert_valid(hsds_schemas["service"], record["service"])
    service = offer_to_hsds_service(offer)
    assert "service_at_locations" not in record["service"]  # no cycle
    without_service = {k: v for k, v in record.items() if k != "service"}
    assert service["service_at_locations"] == [without_service]  # the service's own record
    assert record["service_id"] == offer["id"] == item["service"]["id"]


def test_service_at_location_ids_lead_back_to_their_offer():
    offer_id = str(uuid.uuid4())
    record_id = service_at_location_id(offer_id)
    assert record_id != offer_id and uuid.UUID(record_id).version == 4
    assert service_of_location_id(record_id) == offer_id
    assert service_of_location_id("not a uuid") is None
    assert service_at_location_id("not a uuid") == service_at_location_id("not a uuid")


def test_taxonomies_and_terms_are_valid_and_linked(hsds_schemas):
    terms = taxonomy_terms()
    for term in terms:
        assert_valid(hsds_schemas["raw:taxonomy_term"], term)
    for name in TAXONOMIES:
        assert_valid(hsds_schemas["raw:taxonomy"], taxonomy_record(name))
    by_code = {t["code"]: t for t in terms if t["taxonomy"] == CATEGORY_TAXONOMY}
    assert set(by_code) == set(taxonomy.CATEGORIES) | set(taxonomy.PARENTS)
    for code, term in by_code.items():
        if code in taxonomy.PARENTS:
            assert "parent_id" not in term
        else:
            assert term["parent_id"] == by_code[taxonomy.parent(code)]["id"]
        assert term["taxonomy_id"] == taxonomy_id(CATEGORY_TAXONOMY)
    fields = [t for t in terms if t["taxonomy"] == FIELD_TAXONOMY]
    assert [t["code"] for t in fields] == list(ATTRIBUTE_FIELDS)
    assert all(field_for_term_id(t["id"]) == t["code"] for t in fields)
    # the terms a service carries are these very terms
    service = offer_to_hsds_service(stored_offer(wheelchair_accessible=True))
    carried = {a["taxonomy_term_id"]: a["taxonomy_term"] for a in service["attributes"]}
    listed = {t["id"]: t for t in terms}
    assert all(listed[term_id] == term for term_id, term in carried.items())


def test_the_schemas_accept_the_standards_examples_and_catch_a_fault(hsds_schemas, hsds_dir):
    """The validators the tests use are not vacuous: the standard's own examples pass, and a
    record without a required field fails (also through a resolved ``$ref``)."""
    examples = hsds_dir / "examples"
    service = json.loads((examples / "service_full.json").read_text())
    record = json.loads((examples / "service_at_location_full.json").read_text())
    assert_valid(hsds_schemas["service"], service)
    assert_valid(hsds_schemas["raw:service_at_location"], record)
    del record["location"]["location_type"]
    assert not hsds_schemas["raw:service_at_location"].is_valid(record)
    del service["name"]
    assert not hsds_schemas["service"].is_valid(service)


def test_service_areas_and_professions_travel_through_hsds():
    from catalog.hsds import offer_to_hsds_service, service_to_offer
    from catalog.schema import validate_offer
    from tests.factories import offer_data

    data = validate_offer(
        offer_data(
            category="recognition_procedure",
            service_area_type="state",
            service_area="Hessen",
            professions=["Pflegefachkraft"],
        )
    ).model_dump()
    service = offer_to_hsds_service({**data, "id": "00000000-0000-4000-8000-000000000001"})
    assert service["service_areas"][0]["name"] == "Hessen"
    back, _extra, problems = service_to_offer(service)
    assert not problems
    assert back["service_area_type"] == "state" and back["service_area"] == "Hessen"
    assert validate_offer(back).professions == ["Pflegefachkraft"]
    # a foreign publisher's service area, without Lotse's attributes
    foreign = {k: v for k, v in service.items() if k != "attributes"}
    foreign["service_areas"] = [{"id": "x", "name": "Bayern"}]
    read, _extra, _problems = service_to_offer(foreign, category="recognition_procedure")
    assert read["service_area_type"] == "state" and read["service_area"] == "Bayern"
