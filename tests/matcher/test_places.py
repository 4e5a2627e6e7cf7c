"""Place names to coordinates: spelling variants, districts, ambiguity and unknown names."""

from __future__ import annotations

import pytest

from lotse.errors import InvalidInput
from matcher.places import (
    municipality_name,
    municipality_or_none,
    normalise,
    resolve_coordinates,
    resolve_place,
)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Wetzlar", "Wetzlar"),
        ("Nurnberg", "Nürnberg"),
        ("Nürnberg", "Nürnberg"),
        ("Nuernberg", "Nürnberg"),
        ("Muenchen", "München"),
        ("Frankfurt a.M.", "Frankfurt am Main"),
        ("Frankfurt/Main", "Frankfurt am Main"),
        ("Frankfurt", "Frankfurt am Main"),
        ("Frankfurt (Oder)", "Frankfurt (Oder)"),
        ("Hamm", "Hamm"),
        ("Wezlar", "Wetzlar"),
        ("Stutgart", "Stuttgart"),
        ("Stadt Wetzlar", "Wetzlar"),
        ("Hamburg-Wilhelmsburg", "Hamburg-Wilhelmsburg"),
        ("Landkreis Mayen-Koblenz", "Landkreis Mayen-Koblenz"),
        ("Weil der Stadt", "Weil der Stadt"),
    ],
)
def test_spelling_variants_resolve(name, expected):
    assert resolve_place(name).place == expected


def test_the_model_locations_all_resolve():
    for name in (
        "Berlin Tempelhof-Schöneberg", "Freiburg", "Stuttgart", "Nürnberg", "München",
        "Hamburg-Wilhelmsburg", "Wiesbaden", "Wetzlar", "Hannover", "Göttingen", "Hamm",
        "Essen", "Landkreis Mayen-Koblenz", "Ludwigshafen", "Neumünster", "Leipzig", "Stendal",
        "Saarbrücken",
    ):  # fmt: skip
        place = resolve_place(name)
        assert 47 < place.latitude < 55.3 and 5.5 < place.longitude < 15.3, name


def test_hamm_is_the_city_in_westphalia():
    assert resolve_place("Hamm").latitude == pytest.approx(51.68, abs=0.05)


def test_districts_resolve_to_their_part_of_the_city():
    place = resolve_place("Berlin Tempelhof-Schöneberg")
    assert place.place.startswith("Berlin")
    assert place.latitude == pytest.approx(52.48, abs=0.05)
    assert resolve_place("Hamburg Altona").place == "Hamburg-Altona"


def test_ambiguous_name_lists_candidates():
    with pytest.raises(InvalidInput) as info:
        resolve_place("Neustadt")
    err = info.value.errors[0]
    assert err.field == "location.place"
    assert "ambiguous" in err.message and "Neustadt an der Weinstraße" in err.message


def test_unknown_name_lists_closest():
    with pytest.raises(InvalidInput) as info:
        resolve_place("Atlantis", field="profile.location.place")
    err = info.value.errors[0]
    assert err.field == "profile.location.place"
    assert "unknown place 'Atlantis'; closest:" in err.message


def test_coordinates_are_echoed_with_the_nearest_town():
    place = resolve_coordinates(50.556, 8.505)
    assert place.place == "Wetzlar" and place.latitude == 50.556


def test_normalise_reads_abbreviations():
    assert normalise("Frankfurt a. M.") == normalise("Frankfurt am Main") == "frankfurt main"
    assert normalise("Halle (Saale)") == normalise("Halle an der Saale")
    assert normalise("Freiburg i. Br.") == normalise("Freiburg im Breisgau")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Nurnberg", "Nürnberg"),
        ("Frankfurt a.M.", "Frankfurt am Main"),
        ("Frankfurt (Oder)", "Frankfurt (Oder)"),
        ("Hamburg-Wilhelmsburg", "Hamburg"),
        ("Berlin Tempelhof-Schöneberg", "Berlin"),
        ("Berlin (Tempelhof, Schöneberg)", "Berlin"),  # a label the matcher gives back
        ("Bremerhaven", "Bremerhaven"),
        ("Bremen", "Bremen"),
        ("Landkreis Mayen-Koblenz", "Landkreis Mayen-Koblenz"),
        ("WETZLAR", "Wetzlar"),
    ],
)
def test_municipalities_by_their_official_name(name, expected):
    assert municipality_name(name) == expected
    assert municipality_or_none(name) == expected


@pytest.mark.parametrize("name", ["Neustadt", "Frau Yilmaz' Wohnheim", "", "  ", None, "unknown"])
def test_no_municipality_for_unknown_or_ambiguous_names(name):
    assert municipality_or_none(name) is None
    if name and name.strip():
        with pytest.raises(InvalidInput) as exc:
            municipality_name(name, field="municipality")
        assert exc.value.errors[0].field == "municipality"
