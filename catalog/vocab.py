"""Closed vocabularies of contract v1, shared by offers and profiles."""

from __future__ import annotations

import functools

from lotse.i18n import N_

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

# -- labels: one table per vocabulary, English message ids translated on use -----------------

GERMAN_LEVEL_LABELS: dict[str, str] = {
    "none": N_("no German yet"),
    **{level: level for level in GERMAN_LEVELS[1:]},
}
DAY_LABELS: dict[str, str] = {
    "mon": N_("Monday"),
    "tue": N_("Tuesday"),
    "wed": N_("Wednesday"),
    "thu": N_("Thursday"),
    "fri": N_("Friday"),
    "sat": N_("Saturday"),
    "sun": N_("Sunday"),
}
TIME_LABELS: dict[str, str] = {
    "morning": N_("mornings"),
    "afternoon": N_("afternoons"),
    "evening": N_("evenings"),
}
GENDER_LABELS: dict[str, str] = {
    "unspecified": N_("not stated"),
    "female": N_("female"),
    "male": N_("male"),
    "diverse": N_("diverse"),
}
RESIDENCE_STATUS_LABELS: dict[str, str] = {
    # TRANSLATORS: A person granted protection as a refugee or entitled to asylum
    # (anerkannter Flüchtling / Asylberechtigte); keep it distinct from "asylum seeker".
    "recognised_refugee": N_("recognised refugee"),
    # TRANSLATORS: Someone whose asylum application is still being decided (Aufenthaltsgestattung).
    "asylum_seeker": N_("asylum seeker"),
    # TRANSLATORS: Duldung: deportation is suspended for now; it is not a residence permit.
    # Keep the German word "Duldung" in brackets: it is printed on the person's papers.
    "tolerated": N_("tolerated (Duldung)"),
    # TRANSLATORS: A residence permit to join family members living in Germany (Familiennachzug).
    "family_reunification": N_("family reunification"),
    "eu_citizen": N_("EU citizen"),
    # TRANSLATORS: A residence permit for qualified work (Fachkräfteeinwanderung).
    "skilled_worker": N_("skilled worker"),
    # TRANSLATORS: Spätaussiedler: ethnic Germans from the former Soviet Union and Eastern
    # Europe who come with German citizenship; keep the German word in brackets.
    "resettler": N_("resettler (Spätaussiedler)"),
    "other": N_("other"),
}
BENEFIT_LABELS: dict[str, str] = {
    # TRANSLATORS: Bürgergeld, the basic income support paid by the job centre (SGB II).
    "sgb2": N_("citizen's benefit (SGB II)"),
    # TRANSLATORS: Benefits for asylum seekers (Asylbewerberleistungsgesetz), paid by the
    # social welfare office, not the job centre.
    "asylblg": N_("asylum seekers' benefits (AsylbLG)"),
    "none": N_("no benefits"),
}
TARGET_GROUP_LABELS: dict[str, str] = {
    "parents": N_("parents"),
    "youth": N_("young people"),
    "women": N_("women"),
    "literacy": N_("literacy learners"),
    "second_script": N_("second-script learners"),
    "disability": N_("people with disabilities"),
}
STATUS_LABELS: dict[str, str] = {"active": N_("active"), "inactive": N_("inactive")}

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
