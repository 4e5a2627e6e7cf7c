"""Service areas (an offer responsible for a municipality, district, state or all Germany)
and the professions a recognition offer serves."""

from __future__ import annotations

from catalog.schema import validate_offer
from lotse.errors import InvalidInput
from matcher.engine import explain_row
from matcher.reasons import reasons_for
from matcher.rules import check_offer, screen
from tests.matcher.catalogue import offer, resolved, snapshot_of

WIESBADEN = (50.0782, 8.2398)
MUNICH = (48.1374, 11.5755)


def authority(key: str = "lafp", **overrides):
    """The state office in Wiesbaden that recognises nursing qualifications for all Hesse."""
    base = {
        "title": "Anerkennung als Pflegefachfrau / Pflegefachmann",
        "category": "recognition_procedure",
        "organization": "Hessisches Landesamt für Gesundheit und Pflege",
        "municipality": "Wiesbaden",
        "postcode": "65189",
        "latitude": WIESBADEN[0],
        "longitude": WIESBADEN[1],
        "service_area_type": "state",
        "service_area": "Hessen",
        "professions": ["Pflegefachkraft"],
        "min_german_level": None,
        "max_german_level": None,
        "target_german_level": None,
        "times": [],
        "days": [],
    }
    return offer(key, **{**base, **overrides})


def _rules(offers, **profile):
    s = snapshot_of(offers)
    p = resolved(**profile)
    return s, p, {o.code: o for o in check_offer(s, 0, p, "de")}


def test_a_nurse_in_wetzlar_gets_the_authority_in_wiesbaden_for_all_hesse():
    s, p, rules = _rules([authority()])
    assert rules["distance"].passed  # about 50 km away, beyond the 25 km
    assert rules["distance"].text == "zuständig für ganz Hessen"
    assert rules["profession"].passed
    screening = screen(s, p)
    assert list(screening.eligible) == [0]
    features = explain_row(s, 0, p, "de")
    assert features.eligible


def test_the_reason_names_the_area_and_the_profession():
    import numpy as np

    from matcher.features import feature_matrix

    s, p, _ = _rules([authority()])
    row = feature_matrix(s, np.array([0]), p)[0]
    texts = [r.text for r in reasons_for(s, 0, p, row, "de")]
    assert "zuständig für ganz Hessen" in texts
    assert "für den Beruf Pflegefachkraft" in texts


def test_an_authority_of_another_state_does_not_serve_hesse():
    s, p, rules = _rules(
        [authority(service_area="Bayern", municipality="München", postcode="80331",
                   latitude=MUNICH[0], longitude=MUNICH[1])]
    )  # fmt: skip
    assert not rules["distance"].passed
    assert "nicht für Hessen" in rules["distance"].text
    assert len(screen(s, p).eligible) == 0


def test_all_germany_and_district_areas():
    _s, _p, rules = _rules([authority(service_area_type="country", service_area=None)])
    assert rules["distance"].passed and "ganz Deutschland" in rules["distance"].text
    _s, _p, rules = _rules(
        [authority(service_area_type="district", service_area="Lahn-Dill-Kreis",
                   municipality="Dillenburg", latitude=50.74, longitude=8.29)]
    )  # fmt: skip
    assert rules["distance"].passed  # Wetzlar lies in the Lahn-Dill-Kreis
    _s, _p, rules = _rules(
        [authority(service_area_type="municipality", service_area="Gießen",
                   municipality="Gießen", latitude=50.58, longitude=8.67)],
        max_distance_km=5,
    )  # fmt: skip
    assert not rules["distance"].passed  # Gießen's own office does not serve Wetzlar


def test_a_nurse_is_not_offered_recognition_for_craft_trades():
    crafts = authority(
        "hwk", title="Anerkennungsverfahren für Handwerksberufe", professions=["Handwerksberufe"],
        service_area_type=None, service_area=None, municipality="Wetzlar",
        latitude=50.5558, longitude=8.5047,
    )  # fmt: skip
    s, p, rules = _rules([crafts])
    assert not rules["profession"].passed
    assert "andere Berufe als Pflegefachkraft" in rules["profession"].text
    assert screen(s, p).excluded["profession"] == 1
    # someone without a known profession is not turned away
    _s, _p, rules = _rules([crafts], profession=None, needs=["Anerkennung"])
    assert rules["profession"].passed


def test_service_areas_validate():
    ok = validate_offer(authority())
    assert ok.service_area == "Hessen"
    no_coords = validate_offer(authority(latitude=None, longitude=None))
    assert no_coords.latitude is None  # an area needs no coordinates
    for bad, field in (
        ({"service_area": "Hesse-Nassau"}, "service_area"),
        ({"service_area_type": None}, "service_area_type"),
        ({"service_area_type": "district", "service_area": "Nirgendwo"}, "service_area"),
        ({"service_area_type": "region"}, "service_area_type"),
    ):
        try:
            validate_offer(authority(**bad))
        except InvalidInput as exc:
            assert field in {e.field for e in exc.errors}, exc.errors
        else:
            raise AssertionError(f"{bad} was accepted")
