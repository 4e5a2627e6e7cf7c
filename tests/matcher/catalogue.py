"""A small hand-made catalogue around Wetzlar and the Syrian-nurse profile of the demo scenario.

``SCENARIO`` holds offers by key; each test bends one of them. ``snapshot_of`` builds a
snapshot without a database; ``store_offers`` writes offers through the catalogue's own API.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from catalog.store import create_offer
from lotse.accounts import Principal
from matcher.profile import ResolvedProfile, resolve_profile, validate_profile
from matcher.snapshot import Snapshot
from tests.factories import WETZLAR, offer_data

TODAY = date(2026, 12, 1)
GIESSEN = (50.5873, 8.6755)
HAMBURG = (53.5507, 9.9930)
ADMIN = Principal(role="admin", name="test")


def offer(key: str, **overrides: Any) -> dict[str, Any]:
    """A valid offer (``tests.factories.offer_data``) with ``external_id`` = ``key``."""
    return offer_data(external_id=key, **overrides)


NO_LEVEL = {"min_german_level": None, "max_german_level": None, "target_german_level": None}

SCENARIO: dict[str, dict[str, Any]] = {
    "ik-wetzlar": offer("ik-wetzlar"),
    "bsk-pflege": offer(
        "bsk-pflege",
        title="Berufssprachkurs Pflege A2–B1",
        category="job_language_course",
        min_german_level="A2",
        max_german_level="A2",
        target_german_level="B1",
        times=["evening"],
        languages=["de"],
    ),
    "c1-wetzlar": offer(
        "c1-wetzlar",
        title="Berufssprachkurs C1 – VHS Wetzlar",
        category="job_language_course",
        min_german_level="B2",
        max_german_level="B2",
        target_german_level="C1",
    ),
    "ik-hamburg": offer(
        "ik-hamburg",
        title="Integrationskurs allgemein – VHS Hamburg",
        organization="VHS Hamburg",
        municipality="Hamburg",
        postcode="20095",
        latitude=HAMBURG[0],
        longitude=HAMBURG[1],
    ),
    "kita-wetzlar": offer(
        "kita-wetzlar",
        title="Kita Sonnenschein",
        category="daycare",
        organization="Stadt Wetzlar",
        min_age=1,
        max_age=6,
        times=["morning", "afternoon"],
        start_date=None,
        end_date=None,
        **NO_LEVEL,
    ),
    "tagesmutter": offer(
        "tagesmutter",
        title="Kindertagespflege Müller",
        category="childminder",
        min_age=0,
        max_age=3,
        latitude=50.5601,
        longitude=8.4890,
        start_date=None,
        end_date=None,
        capacity_total=5,
        capacity_free=1,
        **NO_LEVEL,
    ),
    "iq-beratung": offer(
        "iq-beratung",
        title="Anerkennungsberatung Gesundheitsberufe – IQ Netzwerk Hessen",
        category="recognition_counselling",
        organization="IQ Netzwerk Hessen",
        municipality="Gießen",
        postcode="35390",
        latitude=GIESSEN[0],
        longitude=GIESSEN[1],
        min_age=18,
        start_date=None,
        end_date=None,
        capacity_free=None,
        capacity_total=None,
        **NO_LEVEL,
    ),
    "anpassung-pflege": offer(
        "anpassung-pflege",
        title="Anpassungsqualifizierung Pflege",
        category="adaptation_qualification",
        min_german_level="B1",
        max_german_level=None,
        target_german_level=None,
    ),
    "jugend-ik": offer(
        "jugend-ik",
        title="Jugendintegrationskurs",
        category="integration_course_youth",
        min_age=16,
        max_age=27,
    ),
    "ik-voll": offer("ik-voll", title="Integrationskurs am Vormittag", capacity_free=0),
    "sozialberatung": offer(
        "sozialberatung", title="Sozialberatung Caritas", category="social_counselling", **NO_LEVEL
    ),
}


def nurse_profile(**overrides: Any) -> dict[str, Any]:
    """Syrian nurse, 34, in Wetzlar, German A2, children aged 2 and 5."""
    base: dict[str, Any] = {
        "person_ref": "case-4711",
        "age": 34,
        "gender": "female",
        "location": {"place": "Wetzlar"},
        "residence_status": "recognised_refugee",
        "german_level": "A2",
        "languages": ["ar"],
        "children_ages": [2, 5],
        "needs": ["Deutschkurs", "Kinderbetreuung", "Anerkennung"],
        "profession": "Krankenschwester",
        "qualification_country": "SY",
        "availability": {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["morning"]},
    }
    base.update(overrides)
    return base


def resolved(**overrides: Any) -> ResolvedProfile:
    return resolve_profile(validate_profile(nurse_profile(**overrides)), today=TODAY)


def records(offers: dict[str, dict[str, Any]] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Offer dicts with ``id`` = ``external_id``, ready for ``Snapshot.from_records``."""
    items = offers.values() if isinstance(offers, dict) else offers
    return [{**o, "id": o["external_id"]} for o in items]


def snapshot_of(offers: dict[str, dict[str, Any]] | list[dict[str, Any]]) -> Snapshot:
    return Snapshot.from_records(records(offers), seq=1)


def store_offers(
    session: Session, offers: dict[str, dict[str, Any]], agency_id: str = "vhs-wetzlar"
) -> dict[str, str]:
    """Write offers through the catalogue; returns ``{key: offer id}``."""
    return {key: create_offer(session, ADMIN, agency_id, data).id for key, data in offers.items()}


__all__ = ["WETZLAR"]
