"""Small hand-made offers for tests: a valid base that each test bends at one edge."""

from __future__ import annotations

from typing import Any

WETZLAR = (50.5558, 8.5047)


def offer_data(**overrides: Any) -> dict[str, Any]:
    """A valid general integration course in Wetzlar; override any field."""
    base: dict[str, Any] = {
        "external_id": "ik-1",
        "title": "Integrationskurs allgemein – VHS Wetzlar",
        "description": "Allgemeiner Integrationskurs mit 600 UE Sprache und 100 UE Orientierung.",
        "category": "integration_course",
        "organization": "VHS Wetzlar",
        "municipality": "Wetzlar",
        "street": "Bahnhofstraße 4",
        "postcode": "35576",
        "latitude": WETZLAR[0],
        "longitude": WETZLAR[1],
        "online": False,
        "languages": ["de", "ar"],
        "min_age": 16,
        "max_age": None,
        "min_german_level": "none",
        "max_german_level": "A2",
        "target_german_level": "B1",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "times": ["morning"],
        "start_date": "2027-01-11",
        "end_date": "2027-09-30",
        "hours_per_week": 20,
        "capacity_total": 20,
        "capacity_free": 5,
        "childcare": False,
        "cost_eur": 0,
        "status": "active",
    }
    base.update(overrides)
    return base
