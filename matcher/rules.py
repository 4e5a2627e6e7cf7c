"""The hard eligibility rules: an offer that fails any of them is never recommended.

Each rule has a reason code, a sentence in German and English saying what it demands, a
vectorised mask over snapshot rows (``passes(snapshot, rows, profile) -> bool array``) and a
per-offer explanation that names the values compared ("412.3 km away, beyond your 25 km").
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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np

from catalog import taxonomy
from catalog.vocab import DAYS, GERMAN_LEVELS, RESIDENCE_STATUSES
from lotse.geo import haversine_km
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
Explain = Callable[[Snapshot, int, ResolvedProfile, bool, str], str]

#: Leaf categories whose age bounds are the child's, not the adult's (trailing False: row
#: category -1 = unknown).
CHILDCARE = np.array(
    [taxonomy.PARENT_OF[c] == "childcare" for c in taxonomy.CATEGORIES] + [False], dtype=bool
)

# -- wording --------------------------------------------------------------------------------

DAY_NAMES = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
}
TIME_NAMES = {
    "en": {"morning": "mornings", "afternoon": "afternoons", "evening": "evenings"},
    "de": {"morning": "vormittags", "afternoon": "nachmittags", "evening": "abends"},
}
GENDER_NAMES = {
    "en": {"female": "women", "male": "men", "diverse": "diverse", "unspecified": "unspecified"},
    "de": {"female": "Frauen", "male": "Männer", "diverse": "divers", "unspecified": "ohne Angabe"},
}
STATUS_NAMES = {
    "en": {s: s.replace("_", " ") for s in RESIDENCE_STATUSES},
    "de": {
        "recognised_refugee": "anerkannte Geflüchtete",
        "asylum_seeker": "Asylsuchende",
        "tolerated": "Geduldete",
        "family_reunification": "Familiennachzug",
        "eu_citizen": "EU-Bürger:innen",
        "skilled_worker": "Fachkräfte",
        "resettler": "Spätaussiedler:innen",
        "other": "sonstiger Status",
    },
}
BENEFIT_NAMES = {
    "en": {"sgb2": "SGB II (Bürgergeld)", "asylblg": "AsylbLG benefits", "none": "no benefits"},
    "de": {
        "sgb2": "SGB II (Bürgergeld)",
        "asylblg": "AsylbLG-Leistungen",
        "none": "keine Leistungen",
    },
}


def say(lang: str, en: str, de: str) -> str:
    """The sentence in the requested language (German for "de", else English)."""
    return de if lang == "de" else en


def km(value: float, lang: str) -> str:
    """A distance: "3.2 km" ("3,2 km" in German); whole limits without decimals ("25 km")."""
    text = f"{value:g} km" if float(value).is_integer() else f"{value:.1f} km"
    return text.replace(".", ",") if lang == "de" else text


def level_window(lo: int, hi: int, lang: str) -> str:
    """The window as read aloud: "A1–B1", "B2", "up to A2", "from B1"."""
    top = len(GERMAN_LEVELS) - 1
    if int(lo) == int(hi):
        return level_name(lo)
    if int(lo) <= 0:
        return say(lang, f"up to {level_name(hi)}", f"bis {level_name(hi)}")
    if int(hi) >= top:
        return say(lang, f"from {level_name(lo)}", f"ab {level_name(lo)}")
    return f"{level_name(lo)}–{level_name(hi)}"


def day_text(date_ordinal: int, lang: str) -> str:
    d = date.fromordinal(int(date_ordinal))
    return d.strftime("%d.%m.%Y") if lang == "de" else d.isoformat()


def level_name(rank: int) -> str:
    return GERMAN_LEVELS[int(rank)]


def _names(bits: int, table: dict[str, int], names: dict[str, str]) -> list[str]:
    return [names[k] for k, bit in table.items() if int(bits) & bit]


def days_text(bits: int, lang: str) -> str:
    """Days as read aloud: "Mon–Fri", "Mon, Wed", or "any day" for 0 (no fixed days)."""
    if not bits:
        return say(lang, "any day", "jeden Tag")
    idx = [i for i, d in enumerate(DAYS) if int(bits) & DAY_BIT[d]]
    names = DAY_NAMES["de" if lang == "de" else "en"]
    if len(idx) >= 3 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{names[idx[0]]}–{names[idx[-1]]}"
    return ", ".join(names[i] for i in idx)


def times_text(bits: int, lang: str) -> str:
    """Times as read aloud: "mornings and evenings", or "any time" for 0 (no fixed times)."""
    if not bits:
        return say(lang, "any time", "zu jeder Zeit")
    names = _names(bits, TIME_BIT, TIME_NAMES["de" if lang == "de" else "en"])
    joiner = say(lang, " and ", " und ")
    return joiner.join(names) if len(names) <= 2 else ", ".join(names)


def age_range(lo: int, hi: int, lang: str) -> str:
    if hi >= NO_MAX_AGE:
        return say(lang, f"{lo} and older", f"ab {lo}")
    return f"{lo}–{hi}"


# -- the rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One hard filter: ``code`` names it in responses; ``en``/``de`` say what it demands."""

    code: str
    en: str
    de: str
    passes: Mask
    explain: Explain

    def sentence(self, lang: str) -> str:
        return say(lang, self.en, self.de)


def _category(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return p.need_of_category[s.cat[r]] >= 0


def _category_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    cat = taxonomy.CATEGORIES[int(s.cat[i])]
    label = taxonomy.LABELS[cat][0 if lang == "de" else 1]
    if ok:
        need = p.needs[int(p.need_of_category[s.cat[i]])]
        if need.derived:
            return say(
                lang,
                f"{label} serves the recognition your profession ({need.text}) needs",
                f"{label} dient der Anerkennung, die Ihr Beruf ({need.text}) braucht",
            )
        return say(
            lang,
            f"{label} serves your need '{need.text}'",
            f"{label} passt zu Ihrem Bedarf „{need.text}“",
        )
    return say(
        lang,
        f"{label} is not among your needs",
        f"{label} gehört zu keinem Ihrer Bedarfe",
    )


def _active(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return s.active[r] & (s.end[r] >= p.today.toordinal())


def _active_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if s.archived[i]:
        return say(lang, "the offer has been withdrawn", "das Angebot wurde zurückgezogen")
    if not s.active[i]:
        return say(lang, "the offer is inactive", "das Angebot ist nicht aktiv")
    if s.end[i] < p.today.toordinal():
        end = day_text(s.end[i], lang)
        return say(lang, f"the offer ended on {end}", f"das Angebot endete am {end}")
    if s.end[i] != NO_END:
        end = day_text(s.end[i], lang)
        return say(lang, f"active, runs until {end}", f"aktiv, läuft bis {end}")
    return say(lang, "active", "aktiv")


def _age(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    age = p.profile.age
    return CHILDCARE[s.cat[r]] | ((s.min_age[r] <= age) & (age <= s.max_age[r]))


def _age_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if CHILDCARE[s.cat[i]]:
        return say(
            lang,
            "childcare: the age limits are the child's",
            "Kinderbetreuung: die Altersgrenzen gelten für das Kind",
        )
    lo, hi, age = int(s.min_age[i]), int(s.max_age[i]), p.profile.age
    if lo == 0 and hi >= NO_MAX_AGE:
        return say(lang, "no age limit", "keine Altersgrenze")
    span = age_range(lo, hi, lang)
    if ok:
        return say(lang, f"for ages {span}; you are {age}", f"Alter {span}; Sie sind {age}")
    return say(lang, f"only for ages {span}; you are {age}", f"nur Alter {span}; Sie sind {age}")


def _gender(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return (s.genders[r] & p.gender_bit) != 0


def _gender_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if int(s.genders[i]) == ALL_GENDERS:
        return say(lang, "open to all genders", "offen für alle Geschlechter")
    names = ", ".join(_names(s.genders[i], GENDER_BIT, GENDER_NAMES[_l(lang)]))
    if ok:
        return say(lang, f"for {names}, which includes you", f"für {names}, das passt")
    return say(lang, f"only for {names}", f"nur für {names}")


def _status(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return (s.statuses[r] & p.status_bit) != 0


def _status_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if int(s.statuses[i]) == ALL_STATUSES:
        return say(lang, "open to every residence status", "offen für jeden Aufenthaltsstatus")
    names = ", ".join(_names(s.statuses[i], STATUS_BIT, STATUS_NAMES[_l(lang)]))
    mine = p.profile.residence_status
    own = STATUS_NAMES[_l(lang)][mine] if mine else say(lang, "not recorded", "nicht erfasst")
    if ok:
        return say(lang, f"for {names}; yours fits", f"für {names}; Ihrer passt")
    return say(lang, f"only for {names}; your status: {own}", f"nur für {names}; Ihr Status: {own}")


def _benefits(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    need = s.benefits[r]
    return (need == 0) | ((need & p.benefit_bits) != 0)


def _benefits_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if not s.benefits[i]:
        return say(lang, "no benefit entitlement required", "kein Leistungsbezug nötig")
    names = say(lang, " or ", " oder ").join(
        _names(s.benefits[i], BENEFIT_BIT, BENEFIT_NAMES[_l(lang)])
    )
    if ok:
        return say(lang, f"requires {names}, which you receive", f"setzt {names} voraus; das passt")
    return say(lang, f"requires {names}", f"setzt {names} voraus")


def _level(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return (s.level_min[r] <= p.level) & (p.level <= s.level_max[r])


def _level_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    lo, hi = int(s.level_min[i]), int(s.level_max[i])
    mine = p.profile.german_level
    if lo == 0 and hi == len(GERMAN_LEVELS) - 1:
        return say(lang, "no German level required", "kein Deutschniveau vorausgesetzt")
    window = level_window(lo, hi, lang)
    if ok:
        return say(
            lang, f"for German {window}; yours is {mine}", f"für Deutsch {window}; Ihres ist {mine}"
        )
    return say(
        lang,
        f"needs German {window}; yours is {mine}",
        f"verlangt Deutsch {window}; Ihres ist {mine}",
    )


def _literacy(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return ~s.literacy[r] | p.profile.literate


def _literacy_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if not s.literacy[i]:
        return say(
            lang, "no reading and writing required", "Lesen und Schreiben nicht vorausgesetzt"
        )
    if ok:
        return say(
            lang,
            "requires reading and writing, which you can",
            "setzt Lesen und Schreiben voraus; das passt",
        )
    return say(lang, "requires reading and writing", "setzt Lesen und Schreiben voraus")


def distances_km(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    """Great-circle km from the person to each row's offer (NaN: the offer has no place)."""
    return haversine_km(p.latitude, p.longitude, s.lat[r], s.lon[r])


def _distance(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    near = distances_km(s, r, p) <= p.profile.max_distance_km  # NaN compares False
    return near | (s.online[r] & p.profile.online_ok)


def _distance_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    d = float(distances_km(s, np.array([i]), p)[0])
    limit = km(p.profile.max_distance_km, lang)
    if np.isfinite(d) and d <= p.profile.max_distance_km:
        return say(
            lang,
            f"{km(d, lang)} away, within your {limit}",
            f"{km(d, lang)} entfernt, innerhalb Ihrer {limit}",
        )
    if s.online[i] and p.profile.online_ok:
        return say(lang, "online, which you accept", "online, das passt für Sie")
    if s.online[i]:
        where = say(lang, "online only", "nur online") if not np.isfinite(d) else km(d, lang)
        return say(
            lang,
            f"{where}; you did not accept online offers",
            f"{where}; Online-Angebote haben Sie nicht gewählt",
        )
    return say(
        lang,
        f"{km(d, lang)} away, beyond your {limit}",
        f"{km(d, lang)} entfernt, weiter als Ihre {limit}",
    )


def _overlaps(offer_bits: np.ndarray, person_bits: int) -> np.ndarray:
    if not person_bits:
        return np.ones(len(offer_bits), dtype=bool)
    return (offer_bits == 0) | ((offer_bits & person_bits) != 0)


def _schedule(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return _overlaps(s.days[r], p.day_bits) & _overlaps(s.times[r], p.time_bits)


def _schedule_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    when = f"{days_text(s.days[i], lang)}, {times_text(s.times[i], lang)}"
    if not s.days[i] and not s.times[i]:
        return say(lang, "no fixed schedule", "keine festen Zeiten")
    if ok:
        return say(
            lang,
            f"runs {when}, when you are available",
            f"findet {when} statt, wenn Sie Zeit haben",
        )
    yours = f"{days_text(p.day_bits, lang)}, {times_text(p.time_bits, lang)}"
    return say(
        lang,
        f"runs {when}; you are available {yours}",
        f"findet {when} statt; Sie haben {yours} Zeit",
    )


def _start(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    if not p.earliest_start:
        return np.ones(len(r), dtype=bool)
    start = s.start[r]
    return (start == 0) | (start >= p.earliest_start)


def _start_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if not s.start[i]:
        return say(lang, "no fixed start date", "kein fester Beginn")
    start = day_text(s.start[i], lang)
    if not p.earliest_start:
        return say(lang, f"starts {start}", f"beginnt am {start}")
    earliest = day_text(p.earliest_start, lang)
    if ok:
        return say(
            lang,
            f"starts {start}, not before your {earliest}",
            f"beginnt am {start}, nicht vor Ihrem {earliest}",
        )
    return say(
        lang,
        f"starts {start}, before you can begin ({earliest})",
        f"beginnt am {start}, bevor Sie anfangen können ({earliest})",
    )


def _wheelchair(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    if not p.profile.wheelchair:
        return np.ones(len(r), dtype=bool)
    return s.wheelchair[r] | (s.online[r] & p.profile.online_ok)


def _wheelchair_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if not p.profile.wheelchair:
        return say(lang, "no step-free access needed", "kein barrierefreier Zugang nötig")
    if s.wheelchair[i]:
        return say(lang, "wheelchair accessible", "rollstuhlgerecht")
    if ok:
        return say(lang, "taken online, so access is no obstacle", "online, daher kein Hindernis")
    return say(lang, "not wheelchair accessible", "nicht rollstuhlgerecht")


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


def _child_age_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    if not CHILDCARE[s.cat[i]]:
        return say(lang, "not a childcare offer", "kein Betreuungsangebot")
    span = age_range(int(s.min_age[i]), int(s.max_age[i]), lang)
    if not p.profile.children_ages:
        return say(
            lang,
            f"takes children aged {span}; no ages recorded",
            f"für Kinder von {span} Jahren; kein Alter erfasst",
        )
    kids = fitting_children(s, i, p)
    ages = ", ".join(str(a) for a in (kids or p.profile.children_ages))
    if ok:
        return say(
            lang,
            f"takes children aged {span}: yours aged {ages}",
            f"für Kinder von {span} Jahren: Ihre im Alter von {ages}",
        )
    return say(
        lang,
        f"takes children aged {span}; yours are {ages}",
        f"für Kinder von {span} Jahren; Ihre sind {ages}",
    )


def _capacity(s: Snapshot, r: np.ndarray, p: ResolvedProfile) -> np.ndarray:
    return s.cap_free[r] != 0  # -1 = not reported: assume a place


def _capacity_text(s: Snapshot, i: int, p: ResolvedProfile, ok: bool, lang: str) -> str:
    free = int(s.cap_free[i])
    if free < 0:
        return say(lang, "free places not reported", "freie Plätze nicht gemeldet")
    if ok:
        return say(
            lang,
            f"{free} free place{'' if free == 1 else 's'}",
            f"{free} {'freier Platz' if free == 1 else 'freie Plätze'}",
        )
    return say(lang, "no free place now (waitlist)", "derzeit kein freier Platz (Warteliste)")


def _l(lang: str) -> str:
    return "de" if lang == "de" else "en"


RULES: tuple[Rule, ...] = (
    Rule(
        "category",
        "The offer serves a stated need.",
        "Das Angebot passt zu einem genannten Bedarf.",
        _category,
        _category_text,
    ),
    Rule(
        "distance",
        "The offer is within the maximum distance, or online and online is fine.",
        "Das Angebot ist nah genug oder online und online ist möglich.",
        _distance,
        _distance_text,
    ),
    Rule(
        "active",
        "The offer is active and has not ended.",
        "Das Angebot ist aktiv und nicht beendet.",
        _active,
        _active_text,
    ),
    Rule(
        "age",
        "The person's age is within the offer's age limits.",
        "Das Alter liegt in den Altersgrenzen des Angebots.",
        _age,
        _age_text,
    ),
    Rule(
        "gender",
        "The offer is open to the person's gender.",
        "Das Angebot steht dem Geschlecht der Person offen.",
        _gender,
        _gender_text,
    ),
    Rule(
        "residence_status",
        "The offer is open to the person's residence status.",
        "Das Angebot steht dem Aufenthaltsstatus offen.",
        _status,
        _status_text,
    ),
    Rule(
        "benefits",
        "The person receives any benefit the offer requires.",
        "Die Person bezieht die vorausgesetzten Leistungen.",
        _benefits,
        _benefits_text,
    ),
    Rule(
        "german_level",
        "The person's German level is within the offer's window.",
        "Das Deutschniveau liegt im Bereich des Angebots.",
        _level,
        _level_text,
    ),
    Rule(
        "literacy",
        "The person can read and write if the offer requires it.",
        "Die Person kann lesen und schreiben, falls nötig.",
        _literacy,
        _literacy_text,
    ),
    Rule(
        "schedule",
        "The offer's schedule overlaps the person's availability.",
        "Die Zeiten des Angebots passen zur Verfügbarkeit.",
        _schedule,
        _schedule_text,
    ),
    Rule(
        "start",
        "The offer starts on or after the earliest start.",
        "Das Angebot beginnt frühestens zum möglichen Start.",
        _start,
        _start_text,
    ),
    Rule(
        "wheelchair",
        "The offer is wheelchair accessible when needed.",
        "Das Angebot ist bei Bedarf rollstuhlgerecht.",
        _wheelchair,
        _wheelchair_text,
    ),
    Rule(
        "child_age",
        "A childcare offer takes one of the person's children by age.",
        "Ein Betreuungsangebot passt zum Alter eines Kindes.",
        _child_age,
        _child_age_text,
    ),
    Rule(
        "capacity",
        "The offer has a free place (otherwise it is a waitlist alternative).",
        "Das Angebot hat einen freien Platz (sonst Warteliste).",
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
    rows = rows[_category(s, rows, p)]
    if p.profile.online_ok:
        online = s.grid.online_rows
        rows = np.union1d(rows, online[_category(s, online, p)])
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


def check_offer(s: Snapshot, row: int, p: ResolvedProfile, lang: str = "en") -> list[RuleOutcome]:
    """Every rule for one offer, passed or failed, with the sentence that says why."""
    r = np.array([row], dtype=np.int64)
    out = []
    for rule in RULES:
        ok = bool(rule.passes(s, r, p)[0])
        out.append(RuleOutcome(rule.code, ok, rule.explain(s, row, p, ok, lang)))
    return out
