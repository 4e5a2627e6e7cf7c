"""The category taxonomy of contract v1: parent codes and their children.

A parent code stands for all its children wherever a category filter or a need is expected.
"""

from __future__ import annotations

from rapidfuzz import fuzz, process

from lotse.i18n import N_, TranslatorLike, as_translator

TAXONOMY: dict[str, tuple[str, ...]] = {
    "language": (
        "integration_course",
        "integration_course_literacy",
        "integration_course_youth",
        "integration_course_parents",
        "integration_course_women",
        "integration_course_intensive",
        "job_language_course",
        "language_cafe",
    ),
    "childcare": ("daycare", "childminder", "childcare_during_course"),
    "recognition": ("recognition_counselling", "recognition_procedure", "adaptation_qualification"),
    "work": ("job_placement", "vocational_training", "application_support"),
    "counselling": (
        "migration_counselling",
        "youth_migration_service",
        "social_counselling",
        "legal_advice",
        "psychosocial_support",
    ),
    "health": ("health_service",),
    "housing": ("housing_support",),
    "community": ("mentoring", "sports_leisure"),
}

PARENTS: tuple[str, ...] = tuple(TAXONOMY)
CATEGORIES: tuple[str, ...] = tuple(c for children in TAXONOMY.values() for c in children)
PARENT_OF: dict[str, str] = {c: p for p, children in TAXONOMY.items() for c in children}

#: Human labels for pages, exports, HSDS taxonomy terms and the person's printouts: English
#: message ids, translated through the catalogues (``lotse.i18n``); ``label`` says them.
LABELS: dict[str, str] = {
    "language": N_("Language"),
    # TRANSLATORS: The BAMF integration course (Integrationskurs): 600 units of German plus a 100-unit orientation course on law, history and society; not a general 'integration' programme.
    "integration_course": N_("Integration course (general)"),
    "integration_course_literacy": N_("Literacy integration course"),
    "integration_course_youth": N_("Youth integration course"),
    "integration_course_parents": N_("Parents' integration course"),
    "integration_course_women": N_("Women's integration course"),
    "integration_course_intensive": N_("Intensive integration course"),
    # TRANSLATORS: Berufssprachkurs (DeuFöV): German for work, at B1 level and above, funded by BAMF.
    "job_language_course": N_("Job-related language course"),
    # TRANSLATORS: An informal meeting to practise speaking German, usually free and without registration.
    "language_cafe": N_("Language café"),
    "childcare": N_("Childcare"),
    # TRANSLATORS: Kita (Kindertagesstätte): a daycare centre for children from about 1 to 6 years.
    "daycare": N_("Daycare"),
    # TRANSLATORS: Kindertagespflege: a registered childminder who cares for a few small children, often at home.
    "childminder": N_("Childminder"),
    "childcare_during_course": N_("Childcare during courses"),
    "recognition": N_("Recognition"),
    "recognition_counselling": N_("Recognition counselling"),
    # TRANSLATORS: Anerkennungsverfahren: the official check whether a foreign qualification equals the German one.
    "recognition_procedure": N_("Recognition procedure"),
    # TRANSLATORS: Anpassungsqualifizierung: training that closes the gaps a recognition check found.
    "adaptation_qualification": N_("Adaptation qualification"),
    "work": N_("Work"),
    "job_placement": N_("Job placement"),
    "vocational_training": N_("Vocational training"),
    "application_support": N_("Application support"),
    "counselling": N_("Counselling"),
    # TRANSLATORS: MBE (Migrationsberatung für erwachsene Zuwanderer): free counselling for immigrants aged 27 and over.
    "migration_counselling": N_("Migration counselling (MBE)"),
    # TRANSLATORS: JMD (Jugendmigrationsdienst): counselling for young immigrants aged 12 to 27.
    "youth_migration_service": N_("Youth migration service (JMD)"),
    "social_counselling": N_("Social counselling"),
    "legal_advice": N_("Legal advice"),
    "psychosocial_support": N_("Psychosocial support"),
    "health": N_("Health"),
    "health_service": N_("Health service"),
    "housing": N_("Housing"),
    "housing_support": N_("Housing support"),
    "community": N_("Community"),
    "mentoring": N_("Mentoring"),
    "sports_leisure": N_("Sports and leisure"),
}


def label(code: str | None, lang: TranslatorLike = "en") -> str:
    """A category or parent code as people say it in ``lang`` (the code when unknown)."""
    return as_translator(lang).label(LABELS, code)


def is_known(code: str) -> bool:
    """True for a leaf category or a parent code."""
    return code in PARENT_OF or code in TAXONOMY


def expand(code: str) -> tuple[str, ...]:
    """The leaf categories a code stands for: a parent's children, or the leaf itself."""
    if code in TAXONOMY:
        return TAXONOMY[code]
    if code in PARENT_OF:
        return (code,)
    raise KeyError(code)


def parent(code: str) -> str:
    """The parent of a leaf category (a parent is its own parent)."""
    return code if code in TAXONOMY else PARENT_OF[code]


def suggest(code: str, limit: int = 3, leaves_only: bool = False) -> list[str]:
    """Closest known codes to a misspelt one, best first ("did you mean")."""
    choices = CATEGORIES if leaves_only else CATEGORIES + PARENTS
    found = process.extract(code, choices, scorer=fuzz.WRatio, limit=limit, score_cutoff=50)
    return [name for name, _score, _idx in found]
