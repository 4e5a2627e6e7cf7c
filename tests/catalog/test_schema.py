"""The offer validator: every rule of the contract pinned at its edge."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from catalog import schema, vocab
from catalog.schema import validate_offer
from lotse.errors import InvalidInput
from tests.factories import offer_data


def errors_of(**overrides) -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        validate_offer(offer_data(**overrides))
    return {e.field: e.message for e in info.value.errors}


def test_valid_offer_passes_and_normalises_lists():
    offer = validate_offer(offer_data(languages="de; AR;de", days="mon;tue"))
    assert offer.languages == ["de", "ar"]
    assert offer.days == ["mon", "tue"]


def test_min_age_above_max_age():
    assert "above max_age" in errors_of(min_age=30, max_age=27)["min_age"]
    validate_offer(offer_data(min_age=27, max_age=27))  # equal is a one-year window


def test_capacity_free_above_total():
    assert "capacity_free" in errors_of(capacity_total=5, capacity_free=6)
    validate_offer(offer_data(capacity_total=5, capacity_free=5))


def test_end_before_start():
    assert (
        "before start_date" in errors_of(start_date="2027-02-01", end_date="2027-01-31")["end_date"]
    )
    validate_offer(offer_data(start_date="2027-02-01", end_date="2027-02-01"))


def test_unknown_language_code():
    assert "xx" in errors_of(languages=["de", "xx"])["languages"]


def test_unknown_category_gets_did_you_mean():
    msg = errors_of(category="integration_cours")["category"]
    assert "did you mean" in msg and "integration_course" in msg


def test_parent_code_is_not_an_offer_category():
    assert "parent code" in errors_of(category="language")["category"]


def test_coordinates_far_outside_germany():
    errs = errors_of(latitude=51.5, longitude=-0.12)  # London
    assert "outside Germany" in errs["longitude"]


def test_coordinates_come_in_pairs_and_are_needed_unless_online():
    assert "together" in errors_of(longitude=None)["longitude"]
    assert "coordinates" in errors_of(latitude=None, longitude=None)["latitude"]
    validate_offer(offer_data(latitude=None, longitude=None, online=True))


def test_empty_german_level_window():
    assert "empty" in errors_of(min_german_level="B1", max_german_level="A2")["max_german_level"]


def test_closed_vocabularies_name_the_choices():
    errs = errors_of(days=["monday"], genders=["woman"], status="archived")
    assert "mon" in errs["days.0"]
    assert "female" in errs["genders.0"]
    assert "active" in errs["status"]


def test_unknown_field_is_rejected():
    assert errors_of(colour="blue")["colour"] == "unknown field"


def test_missing_required_fields():
    data = offer_data()
    del data["title"], data["category"]
    with pytest.raises(InvalidInput) as info:
        validate_offer(data)
    assert {e.field for e in info.value.errors} == {"title", "category"}


def test_contact_fields():
    errs = errors_of(email="nope", url="ftp://x", phone="call me", postcode="3557")
    assert set(errs) == {"email", "url", "phone", "postcode"}


def test_literals_match_vocabularies():
    assert set(schema.GermanLevel.__args__) == set(vocab.GERMAN_LEVELS)
    assert set(schema.Day.__args__) == set(vocab.DAYS)
    assert set(schema.Time.__args__) == set(vocab.TIMES)
    assert set(schema.Gender.__args__) == set(vocab.GENDERS)
    assert set(schema.ResidenceStatus.__args__) == set(vocab.RESIDENCE_STATUSES)
    assert set(schema.TargetGroup.__args__) == set(vocab.TARGET_GROUPS)


@given(lo=st.integers(0, 120), hi=st.integers(0, 120))
def test_age_window_property(lo, hi):
    data = offer_data(min_age=lo, max_age=hi)
    if lo <= hi:
        assert validate_offer(data).min_age == lo
    else:
        with pytest.raises(InvalidInput):
            validate_offer(data)


@given(lo=st.sampled_from(vocab.GERMAN_LEVELS), hi=st.sampled_from(vocab.GERMAN_LEVELS))
def test_level_window_property(lo, hi):
    data = offer_data(min_german_level=lo, max_german_level=hi)
    if vocab.LEVEL_RANK[lo] <= vocab.LEVEL_RANK[hi]:
        validate_offer(data)
    else:
        with pytest.raises(InvalidInput):
            validate_offer(data)


@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180))
def test_coordinates_property(lat, lon):
    inside = vocab.GERMANY_LAT[0] <= lat <= vocab.GERMANY_LAT[1] and (
        vocab.GERMANY_LON[0] <= lon <= vocab.GERMANY_LON[1]
    )
    data = offer_data(latitude=lat, longitude=lon)
    if inside:
        validate_offer(data)
    else:
        with pytest.raises(InvalidInput):
            validate_offer(data)


def test_field_and_cross_field_errors_come_together():
    errs = errors_of(languages=["xx"], capacity_total=15, capacity_free=20, category="kitas")
    assert {"languages", "capacity_free", "category"} <= set(errs)


def test_cross_field_check_skipped_when_its_input_is_bad():
    errs = errors_of(online="maybe", latitude=None, longitude=None)
    assert set(errs) == {"online"}


@pytest.mark.parametrize("name", schema._OPTIONAL)
@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_optional_field_counts_as_left_out(name, blank):
    # every optional field rejects a blank value on its own, which is what lets
    # validate_offer look for blanks only after a failed validation
    pair = {"latitude", "longitude"} if name in ("latitude", "longitude") else {name}
    data = offer_data(online=True)
    left_out = {k: v for k, v in data.items() if k not in pair}
    data.update(dict.fromkeys(pair, blank))  # coordinates come together
    assert validate_offer(data) == validate_offer(left_out)
    with pytest.raises(ValidationError):
        schema.OfferIn.model_validate({**left_out, name: blank})
