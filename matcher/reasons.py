"""Why a recommended offer fits, in a few short phrases a counsellor can read out.

Reasons are built from the same feature values the ranker saw plus the offer's own fields,
and only for the handful of offers shown — "3.2 km away", "for A2 → B1, your level is A2",
"childcare for your 2-year-old", "evening classes fit your availability". Each has a stable
``code`` (for clients and tests) and a text in English or German.
"""

from __future__ import annotations

import functools
import gettext
from dataclasses import dataclass
from datetime import date

import numpy as np

from catalog import taxonomy
from matcher.features import COLUMN
from matcher.profile import ResolvedProfile
from matcher.rules import (
    CHILDCARE,
    day_text,
    days_text,
    fitting_children,
    km,
    level_name,
    say,
)
from matcher.snapshot import TIME_BIT, Snapshot

#: Outcomes are named as a reason only with this much evidence (log of 1 + 5 referrals): a
#: rate of one or two referrals is noise, and could tell of a single person.
OUTCOME_REASON_EVIDENCE = float(np.log1p(5))


@dataclass(frozen=True)
class Reason:
    """One reason an offer fits (``code``: distance, online, level, childcare, schedule,
    language, start, capacity, profession, outcomes, waitlist)."""

    code: str
    text: str


@functools.cache
def language_name(code: str, lang: str) -> str:
    """A language's name: "ar" → "Arabic" / "Arabisch" (pycountry and its translations)."""
    import pycountry

    found = pycountry.languages.get(alpha_2=code)
    if found is None:
        return code
    if lang != "de":
        return found.name
    try:
        de = gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=["de"])
    except OSError:
        return found.name
    return de.gettext(found.name).split(";")[0]


def _ages(ages: list[int], lang: str) -> str:
    if len(ages) == 1:
        return say(lang, f"your {ages[0]}-year-old", f"Ihr {ages[0]}-jähriges Kind")
    joined = say(lang, " and ", " und ").join([", ".join(str(a) for a in ages[:-1]), str(ages[-1])])
    return say(lang, f"your children aged {joined}", f"Ihre Kinder im Alter von {joined}")


TIME_ADJECTIVES = {
    "en": {"morning": "morning", "afternoon": "afternoon", "evening": "evening"},
    "de": {"morning": "vormittags", "afternoon": "nachmittags", "evening": "abends"},
}


def _schedule_reason(s: Snapshot, row: int, p: ResolvedProfile, lang: str) -> Reason | None:
    """Say "evening classes fit your availability" — only when the person gave availability and
    the offer has fixed times that meet it."""
    days, times = int(s.days[row]), int(s.times[row])
    if not (days or times) or not (p.day_bits or p.time_bits):
        return None
    slots = times & p.time_bits if p.time_bits else times
    if slots:
        words = TIME_ADJECTIVES["de" if lang == "de" else "en"]
        names = [words[t] for t, bit in TIME_BIT.items() if slots & bit]
        joined = say(lang, " and ", " und ").join(names)
        noun = (
            "classes"
            if taxonomy.PARENT_OF[taxonomy.CATEGORIES[int(s.cat[row])]] == "language"
            else "hours"
        )
        return Reason(
            "schedule",
            say(
                lang,
                f"{joined} {noun} fit your availability",
                f"Termine {joined} passen zu Ihrer Verfügbarkeit",
            ),
        )
    when = days_text(days & p.day_bits if p.day_bits else days, lang)
    return Reason(
        "schedule",
        say(lang, f"{when} fits your availability", f"{when} passt zu Ihrer Verfügbarkeit"),
    )


def reasons_for(
    s: Snapshot, row: int, p: ResolvedProfile, features: np.ndarray, lang: str = "en"
) -> list[Reason]:
    """The reasons offer ``row`` fits profile ``p`` (``features``: its feature row)."""
    f = {name: float(features[i]) for name, i in COLUMN.items()}
    out: list[Reason] = []
    if f["online"]:
        out.append(Reason("online", say(lang, "online", "online")))
    elif np.isfinite(f["distance_km"]):
        d = km(f["distance_km"], lang)
        out.append(Reason("distance", say(lang, f"{d} away", f"{d} entfernt")))
    target = int(s.level_target[row])
    if target >= 0:
        to, mine = level_name(target), p.profile.german_level
        if mine == "none":
            text = say(lang, f"leads to {to}, from scratch", f"führt zu {to}, ohne Vorkenntnisse")
        elif target <= p.level:
            text = say(
                lang, f"targets {to}, your level is {mine}", f"Ziel {to}, Ihr Niveau ist {mine}"
            )
        else:
            text = say(
                lang,
                f"for {mine} → {to}, your level is {mine}",
                f"für {mine} → {to}, Ihr Niveau ist {mine}",
            )
        out.append(Reason("level", text))
    if CHILDCARE[s.cat[row]] and p.profile.children_ages:
        kids = fitting_children(s, row, p)
        if kids:
            who = _ages(kids, lang)
            out.append(
                Reason("childcare", say(lang, f"childcare for {who}", f"Betreuung für {who}"))
            )
    elif f["childcare_fit"]:
        out.append(
            Reason(
                "childcare",
                say(lang, "childcare provided during the offer", "mit Kinderbetreuung"),
            )
        )
    schedule = _schedule_reason(s, row, p, lang) if f["schedule_overlap"] > 0 else None
    if schedule is not None:
        out.append(schedule)
    if f["language_shared"]:
        idx = s.language_index(p.support_languages)
        shared = [s.language_codes[j] for j in idx if s.languages[row, j]]
        names = ", ".join(language_name(c, lang) for c in shared)
        out.append(
            Reason("language", say(lang, f"support in {names}", f"Unterstützung auf {names}"))
        )
    start = int(s.start[row])
    if start and f["days_until_start"] > 0:
        n = int(f["days_until_start"])
        when = day_text(start, lang)
        out.append(
            Reason(
                "start",
                say(lang, f"starts in {n} days ({when})", f"beginnt in {n} Tagen ({when})"),
            )
        )
    elif start and start <= p.today.toordinal():
        since = date.fromordinal(start)
        out.append(
            Reason(
                "start",
                say(
                    lang,
                    f"running since {since.isoformat()}",
                    f"läuft seit {day_text(start, lang)}",
                ),
            )
        )
    free = int(s.cap_free[row])
    if free > 0:
        out.append(
            Reason(
                "capacity",
                say(
                    lang,
                    f"{free} place{'s' if free != 1 else ''} free",
                    f"{free} {'Plätze' if free != 1 else 'Platz'} frei",
                ),
            )
        )
    elif free == 0:
        out.append(
            Reason("waitlist", say(lang, "no free place now: waitlist", "derzeit voll: Warteliste"))
        )
    if f["profession_similarity"] >= 1.0:
        prof = p.profession
        label = (prof.label_de if lang == "de" else prof.label_en) if prof else p.profile.profession
        out.append(
            Reason(
                "profession",
                say(
                    lang, f"related to your profession ({label})", f"passt zu Ihrem Beruf ({label})"
                ),
            )
        )
    if f["offer_outcome_evidence"] >= OUTCOME_REASON_EVIDENCE and f["offer_outcome_rate"] >= 0.5:
        out.append(
            Reason(
                "outcomes",
                say(
                    lang,
                    "earlier referrals here mostly led to enrolment",
                    "frühere Vermittlungen führten meist zur Teilnahme",
                ),
            )
        )
    return out
