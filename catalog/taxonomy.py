"""The category taxonomy of contract v1: parent codes and their children.

A parent code stands for all its children wherever a category filter or a need is expected.
"""

from __future__ import annotations

from rapidfuzz import fuzz, process

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

#: Human labels (German, English) for pages, exports and HSDS taxonomy terms.
LABELS: dict[str, tuple[str, str]] = {
    "language": ("Sprache", "Language"),
    "integration_course": ("Integrationskurs (allgemein)", "Integration course (general)"),
    "integration_course_literacy": (
        "Integrationskurs mit Alphabetisierung",
        "Literacy integration course",
    ),
    "integration_course_youth": ("Jugendintegrationskurs", "Youth integration course"),
    "integration_course_parents": ("Eltern-Integrationskurs", "Parents' integration course"),
    "integration_course_women": ("Frauen-Integrationskurs", "Women's integration course"),
    "integration_course_intensive": ("Intensivkurs", "Intensive integration course"),
    "job_language_course": ("Berufssprachkurs", "Job-related language course"),
    "language_cafe": ("Sprachcafé", "Language café"),
    "childcare": ("Kinderbetreuung", "Childcare"),
    "daycare": ("Kita", "Daycare"),
    "childminder": ("Kindertagespflege", "Childminder"),
    "childcare_during_course": ("Kinderbetreuung während des Kurses", "Childcare during courses"),
    "recognition": ("Anerkennung", "Recognition"),
    "recognition_counselling": ("Anerkennungsberatung", "Recognition counselling"),
    "recognition_procedure": ("Anerkennungsverfahren", "Recognition procedure"),
    "adaptation_qualification": ("Anpassungsqualifizierung", "Adaptation qualification"),
    "work": ("Arbeit", "Work"),
    "job_placement": ("Arbeitsvermittlung", "Job placement"),
    "vocational_training": ("Ausbildung", "Vocational training"),
    "application_support": ("Bewerbungshilfe", "Application support"),
    "counselling": ("Beratung", "Counselling"),
    "migration_counselling": ("Migrationsberatung (MBE)", "Migration counselling (MBE)"),
    "youth_migration_service": ("Jugendmigrationsdienst (JMD)", "Youth migration service (JMD)"),
    "social_counselling": ("Sozialberatung", "Social counselling"),
    "legal_advice": ("Rechtsberatung", "Legal advice"),
    "psychosocial_support": ("Psychosoziale Beratung", "Psychosocial support"),
    "health": ("Gesundheit", "Health"),
    "health_service": ("Gesundheitsangebot", "Health service"),
    "housing": ("Wohnen", "Housing"),
    "housing_support": ("Wohnungssuche", "Housing support"),
    "community": ("Gemeinschaft", "Community"),
    "mentoring": ("Patenschaft / Mentoring", "Mentoring"),
    "sports_leisure": ("Sport und Freizeit", "Sports and leisure"),
}


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
