"""The hard eligibility rules: an offer that fails any of them is never recommended.

Each rule has a reason code, a sentence (from the catalogues) saying what it demands, a
vectorised mask over snapshot rows (``passes(snapshot, rows, profile) -> bool array``) and a
per-offer explanation that names the values compared ("412.3 km away, beyond the person's
25 km"). Explanations are read by counsellors: they speak about the person, in the third
person and without gender.
The same mask decides recommendations and explanations, so the two cannot disagree.

``RULES`` is in a fixed order, and that order is how exclusions are counted: an offer that
fails several rules is counted once, under the first it fails. The order runs from what the
person asked for and where they live (category, distance — most offers of a national
catalogue fail these two, and saying "too far" is more useful than "wrong age" for an offer
in another city) through the offer's state (active) and the person's eligibility (age,
gender, status, benefits, level, literacy) to practicalities (schedule, start, access,
children's ages), and ends with capacity — an offer that fails only capacity fits, and is
offered as a waitlist alternative.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np

from catalog import taxonomy
from catalog.vocab import (
    BENEFIT_LABELS,
    DAYS,
    DISTRICTS,
    GENDER_LABELS,
    GERMAN_LEVELS,
    GERMAN_STATES,
    RESIDENCE_STATUS_LABELS,
    TIME_LABELS,
    area_key,
)
from lotse.geo import haversine_km
from lotse.i18n import AND, N_, OR, Translator, TranslatorLike, as_translator
from matcher.profile import ResolvedProfile
from matcher.snapshot import (
    ALL_GENDERS,
    ALL_STATUSES,
    BENEFIT_BIT,
    DAY_BIT,
    GENDER_BIT,
    NO_END,
    NO_MAX_AGE,
    STATUS_BIT,
    TIME_BIT,
    Snapshot,
)

Mask = Callable[[Snapshot, np.ndarray, ResolvedProfile], np.ndarray]
Explain = Callable[[Snapshot, int, ResolvedProfile, bool, Translator], str]

#: Leaf categories whose age bounds are the child's, not the adult's (trailing False: row
#: category -1 = unknown).
CHILDCARE = np.array(
    [taxonomy.PARENT_OF[c] == "childcare" for c in taxonomy.CATEGORIES] + [False], dtype=bool
)

# -- wording --------------------------------------------------------------------------------
#
# Texts are English message ids translated through the catalogues (``lotse.i18n``); labels
# of codes come from each vocabulary's one label table (``catalog.vocab``). ``lang`` is a
# staff language code ("de", "en") or a ``Translator``.


def km(value: float, lang: TranslatorLike) -> str:
    """A distance: "3.2 km" ("3,2 km" in German); whole limits without decimals ("25 km")."""
    return as_translator(lang).km(value)


def level_window(lo: int, hi: int, lang: TranslatorLike) -> str:
    """The window as read aloud: "A1–B1", "B2", "up to A2", "from B1"."""
    t = as_translator(lang)
    top = len(GERMAN_LEVELS) - 1
    if int(lo) == int(hi):
        return level_name(lo)
    if int(lo) <= 0:
        return t.gettext("up to %(level)s", level=level_name(hi))
    if int(hi) >= top:
        return t.gettext("from %(level)s", level=level_name(lo))
    return f"{level_name(lo)}–{level_name(hi)}"


def day_text(date_ordinal: int, lang: TranslatorLike) -> str:
    """A date as the language writes it (German 12.03.2027, English 2027-03-12)."""
    return as_translator(lang).date(date.fromordinal(int(date_ordinal)))


def level_name(rank: int) -> str:
    return GERMAN_LEVELS[int(rank)]


def _names(bits: int, table: dict[str, int], labels: dict[str, str], t: Translator) -> list[str]:
    return [t.gettext(labels[k]) for k, bit in table.items() if int(bits) & bit]


def days_text(bits: int, lang: TranslatorLike) -> str:
    """Days as read aloud: "Mon–Fri", "Mon, Wed", or "any day" for 0 (no fixed days)."""
    t = as_translator(lang)
    if not bits:
        return t.gettext("any day")
    idx = [i for i, d in enumerate(DAYS) if int(bits) & DAY_BIT[d]]
    names = t.day_names()
    if len(idx) >= 3 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{names[idx[0]]}–{names[idx[-1]]}"
    return ", ".join(names[i] for i in idx)


def times_text(bits: int, lang: TranslatorLike) -> str:
    """Times as read aloud: "mornings and evenings", or "any time" for 0 (no fixed times)."""
    t = as_translator(lang)
    if not bits:
        return t.gettext("any time")
    names = _names(bits, TIME_BIT, TIME_LABELS, t)
    if len(names) > 2:
        return ", ".join(names)
    return t.join(names, AND)


def age_range(lo: int, hi: int, lang: TranslatorLike) -> str:
    if hi >= NO_MAX_AGE:
        return as_translator(lang).gettext("%(age)s and older", age=lo)
    return str(lo) if lo == hi else f"{lo}–{hi}"


# -- the rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One hard filter: ``code`` names it in responses; ``sentence`` says what it demands
    (an English message id, translated by ``sentence``)."""

    code: str
    message: str
    passes: Mask
    explain: Explain

    def sentence(self, lang: TranslatorLike) -> str:
        return as_translator(lang).gettext(self.message)


def _category(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return p.need_of_category[s.cat[r]] >= 0


def _category_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    label = taxonomy.label(taxonomy.CATEGORIES[int(s.cat[i])], t)
    if ok:
        need = p.needs[int(p.need_of_category[s.cat[i]])]
        if need.derived:
            return t.gettext(
                "%(offer)s serves the recognition the person's profession (%(profession)s) needs",
                offer=label,
                profession=need.text,
            )
        return t.gettext(
            "%(offer)s serves the person's need '%(need)s'", offer=label, need=need.text
        )
    return t.gettext("%(offer)s is not among the person's needs", offer=label)


def _active(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return s.active[r] & (s.end[r] >= p.today.toordinal())


def _active_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if s.archived[i]:
        return t.gettext("the offer has been withdrawn")
    if not s.active[i]:
        return t.gettext("the offer is inactive")
    if s.end[i] < p.today.toordinal():
        return t.gettext("the offer ended on %(date)s", date=day_text(s.end[i], t))
    if s.end[i] != NO_END:
        return t.gettext("active, runs until %(date)s", date=day_text(s.end[i], t))
    return t.gettext("active")


def _age(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    age = p.profile.age
    return CHILDCARE[s.cat[r]] | ((s.min_age[r] <= age) & (age <= s.max_age[r]))


def _age_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if CHILDCARE[s.cat[i]]:
        return t.gettext("childcare: the age limits are the child's")
    lo, hi, age = int(s.min_age[i]), int(s.max_age[i]), p.profile.age
    if lo == 0 and hi >= NO_MAX_AGE:
        return t.gettext("no age limit")
    span = age_range(lo, hi, t)
    if ok:
        return t.gettext("for ages %(span)s; the person is %(age)s", span=span, age=age)
    return t.gettext("only for ages %(span)s; the person is %(age)s", span=span, age=age)


def _gender(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return (s.genders[r] & p.gender_bit) != 0


def _gender_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if int(s.genders[i]) == ALL_GENDERS:
        return t.gettext("open to all genders")
    names = ", ".join(_names(s.genders[i], GENDER_BIT, GENDER_LABELS, t))
    if ok:
        return t.gettext("for gender: %(genders)s, which includes the person", genders=names)
    return t.gettext("only for gender: %(genders)s", genders=names)


def _status(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return (s.statuses[r] & p.status_bit) != 0


def _status_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if int(s.statuses[i]) == ALL_STATUSES:
        return t.gettext("open to every residence status")
    names = ", ".join(_names(s.statuses[i], STATUS_BIT, RESIDENCE_STATUS_LABELS, t))
    mine = p.profile.residence_status
    own = t.label(RESIDENCE_STATUS_LABELS, mine) if mine else t.gettext("not recorded")
    if ok:
        return t.gettext("for %(statuses)s; the person's status fits", statuses=names)
    return t.gettext(
        "only for %(statuses)s; the person's status: %(status)s", statuses=names, status=own
    )


def _benefits(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    need = s.benefits[r]
    return (need == 0) | ((need & p.benefit_bits) != 0)


def _benefits_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if not s.benefits[i]:
        return t.gettext("no benefit entitlement required")
    names = t.join(_names(s.benefits[i], BENEFIT_BIT, BENEFIT_LABELS, t), OR)
    if ok:
        return t.gettext("requires %(benefits)s, which the person receives", benefits=names)
    return t.gettext("requires %(benefits)s", benefits=names)


def _level(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return (s.level_min[r] <= p.level) & (p.level <= s.level_max[r])


def _level_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    lo, hi = int(s.level_min[i]), int(s.level_max[i])
    mine = p.profile.german_level
    if lo == 0 and hi == len(GERMAN_LEVELS) - 1:
        return t.gettext("no German level required")
    window = level_window(lo, hi, t)
    if ok:
        return t.gettext(
            "for German %(window)s; the person's level is %(level)s", window=window, level=mine
        )
    return t.gettext(
        "needs German %(window)s; the person's level is %(level)s", window=window, level=mine
    )


def _literacy(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return ~s.literacy[r] | p.profile.literate


def _literacy_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if not s.literacy[i]:
        return t.gettext("no reading and writing required")
    if ok:
        return t.gettext("requires reading and writing, which the person can do")
    return t.gettext("requires reading and writing")


def distances_km(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    """Great-circle km from the person to each row's offer (NaN: the offer has no place)."""
    return haversine_km(p.latitude, p.longitude, s.lat[r], s.lon[r])


def serves_area(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    """Whether each row's offer is responsible for the person's place by its service area
    (its municipality, district or federal state, or all Germany)."""
    level = s.area_level[r]
    key = s.area_key[r]
    municipality, district, state = p.area_keys
    return (
        (level == 4)
        | ((level == 3) & (key == state) & (state != 0))
        | ((level == 2) & (key == district) & (district != 0))
        | ((level == 1) & (key == municipality) & (municipality != 0))
    )


def _distance(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    near = distances_km(s, r, p) <= p.profile.max_distance_km  # NaN compares False
    return near | (s.online[r] & p.profile.online_ok) | serves_area(s, r, p)


@functools.cache
def _area_names() -> dict[int, str]:
    """Names of the states and listed districts by ``area_key``."""
    return {area_key(name): name for name in (*GERMAN_STATES, *DISTRICTS)}


def area_phrase(s: Snapshot, i: int, p: ResolvedProfile, lang: TranslatorLike) -> str:
    """The service area of row ``i`` as a phrase: "zuständig für ganz Hessen"."""
    t = as_translator(lang)
    level = int(s.area_level[i])
    key = int(s.area_key[i])
    region = p.region
    mine = {1: region.municipality, 2: region.district, 3: region.state}.get(level)
    name = mine if mine and area_key(mine) == key else _area_names().get(key, "…")
    if level == 4:
        return t.gettext("responsible for all of Germany")
    if level == 3:
        return t.gettext("responsible for all of %(area)s", area=name)
    if level == 2:
        return t.gettext("responsible for the district %(area)s", area=name)
    return t.gettext("responsible for %(area)s", area=name)


def _distance_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    d = float(distances_km(s, np.array([i]), p)[0])
    limit = t.km(p.profile.max_distance_km)
    if s.area_level[i] > 0 and bool(serves_area(s, np.array([i]), p)[0]):
        return area_phrase(s, i, p, t)
    if s.area_level[i] > 0 and not (s.online[i] and p.profile.online_ok):
        where = p.region.state or p.region.municipality
        return t.gettext("%(area)s, not for %(place)s", area=area_phrase(s, i, p, t), place=where)
    if np.isfinite(d) and d <= p.profile.max_distance_km:
        return t.gettext(
            "%(distance)s away, within the person's %(limit)s", distance=t.km(d), limit=limit
        )
    if s.online[i] and p.profile.online_ok:
        return t.gettext("online, which the person accepts")
    if s.online[i]:
        where = t.gettext("online only") if not np.isfinite(d) else t.km(d)
        return t.gettext("%(where)s; the person did not accept online offers", where=where)
    return t.gettext(
        "%(distance)s away, beyond the person's %(limit)s", distance=t.km(d), limit=limit
    )


def _overlaps(offer_bits: np.ndarray, person_bits: int) -> np.ndarray:
    if not person_bits:
        return np.ones(len(offer_bits), dtype=bool)
    return (offer_bits == 0) | ((offer_bits & person_bits) != 0)


def _schedule(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return _overlaps(s.days[r], p.day_bits) & _overlaps(s.times[r], p.time_bits)


def _schedule_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    when = f"{days_text(s.days[i], t)}, {times_text(s.times[i], t)}"
    if not s.days[i] and not s.times[i]:
        return t.gettext("no fixed schedule")
    if ok:
        return t.gettext("runs %(when)s, when the person is available", when=when)
    theirs = f"{days_text(p.day_bits, t)}, {times_text(p.time_bits, t)}"
    return t.gettext(
        "runs %(when)s; the person is available %(available)s", when=when, available=theirs
    )


def _start(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    if not p.earliest_start:
        return np.ones(len(r), dtype=bool)
    start = s.start[r]
    return (start == 0) | (start >= p.earliest_start)


def _start_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if not s.start[i]:
        return t.gettext("no fixed start date")
    start = day_text(s.start[i], t)
    if not p.earliest_start:
        return t.gettext("starts %(date)s", date=start)
    earliest = day_text(p.earliest_start, t)
    if ok:
        return t.gettext(
            "starts %(date)s, not before the person's earliest start (%(earliest)s)",
            date=start,
            earliest=earliest,
        )
    return t.gettext(
        "starts %(date)s, before the person can begin (%(earliest)s)",
        date=start,
        earliest=earliest,
    )


def _wheelchair(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    if not p.profile.wheelchair:
        return np.ones(len(r), dtype=bool)
    return s.wheelchair[r] | (s.online[r] & p.profile.online_ok)


def _wheelchair_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if not p.profile.wheelchair:
        return t.gettext("no step-free access needed")
    if s.wheelchair[i]:
        return t.gettext("wheelchair accessible")
    if ok:
        return t.gettext("taken online, so access is no obstacle")
    return t.gettext("not wheelchair accessible")


def _child_age(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    care = CHILDCARE[s.cat[r]]
    kids = p.children
    if not len(kids):
        return np.ones(len(r), dtype=bool)  # not recorded: the counsellor stated the need
    fits = (kids[None, :] >= s.min_age[r][:, None]) & (kids[None, :] <= s.max_age[r][:, None])
    return ~care | fits.any(axis=1)


def fitting_children(s: Snapshot, i: int, p: ResolvedProfile) -> list[int]:
    """Ages of the person's children that a childcare offer takes."""
    lo, hi = int(s.min_age[i]), int(s.max_age[i])
    return [a for a in p.profile.children_ages if lo <= a <= hi]


def _child_age_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if not CHILDCARE[s.cat[i]]:
        return t.gettext("not a childcare offer")
    span = age_range(int(s.min_age[i]), int(s.max_age[i]), t)
    if not p.profile.children_ages:
        return t.gettext("takes children aged %(span)s; no ages recorded", span=span)
    kids = fitting_children(s, i, p) or list(p.profile.children_ages)
    ages = ", ".join(str(a) for a in kids)
    if ok:
        return t.ngettext(
            "takes children aged %(span)s; fits the person's child (aged %(ages)s)",
            "takes children aged %(span)s; fits the person's children (aged %(ages)s)",
            len(kids),
            span=span,
            ages=ages,
        )
    return t.ngettext(
        "takes children aged %(span)s; the person's child is %(ages)s",
        "takes children aged %(span)s; the person's children are %(ages)s",
        len(kids),
        span=span,
        ages=ages,
    )


def _capacity(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return s.cap_free[r] != 0  # -1 = not reported: assume a place


def _capacity_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    free = int(s.cap_free[i])
    if free < 0:
        return t.gettext("free places not reported")
    if ok:
        return t.ngettext("%(num)s free place", "%(num)s free places", free)
    return t.gettext("no free place now (waitlist)")


def _profession(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    # An offer that names professions serves only them; a person without a known regulated
    # profession is not turned away (the counsellor sees the professions on the offer).
    if not p.profession_bit:
        return np.ones(len(r), dtype=bool)
    return ~s.prof_listed[r] | ((s.prof_bits[r] & p.profession_bit) != 0)


def _profession_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, t: Translator) -> str:
    if not s.prof_listed[i]:
        return t.gettext("open to every profession")
    if p.profession is None:
        return t.gettext("for named professions; none recorded")
    name = t.gettext(p.profession.label)
    if ok:
        return t.gettext("serves the profession %(profession)s", profession=name)
    return t.gettext("for other professions than %(profession)s", profession=name)


RULES: tuple[Rule, ...] = (
    Rule("category", N_("The offer serves a stated need."), _category, _category_text),
    Rule(
        "distance",
        N_("The offer is within the maximum distance, or online and online is fine."),
        _distance,
        _distance_text,
    ),
    Rule("active", N_("The offer is active and has not ended."), _active, _active_text),
    Rule("age", N_("The person's age is within the offer's age limits."), _age, _age_text),
    Rule("gender", N_("The offer is open to the person's gender."), _gender, _gender_text),
    Rule(
        "residence_status",
        N_("The offer is open to the person's residence status."),
        _status,
        _status_text,
    ),
    Rule(
        "benefits",
        N_("The person receives any benefit the offer requires."),
        _benefits,
        _benefits_text,
    ),
    Rule(
        "german_level",
        N_("The person's German level is within the offer's window."),
        _level,
        _level_text,
    ),
    Rule(
        "literacy",
        N_("The person can read and write if the offer requires it."),
        _literacy,
        _literacy_text,
    ),
    Rule(
        "schedule",
        N_("The offer's schedule overlaps the person's availability."),
        _schedule,
        _schedule_text,
    ),
    Rule(
        "start",
        N_("The offer starts on or after the earliest start."),
        _start,
        _start_text,
    ),
    Rule(
        "wheelchair",
        N_("The offer is wheelchair accessible when needed."),
        _wheelchair,
        _wheelchair_text,
    ),
    Rule(
        "child_age",
        N_("A childcare offer takes one of the person's children by age."),
        _child_age,
        _child_age_text,
    ),
    Rule(
        "profession",
        N_("An offer for named professions serves the person's profession."),
        _profession,
        _profession_text,
    ),
    Rule(
        "capacity",
        N_("The offer has a free place (otherwise it is a waitlist alternative)."),
        _capacity,
        _capacity_text,
    ),
)

RULE_CODES: tuple[str, ...] = tuple(rule.code for rule in RULES)
CAPACITY = "capacity"


@dataclass(frozen=True)
class Screening:
    """The result of running every rule over the catalogue for one profile.

    ``eligible``: rows passing every rule; ``waitlist``: rows passing every rule but
    capacity; ``excluded``: per rule code, how many offers it excluded (each offer counted
    under the first rule it fails, capacity included)."""

    eligible: np.ndarray
    waitlist: np.ndarray
    excluded: dict[str, int]


def _union(n: int, parts: list[np.ndarray]) -> np.ndarray:
    """The sorted rows in any of ``parts`` (an offer near the person may also serve their
    area): marked in a mask of the catalogue's size, several times cheaper than sorting
    them together with ``np.union1d``."""
    mask = np.zeros(n, dtype=bool)
    for part in parts:
        mask[part] = True
    return np.flatnonzero(mask)


def screen(s: Snapshot, p: ResolvedProfile) -> Screening:
    """Apply the rules in order, each to the offers that passed the ones before it, so each
    exclusion is counted once.

    The first two are answered from indexes without touching every row: offers of the needed
    categories are counted per category, and the spatial grid yields only the rows near the
    person (plus online ones when online is fine); the rest run on what is left.
    """
    assert RULES[0].code == "category" and RULES[1].code == "distance"
    excluded: dict[str, int] = {}
    serving = p.need_of_category[:-1] >= 0
    n_category = int(s.category_counts[:-1][serving].sum())
    excluded["category"] = s.n_live - n_category
    rows = s.grid.near(p.latitude, p.longitude, p.profile.max_distance_km)
    parts = [rows[_category(s, rows, p)]]
    if p.profile.online_ok:
        online = s.grid.online_rows
        parts.append(online[_category(s, online, p)])
    areas = s.area_rows
    if len(areas):
        parts.append(areas[_category(s, areas, p)])
    rows = parts[0] if len(parts) == 1 else _union(len(s.lat), parts)
    rows = rows[_distance(s, rows, p)]
    excluded["distance"] = n_category - len(rows)
    waitlist = rows[:0]
    for rule in RULES[2:]:
        ok = rule.passes(s, rows, p)
        excluded[rule.code] = int(len(rows) - np.count_nonzero(ok))
        if rule.code == CAPACITY:
            waitlist = rows[~ok]
        rows = rows[ok]
    return Screening(eligible=rows, waitlist=waitlist, excluded=excluded)


@dataclass(frozen=True)
class RuleOutcome:
    """One rule applied to one offer."""

    code: str
    passed: bool
    text: str


def check_offer(
    s: Snapshot, row: int, p: ResolvedProfile, lang: TranslatorLike = "en"
) -> list[RuleOutcome]:
    """Every rule for one offer, passed or failed, with the sentence that says why."""
    r = np.array([row], dtype=np.int64)
    t = as_translator(lang)
    out = []
    for rule in RULES:
        ok = bool(rule.passes(s, r, p)[0])
        out.append(RuleOutcome(rule.code, ok, rule.explain(s, row, p, ok, t)))
    return out
