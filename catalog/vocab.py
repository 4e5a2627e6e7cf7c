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


#: Languages spoken by many who arrive in Germany: listed first where languages are chosen.
COMMON_LANGUAGES: tuple[str, ...] = (
    "ar", "fa", "ps", "ku", "ti", "so", "uk", "ru", "tr", "en", "fr", "ro", "bg", "pl",
    "sq", "sr", "es", "it", "am", "ur", "hi", "vi", "zh",
)  # fmt: skip


@functools.cache
def language_names(locale: str = "de") -> dict[str, str]:
    """``{ISO 639-1 code: name}`` in ``locale`` ("de" or "en"), sorted by name; the name is
    the first of pycountry's (and its translations') names ("Paschtu; Afghanisch" → "Paschtu")."""
    import gettext

    import pycountry

    translate = (
        gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[locale]).gettext
        if locale != "en"
        else str
    )
    names = {
        lang.alpha_2: translate(lang.name).split(";")[0].strip()
        for lang in pycountry.languages
        if hasattr(lang, "alpha_2")
    }
    return dict(sorted(names.items(), key=lambda kv: kv[1].casefold()))


def language_code(text: str) -> str:
    """A language typed by code or by name, German or English ("Arabisch", "arabic", "ar"),
    as its ISO 639-1 code; the text itself (lower-cased) when no name matches, so the
    validator names it."""
    value = text.strip()
    lowered = value.casefold()
    if lowered in language_codes():
        return lowered
    for locale in ("de", "en"):
        for code, name in language_names(locale).items():
            if name.casefold() == lowered:
                return code
    return lowered


#: How far an offer's responsibility reaches when it is not a radius around its address
#: (HSDS ``service_area``): one municipality, a district, a federal state, or all Germany.
SERVICE_AREA_TYPES: tuple[str, ...] = ("municipality", "district", "state", "country")
GERMAN_STATES: tuple[str, ...] = (
    "Baden-Württemberg", "Bayern", "Berlin", "Brandenburg", "Bremen", "Hamburg", "Hessen",
    "Mecklenburg-Vorpommern", "Niedersachsen", "Nordrhein-Westfalen", "Rheinland-Pfalz",
    "Saarland", "Sachsen", "Sachsen-Anhalt", "Schleswig-Holstein", "Thüringen",
)  # fmt: skip
#: Districts (Landkreise) an offer may name as its area, with their larger municipalities:
#: the model project's districts. A municipality not listed here counts as outside.
DISTRICTS: dict[str, tuple[str, ...]] = {
    "Lahn-Dill-Kreis": (
        "Wetzlar", "Dillenburg", "Herborn", "Haiger", "Solms", "Aßlar", "Braunfels",
        "Ehringshausen", "Leun", "Hüttenberg", "Lahnau", "Schöffengrund", "Sinn",
        "Mittenaar", "Eschenburg", "Dietzhölztal", "Breitscheid", "Driedorf", "Greifenstein",
    ),
    "Landkreis Mayen-Koblenz": (
        "Mayen", "Andernach", "Bendorf", "Mülheim-Kärlich", "Vallendar", "Weißenthurm",
        "Polch", "Kottenheim", "Münstermaifeld",
    ),
    "Landkreis Stendal": (
        "Stendal", "Tangermünde", "Havelberg", "Osterburg", "Tangerhütte", "Bismark",
    ),
    "Landkreis Göttingen": (
        "Göttingen", "Hann. Münden", "Duderstadt", "Osterode am Harz", "Bovenden",
        "Rosdorf",
    ),
    "Main-Taunus-Kreis": (
        "Hofheim am Taunus", "Bad Soden am Taunus", "Eschborn", "Flörsheim am Main",
        "Hattersheim am Main", "Kelkheim", "Schwalbach am Taunus", "Sulzbach", "Kriftel",
    ),
}  # fmt: skip


def district_of(municipality: str | None) -> str | None:
    """The listed district a municipality lies in, or None."""
    if not municipality:
        return None
    for district, places in DISTRICTS.items():
        if municipality in places:
            return district
    return None


def area_key(name: str | None) -> int:
    """A service area's name as a stable number (CRC-32 of the folded name; 0: none), so
    that offers and places compare as integer arrays."""
    import zlib

    if not name:
        return 0
    return zlib.crc32(name.strip().casefold().encode("utf-8")) or 1
