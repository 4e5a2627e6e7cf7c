"""Closed vocabularies of contract v1, shared by offers and profiles."""

from __future__ import annotations

import functools

GERMAN_LEVELS: tuple[str, ...] = ("none", "A1", "A2", "B1", "B2", "C1", "C2")
LEVEL_RANK: dict[str, int] = {lvl: i for i, lvl in enumerate(GERMAN_LEVELS)}
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIMES: tuple[str, ...] = ("morning", "afternoon", "evening")
GENDERS: tuple[str, ...] = ("female", "male", "diverse", "unspecified")
RESIDENCE_STATUSES: tuple[str, ...] = (
    "recognised_refugee",
    "asylum_seeker",
    "tolerated",
    "family_reunification",
    "eu_citizen",
    "skilled_worker",
    "resettler",
    "other",
)
BENEFITS: tuple[str, ...] = ("sgb2", "asylblg", "none")
TARGET_GROUPS: tuple[str, ...] = (
    "parents",
    "youth",
    "women",
    "literacy",
    "second_script",
    "disability",
)
STATUSES: tuple[str, ...] = ("active", "inactive")

#: Germany's bounding box, widened a little so border towns and rounding pass.
GERMANY_LAT = (47.0, 55.3)
GERMANY_LON = (5.5, 15.3)


@functools.cache
def language_codes() -> frozenset[str]:
    """ISO 639-1 two-letter language codes (from pycountry, loaded on first use)."""
    import pycountry

    return frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


def checked_language_codes(values: list[str]) -> list[str]:
    """Lower-cased ISO 639-1 codes; ``ValueError`` naming the unknown ones (for validators)."""
    codes = language_codes()
    cleaned = [v.lower() for v in values]
    bad = [v for v in cleaned if v not in codes]
    if bad:
        raise ValueError(f"unknown ISO 639-1 language code(s): {', '.join(bad)}")
    return cleaned
