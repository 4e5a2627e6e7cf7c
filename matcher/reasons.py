"""Why a recommended offer fits, in a few short phrases a counsellor can read out.

Reasons are built from the same feature values the ranker saw plus the offer's own fields,
and only for the handful of offers shown — "3.2 km away", "for A2 → B1; the person's level
is A2", "childcare for the child aged 2", "evening classes fit the person's availability".
Each has a stable ``code`` (for clients and tests) and a text from the staff catalogues
(German or English, ``lotse.i18n``). They speak to the counsellor about the person, in the
third person and without gender; what is printed for the person, in their words and
languages, is ``matcher.person_reasons``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from babel import Locale

from catalog import taxonomy
from lotse.i18n import AND, N_, Translator, TranslatorLike, as_translator
from matcher.features import COLUMN
from matcher.profile import ResolvedProfile
from matcher.rules import (
    CHILDCARE,
    area_phrase,
    day_text,
    days_text,
    fitting_children,
    level_name,
    serves_area,
)
from matcher.snapshot import TIME_BIT, Snapshot

#: Outcomes are named as a reason only with this much evidence (log of 1 + 5 referrals): a
#: rate of one or two referrals is noise, and could tell of a single person.
OUTCOME_REASON_EVIDENCE = float(np.log1p(5))
#: Completion with the provider is named from this rate on, with as much evidence (courses
#: started and ended) as outcomes need.
COMPLETION_REASON_RATE = 0.75


@dataclass(frozen=True)
class Reason:
    """One reason an offer fits (``code``: distance, online, level, childcare, schedule,
    language, start, capacity, profession, outcomes, waitlist)."""

    code: str
    text: str


def language_name(code: str, lang: TranslatorLike) -> str:
    """A language's name in ``lang``: "ar" → "Arabic" / "Arabisch" / "العربية" (CLDR through
    Babel; pycountry's English name for a code CLDR lacks)."""
    return _language_name(code, as_translator(lang).locale.language)


@functools.cache
def _language_name(code: str, in_language: str) -> str:
    name = Locale.parse(in_language).languages.get(code)
    if name:
        return name
    import pycountry

    found = pycountry.languages.get(alpha_2=code)
    return found.name if found is not None else code


def _childcare_reason(ages: list[int], t: Translator) -> str:
    """The childcare reason naming the children it takes: "childcare for the child aged 2",
    "childcare for the children aged 2 and 5"."""
    if len(ages) == 1:
        return t.gettext("childcare for the child aged %(age)s", age=ages[0])
    joined = t.join([str(a) for a in ages], AND)
    return t.gettext("childcare for the children aged %(ages)s", ages=joined)


#: The time of day as an adjective before "classes" or "hours" ("morning classes").
TIME_ADJECTIVES: dict[str, str] = {
    "morning": N_("morning"),
    "afternoon": N_("afternoon"),
    "evening": N_("evening"),
}


def _schedule_reason(s: Snapshot, row: int, p: ResolvedProfile, t: Translator) -> Reason | None:
    """Say "evening classes fit the person's availability" — only when the person gave
    availability and the offer has fixed times that meet it."""
    days, times = int(s.days[row]), int(s.times[row])
    if not (days or times) or not (p.day_bits or p.time_bits):
        return None
    slots = times & p.time_bits if p.time_bits else times
    if slots:
        names = [t.gettext(TIME_ADJECTIVES[name]) for name, bit in TIME_BIT.items() if slots & bit]
        joined = t.join(names, AND)
        if taxonomy.PARENT_OF[taxonomy.CATEGORIES[int(s.cat[row])]] == "language":
            text = t.gettext("%(times)s classes fit the person's availability", times=joined)
        else:
            text = t.gettext("%(times)s hours fit the person's availability", times=joined)
        return Reason("schedule", text)
    when = days_text(days & p.day_bits if p.day_bits else days, t)
    return Reason("schedule", t.gettext("%(days)s fits the person's availability", days=when))


def reasons_for(
    s: Snapshot, row: int, p: ResolvedProfile, features: np.ndarray, lang: TranslatorLike = "en"
) -> list[Reason]:
    """The reasons offer ``row`` fits profile ``p`` (``features``: its feature row)."""
    t = as_translator(lang)
    values = features.tolist()
    f = {name: values[i] for name, i in COLUMN.items()}
    out: list[Reason] = []
    if s.area_level[row] > 0 and bool(serves_area(s, np.array([row]), p)[0]):
        out.append(Reason("service_area", area_phrase(s, row, p, t)))
    if p.profession is not None and s.prof_listed[row]:
        name = t.gettext(p.profession.label)
        out.append(
            Reason("profession", t.gettext("for the profession %(profession)s", profession=name))
        )
    if f["online"]:
        out.append(Reason("online", t.gettext("online")))
    elif np.isfinite(f["distance_km"]):
        out.append(
            Reason("distance", t.gettext("%(distance)s away", distance=t.km(f["distance_km"])))
        )
    target = int(s.level_target[row])
    if target >= 0:
        to, mine = level_name(target), p.profile.german_level
        if mine == "none":
            text = t.gettext("leads to %(target)s, from scratch", target=to)
        elif target <= p.level:
            text = t.gettext(
                "targets %(target)s; the person's level is %(level)s", target=to, level=mine
            )
        else:
            text = t.gettext(
                "for %(level)s → %(target)s; the person's level is %(level)s",
                target=to,
                level=mine,
            )
        out.append(Reason("level", text))
    if CHILDCARE[s.cat[row]] and p.profile.children_ages:
        kids = fitting_children(s, row, p)
        if kids:
            out.append(Reason("childcare", _childcare_reason(kids, t)))
    elif f["childcare_fit"]:
        out.append(Reason("childcare", t.gettext("childcare provided during the offer")))
    schedule = _schedule_reason(s, row, p, t) if f["schedule_overlap"] > 0 else None
    if schedule is not None:
        out.append(schedule)
    if f["language_shared"]:
        idx = s.language_index(p.support_languages)
        shared = [s.language_codes[j] for j in idx if s.languages[row, j]]
        names = ", ".join(language_name(c, t) for c in shared)
        out.append(Reason("language", t.gettext("support in %(languages)s", languages=names)))
    start = int(s.start[row])
    if start and f["days_until_start"] > 0:
        n = int(f["days_until_start"])
        out.append(
            Reason(
                "start",
                t.ngettext(
                    "starts in %(num)s day (%(date)s)",
                    "starts in %(num)s days (%(date)s)",
                    n,
                    date=day_text(start, t),
                ),
            )
        )
    elif start and start <= p.today.toordinal():
        out.append(Reason("start", t.gettext("running since %(date)s", date=day_text(start, t))))
    free = int(s.cap_free[row])
    if free > 0:
        out.append(
            Reason("capacity", t.ngettext("%(num)s place free", "%(num)s places free", free))
        )
    elif free == 0:
        out.append(Reason("waitlist", t.gettext("no free place now: waitlist")))
    if f["profession_similarity"] >= 1.0:
        prof = p.profession
        label = t.gettext(prof.label) if prof else p.profile.profession
        out.append(
            Reason(
                "profession",
                t.gettext("related to the person's profession (%(profession)s)", profession=label),
            )
        )
    if f["offer_outcome_evidence"] >= OUTCOME_REASON_EVIDENCE and f["offer_outcome_rate"] >= 0.5:
        out.append(Reason("outcomes", t.gettext("earlier referrals here mostly led to enrolment")))
    if (
        f["org_completion_evidence"] >= OUTCOME_REASON_EVIDENCE
        and f["org_completion_rate"] >= COMPLETION_REASON_RATE
    ):
        out.append(Reason("outcomes", t.gettext("most who started with this provider finished")))
    return out
