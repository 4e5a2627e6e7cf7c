"""The profile validator: clear errors by dotted field, defaults, normalisation; property
tests that every valid profile passes and every out-of-range value is named."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog import vocab
from lotse.errors import InvalidInput
from matcher.profile import DEFAULT_MAX_DISTANCE_KM, resolve_profile, validate_profile
from tests.matcher.catalogue import TODAY, nurse_profile


def errors_of(data, prefix: str = "") -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        validate_profile(data, prefix)
    return {e.field: e.message for e in info.value.errors}


def test_valid_profile_with_defaults():
    p = validate_profile({"age": 30, "location": {"place": "Wetzlar"}, "needs": ["Kita"]})
    assert p.max_distance_km == DEFAULT_MAX_DISTANCE_KM
    assert p.gender == "unspecified" and p.german_level == "none" and p.literate
    assert p.availability.days == [] and p.children_ages == []


def test_lists_accept_the_csv_form_and_are_normalised():
    p = validate_profile(
        nurse_profile(languages="AR; en", children_ages=[5, 2], needs="Kita; Arbeit")
    )
    assert p.languages == ["ar", "en"]
    assert p.children_ages == [2, 5]
    assert p.needs == ["Kita", "Arbeit"]


def test_errors_name_dotted_fields():
    errs = errors_of(
        nurse_profile(
            age=-1,
            german_level="B3",
            location={"place": ""},
            availability={"days": ["monday"]},
            children_ages=[2, "x"],
            hobby="chess",
        )
    )
    assert set(errs) == {
        "age",
        "german_level",
        "location.place",
        "availability.days.0",
        "children_ages.1",
        "hobby",
    }
    assert "A2" in errs["german_level"] and errs["hobby"] == "unknown field"


def test_location_needs_a_place_or_both_coordinates():
    assert "place" in errors_of(nurse_profile(location={}))["location"]
    assert "together" in errors_of(nurse_profile(location={"latitude": 50.5}))["location"]
    assert (
        "outside Germany"
        in errors_of(nurse_profile(location={"latitude": 51.5, "longitude": -0.1}))["location"]
    )


def test_needs_are_required_and_bounded():
    assert errors_of(nurse_profile(needs=[]))["needs"]
    assert "needs" in errors_of(nurse_profile(needs=[f"need {i}" for i in range(11)]))
    assert "needs" in errors_of({"age": 3, "location": {"place": "Wetzlar"}})


def test_child_ages_and_languages_checked():
    assert "between 0 and 17" in errors_of(nurse_profile(children_ages=[18]))["children_ages"]
    assert "xx" in errors_of(nurse_profile(languages=["ar", "xx"]))["languages"]


def test_none_benefit_alone():
    assert "none" in errors_of(nurse_profile(benefits=["none", "sgb2"]))["benefits"]


def test_prefix_for_nested_profiles():
    assert "profile.age" in errors_of(nurse_profile(age=200), prefix="profile.")
    assert "profile" in errors_of([], prefix="profile.")


def test_resolution_errors_are_reported_together():
    with pytest.raises(InvalidInput) as info:
        resolve_profile(
            validate_profile(
                nurse_profile(location={"place": "Neustadt"}, needs=["Kita", "blabla"])
            ),
            today=TODAY,
        )
    fields = {e.field: e.message for e in info.value.errors}
    assert set(fields) == {"location.place", "needs.1"}
    assert "Neustadt an der Weinstraße" in fields["location.place"]
    assert "did you mean" in fields["needs.1"]


valid_profiles = st.fixed_dictionaries(
    {
        "age": st.integers(0, 120),
        "location": st.one_of(
            st.fixed_dictionaries({"place": st.sampled_from(["Wetzlar", "Nürnberg", "Hamm"])}),
            st.fixed_dictionaries({"latitude": st.floats(47.5, 55), "longitude": st.floats(6, 15)}),
        ),
        "needs": st.lists(st.sampled_from(["Kita", "language", "Arbeit"]), min_size=1, max_size=10),
    },
    optional={
        "gender": st.sampled_from(vocab.GENDERS),
        "german_level": st.sampled_from(vocab.GERMAN_LEVELS),
        "residence_status": st.none() | st.sampled_from(vocab.RESIDENCE_STATUSES),
        "children_ages": st.lists(st.integers(0, 17), max_size=15),
        "max_distance_km": st.floats(0.1, 1000),
        "availability": st.fixed_dictionaries(
            {
                "days": st.lists(st.sampled_from(vocab.DAYS), unique=True),
                "times": st.lists(st.sampled_from(vocab.TIMES), unique=True),
            }
        ),
        "benefits": st.sampled_from([[], ["none"], ["sgb2", "asylblg"]]),
        "online_ok": st.booleans(),
        "wheelchair": st.booleans(),
        "languages": st.lists(st.sampled_from(["ar", "fa", "uk", "de", "ti"]), unique=True),
    },
)


@settings(max_examples=200, deadline=None)
@given(valid_profiles)
def test_every_valid_profile_passes(data):
    p = validate_profile(data)
    assert p.children_ages == sorted(p.children_ages)


@settings(max_examples=200, deadline=None)
@given(
    valid_profiles,
    st.sampled_from(
        [
            ("age", st.integers(121, 10**6) | st.integers(-(10**6), -1)),
            (
                "german_level",
                st.text(min_size=1).filter(lambda t: t.strip() not in vocab.GERMAN_LEVELS),
            ),
            ("gender", st.text().filter(lambda t: t.strip() not in vocab.GENDERS)),
            (
                "max_distance_km",
                st.floats(max_value=0) | st.floats(min_value=1000.001, allow_infinity=False),
            ),
            (
                "online_ok",
                st.text(min_size=3).filter(
                    lambda t: t.lower() not in {"true", "false", "yes", "off", "on"}
                ),
            ),
        ]
    ).flatmap(lambda pair: st.tuples(st.just(pair[0]), pair[1])),
)
def test_every_bad_value_is_named(data, bad):
    field, value = bad
    errs = errors_of({**data, field: value})
    assert field in errs
