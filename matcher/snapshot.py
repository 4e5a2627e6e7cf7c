"""The catalogue as numpy arrays, so that rules and features run over every offer at once.

A ``Snapshot`` holds one row per offer (every non-archived offer, inactive ones included so
the "active" rule can say why they are left out): category index, coordinates, age bounds,
German level ranks, bitmasks for genders, residence statuses, benefits, days and times, a
language matrix, word ids of its text, dates as ordinals, capacity and flags — plus, built
lazily per snapshot, offer counts per category and a lat/lon grid so that a request reads only
the rows near the person. It is immutable once built: a request takes the current snapshot and
reads it without locks.

``SnapshotCache`` keeps one snapshot per process and brings it up to date on every request:
it reads the catalogue version (``catalog_state.seq``, one indexed query) and, when that moved,
fetches only the offers changed since (``WHERE seq > known``) and patches a copy of the arrays
— an agency's edit is visible to the next request without rebuilding 100,000 rows. Archived
offers become dead rows; when too many are dead the arrays are compacted. The cache also holds
the process's outcome history (``matcher.history``), fed on every use with the referral events
it has not seen yet from a pluggable ``EventFeed`` (the service plugs in casework's).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import taxonomy
from catalog.store import current_seq
from catalog.tables import Offer
from catalog.vocab import (
    BENEFITS,
    DAYS,
    GENDERS,
    LEVEL_RANK,
    RESIDENCE_STATUSES,
    TARGET_GROUPS,
)
from catalog.vocab import TIMES as TIME_SLOTS
from catalog.vocab import area_key as service_area_key
from lotse.geo import box_degrees
from matcher.history import (
    LOOKBACK_EVENTS,
    EventFeed,
    OutcomeHistory,
    area_key,
    org_key,
)
from matcher.needs import FILLER, PROFESSION_BIT, normalise, regulated_profession

CATEGORY_INDEX: dict[str, int] = {c: i for i, c in enumerate(taxonomy.CATEGORIES)}
GENDER_BIT = {g: 1 << i for i, g in enumerate(GENDERS)}
#: Bit 15 stands for "status not recorded": only unrestricted offers carry it.
STATUS_BIT = {s: 1 << i for i, s in enumerate(RESIDENCE_STATUSES)}
UNKNOWN_STATUS_BIT = 1 << 15
BENEFIT_BIT = {b: 1 << i for i, b in enumerate(BENEFITS)}
DAY_BIT = {d: 1 << i for i, d in enumerate(DAYS)}
TIME_BIT = {t: 1 << i for i, t in enumerate(TIME_SLOTS)}
GROUP_BIT = {t: 1 << i for i, t in enumerate(TARGET_GROUPS)}
ALL_GENDERS = sum(GENDER_BIT.values())
ALL_STATUSES = 0xFFFF
NO_MAX_AGE = 200
NO_END = date.max.toordinal()
#: How often (seconds) the outcome history looks back for events that committed late.
LOOKBACK_SECONDS = 30.0
#: Compact the arrays when this share of rows is dead (archived since the last build).
COMPACT_DEAD_SHARE = 0.2
#: Word sets (professions) whose matching rows a snapshot keeps (``Snapshot.naming_rows``):
#: one boolean per offer each.
NAMING_CACHE = 128
#: Grid cell size in degrees for the spatial index (about 22 × 14 km in Germany).
CELL_DEGREES = 0.2
_CELL_STRIDE = 100_000

#: Columns an offer row needs; read with one SELECT (no ORM objects for 100,000 rows).
OFFER_COLUMNS = (
    "id", "title", "description", "category", "latitude", "longitude", "online", "languages",
    "min_age", "max_age", "genders", "residence_statuses", "benefits_required",
    "min_german_level", "max_german_level", "target_german_level", "literacy_required",
    "target_groups", "days", "times", "start_date", "end_date", "capacity_total",
    "capacity_free", "childcare", "wheelchair_accessible", "status", "archived", "seq",
    "organization", "municipality", "hours_per_week", "cost_eur", "service_area_type",
    "service_area", "professions",
)  # fmt: skip

#: Per-offer numeric columns: name → dtype. ``languages`` is a matrix, kept apart.
COLUMNS: dict[str, Any] = {
    "cat": np.int16,
    "lat": np.float64,
    "lon": np.float64,
    "online": np.bool_,
    "min_age": np.int16,
    "max_age": np.int16,
    "genders": np.uint8,
    "statuses": np.uint16,
    "benefits": np.uint8,
    "level_min": np.int8,
    "level_max": np.int8,
    "level_target": np.int8,
    "literacy": np.bool_,
    "groups": np.uint8,
    "days": np.uint8,
    "times": np.uint8,
    "start": np.int32,
    "end": np.int32,
    "cap_total": np.int32,
    "cap_free": np.int32,
    "childcare": np.bool_,
    "wheelchair": np.bool_,
    "active": np.bool_,
    "archived": np.bool_,
    "hours": np.float64,
    "cost": np.float64,
    "area_level": np.int8,
    "area_key": np.int64,
    "prof_listed": np.bool_,
    "prof_bits": np.uint32,
}
#: Service area kinds as ``area_level`` numbers (0: a radius around the address).
AREA_LEVEL = {"municipality": 1, "district": 2, "state": 3, "country": 4}


#: Words kept per offer for profession similarity (title first, then the description's start).
MAX_TOKENS = 24
MIN_TOKEN = 4


class Vocabulary:
    """The words of offer texts, numbered; append-only and shared by a snapshot and the ones
    patched from it, so word ids stay valid. Id 0 is padding.

    ``matching(queries)`` marks the words an offer for a profession would contain: words that
    begin with a query ("pflege" → "pflegefachkraefte") or long words a query begins with. A
    German compound's head is its last part, so a query at the end is another thing
    ("Kindertagespflege" is childcare, not nursing) and does not count. It is
    computed once per query set over the vocabulary and extended as words are added, so a
    request only gathers from it."""

    def __init__(self) -> None:
        self.words: list[str] = [""]
        self.index: dict[str, int] = {"": 0}
        self._lock = threading.Lock()
        self._matches: dict[tuple[str, ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, words: Iterable[str]) -> list[int]:
        out = []
        for word in words:
            i = self.index.get(word)
            if i is None:
                with self._lock:
                    i = self.index.get(word)
                    if i is None:
                        i = len(self.words)
                        self.words.append(word)
                        self.index[word] = i
            out.append(i)
        return out

    def matching(self, queries: tuple[str, ...]) -> np.ndarray:
        """Boolean mask over word ids: which words match any of ``queries``."""
        mask = self._matches.get(queries)
        size = len(self.words)
        if mask is not None and len(mask) == size:
            return mask
        start = 0 if mask is None else len(mask)
        terms = [q for q in queries if len(q) >= MIN_TOKEN]
        extra = np.array(
            [
                any(w.startswith(t) or (len(w) >= 6 and t.startswith(w)) for t in terms)
                for w in self.words[start:size]
            ],
            dtype=bool,
        )
        mask = extra if mask is None else np.concatenate([mask, extra])
        if len(self._matches) > 256:
            self._matches.clear()
        self._matches[queries] = mask
        return mask


def offer_tokens(text: str) -> list[str]:
    """The distinct content words of a normalised offer text, at most ``MAX_TOKENS``."""
    words = [w for w in text.split() if len(w) >= MIN_TOKEN and w not in FILLER]
    return list(dict.fromkeys(words))[:MAX_TOKENS]


def _bits(values: Iterable[str] | None, table: dict[str, int]) -> int:
    return sum(table.get(v, 0) for v in values or ())


def _rank(level: str | None, default: int) -> int:
    return LEVEL_RANK.get(level or "", default)


def _ordinal(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.toordinal()


def _none(value: Any, default: Any) -> Any:
    return default if value is None else value


def offer_text(title: str, description: str | None) -> str:
    """What profession similarity compares against: the title and the description's start,
    normalised like need texts."""
    return normalise(f"{title} {(description or '')[:160]}")


def _row_values(o: dict[str, Any]) -> dict[str, Any]:
    """One offer's values for every numeric column (sentinels for "not restricted")."""
    lat = o.get("latitude")
    lon = o.get("longitude")
    return {
        "cat": CATEGORY_INDEX.get(o["category"], -1),
        "lat": np.nan if lat is None else lat,
        "lon": np.nan if lon is None else lon,
        "online": bool(o.get("online")),
        "min_age": _none(o.get("min_age"), 0),
        "max_age": _none(o.get("max_age"), NO_MAX_AGE),
        "genders": _bits(o.get("genders"), GENDER_BIT) or ALL_GENDERS,
        "statuses": _bits(o.get("residence_statuses"), STATUS_BIT) or ALL_STATUSES,
        "benefits": _bits(o.get("benefits_required"), BENEFIT_BIT),
        "level_min": _rank(o.get("min_german_level"), 0),
        "level_max": _rank(o.get("max_german_level"), len(LEVEL_RANK) - 1),
        "level_target": _rank(o.get("target_german_level"), -1),
        "literacy": bool(o.get("literacy_required")),
        "groups": _bits(o.get("target_groups"), GROUP_BIT),
        "days": _bits(o.get("days"), DAY_BIT),
        "times": _bits(o.get("times"), TIME_BIT),
        "start": _ordinal(o.get("start_date"), 0),
        "end": _ordinal(o.get("end_date"), NO_END),
        "cap_total": _none(o.get("capacity_total"), -1),
        "cap_free": _none(o.get("capacity_free"), -1),
        "childcare": bool(o.get("childcare")),
        "wheelchair": bool(o.get("wheelchair_accessible")),
        "active": o.get("status", "active") == "active" and not o.get("archived"),
        "archived": bool(o.get("archived")),
        "hours": np.nan if o.get("hours_per_week") is None else o["hours_per_week"],
        "cost": _none(o.get("cost_eur"), 0.0),
        "area_level": AREA_LEVEL.get(o.get("service_area_type") or "", 0),
        "area_key": service_area_key(o.get("service_area")),
        "prof_listed": bool(o.get("professions")),
        "prof_bits": profession_bits(o.get("professions") or ()),
    }


def profession_bits(texts: Iterable[str]) -> int:
    """The regulated professions named in ``texts`` as bits (``PROFESSION_BIT``); names of
    no regulated profession ("Handwerksberufe") add none."""
    bits = 0
    for text in texts:
        found = regulated_profession(text)
        if found is not None:
            bits |= PROFESSION_BIT[found.key]
    return bits


def _history_keys(o: dict[str, Any]) -> tuple[str, str]:
    """The offer's organisation and area keys for the outcome history."""
    category = o.get("category") or ""
    parent = taxonomy.parent(category) if taxonomy.is_known(category) else category
    return org_key(o.get("organization") or ""), area_key(parent, o.get("municipality") or "")


@dataclass(frozen=True)
class Snapshot:
    """The catalogue at version ``seq`` as column arrays, one row per offer.

    Sentinels: no max age = 200; no end = date.max; unknown capacity = -1; no start = 0; an
    empty genders or statuses list (open to all) = every bit; days/times 0 = no fixed schedule;
    level_target -1 = none; unknown hours NaN. ``alive`` is False for rows archived since the
    arrays were built. ``orgs`` and ``areas`` are the outcome history's keys of each offer.
    """

    seq: int
    cols: dict[str, np.ndarray]
    ids: np.ndarray  # str, for tie-breaking and output
    titles: np.ndarray  # object
    orgs: np.ndarray  # object: organisation key (matcher.history.org_key)
    areas: np.ndarray  # object: need × municipality key (matcher.history.area_key)
    tokens: np.ndarray  # int32, rows × MAX_TOKENS word ids (0 = padding)
    vocabulary: Vocabulary
    languages: np.ndarray  # bool, rows × len(language_codes)
    language_codes: tuple[str, ...]
    alive: np.ndarray
    row_of: dict[str, int] = field(repr=False)
    live_rows: np.ndarray = field(repr=False)

    def __getattr__(self, name: str) -> np.ndarray:
        # s.cat, s.lat, ...: the numeric columns read like attributes.
        try:
            return self.__dict__["cols"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_live(self) -> int:
        return len(self.live_rows)

    # -- building -----------------------------------------------------------------------

    @classmethod
    def from_records(
        cls,
        records: Sequence[dict[str, Any]],
        seq: int = 0,
        vocabulary: Vocabulary | None = None,
    ) -> Snapshot:
        """Build from offer dicts (contract field names plus ``id``); the one place where
        offers are turned into arrays, for the database, tests and one-offer explanations."""
        vocabulary = vocabulary if vocabulary is not None else Vocabulary()
        values = [_row_values(o) for o in records]
        cols = {
            name: np.array([v[name] for v in values], dtype=dtype)
            if values
            else np.empty(0, dtype=dtype)
            for name, dtype in COLUMNS.items()
        }
        codes = sorted({c for o in records for c in o.get("languages") or ()})
        languages = _language_matrix(records, codes)
        ids = np.array([str(o["id"]) for o in records], dtype="U36")
        alive = np.ones(len(records), dtype=bool)
        keys = [_history_keys(o) for o in records]
        return cls(
            seq=seq,
            cols=cols,
            ids=ids,
            titles=np.array([o["title"] for o in records], dtype=object),
            orgs=np.array([k[0] for k in keys], dtype=object),
            areas=np.array([k[1] for k in keys], dtype=object),
            tokens=_token_matrix(records, vocabulary),
            vocabulary=vocabulary,
            languages=languages,
            language_codes=tuple(codes),
            alive=alive,
            row_of={str(o["id"]): i for i, o in enumerate(records)},
            live_rows=np.arange(len(records)),
        )

    def patched(self, records: Sequence[dict[str, Any]], seq: int) -> Snapshot:
        """A new snapshot with ``records`` (offers changed since this one) applied: archived
        ones die, known ones are overwritten in place, new ones are appended. This snapshot
        is not modified, so requests reading it are undisturbed."""
        dead = [str(o["id"]) for o in records if o.get("archived")]
        live = [o for o in records if not o.get("archived")]
        fresh = Snapshot.from_records(live, seq, self.vocabulary)
        codes = tuple(sorted(set(self.language_codes) | set(fresh.language_codes)))
        old_lang = _widen(self.languages, self.language_codes, codes)
        new_lang = _widen(fresh.languages, fresh.language_codes, codes)
        known = np.array([self.row_of.get(str(o["id"]), -1) for o in live], dtype=np.int64)
        is_new = known < 0
        cols = {name: arr.copy() for name, arr in self.cols.items()}
        ids, titles, tokens = self.ids.copy(), self.titles.copy(), self.tokens.copy()
        orgs, areas = self.orgs.copy(), self.areas.copy()
        alive = self.alive.copy()
        upd = np.flatnonzero(~is_new)
        at = known[upd]
        for name in cols:
            cols[name][at] = fresh.cols[name][upd]
        ids[at], titles[at], tokens[at] = fresh.ids[upd], fresh.titles[upd], fresh.tokens[upd]
        orgs[at], areas[at] = fresh.orgs[upd], fresh.areas[upd]
        old_lang[at] = new_lang[upd]
        alive[at] = True
        add = np.flatnonzero(is_new)
        row_of = dict(self.row_of)
        if len(add):
            base = len(ids)
            for name in cols:
                cols[name] = np.concatenate([cols[name], fresh.cols[name][add]])
            ids = np.concatenate([ids, fresh.ids[add]])
            titles = np.concatenate([titles, fresh.titles[add]])
            orgs = np.concatenate([orgs, fresh.orgs[add]])
            areas = np.concatenate([areas, fresh.areas[add]])
            tokens = np.concatenate([tokens, fresh.tokens[add]])
            old_lang = np.concatenate([old_lang, new_lang[add]])
            alive = np.concatenate([alive, np.ones(len(add), dtype=bool)])
            row_of.update({str(ids[base + j]): base + j for j in range(len(add))})
        for offer_id in dead:
            row = row_of.pop(offer_id, None)
            if row is not None:
                alive[row] = False
        snap = Snapshot(
            seq=seq,
            cols=cols,
            ids=ids,
            titles=titles,
            orgs=orgs,
            areas=areas,
            tokens=tokens,
            vocabulary=self.vocabulary,
            languages=old_lang,
            language_codes=codes,
            alive=alive,
            row_of=row_of,
            live_rows=np.flatnonzero(alive),
        )
        if (~alive).sum() > COMPACT_DEAD_SHARE * max(len(alive), 1):
            return snap.compacted()  # rows move: the history positions start afresh
        OutcomeHistory.carry_rows_index(self, snap, at)
        self._carry_naming_rows(snap, at)
        return snap

    def naming_rows(self, words: tuple[str, ...]) -> np.ndarray:
        """Per row: does the offer's text contain a word matching ``words``
        (``Vocabulary.matching``)? Kept with the snapshot per word set: a request for a
        profession then gathers its rows from one array instead of looking through every
        eligible offer's words, and a patched snapshot carries the arrays on
        (``_carry_naming_rows``)."""
        cache = self.__dict__.setdefault("_naming_rows", {})
        found = cache.get(words)
        if found is None:
            if len(cache) >= NAMING_CACHE:
                cache.clear()
            found = cache[words] = self.vocabulary.matching(words)[self.tokens].any(axis=1)
        return found

    def _carry_naming_rows(self, new: Snapshot, changed: np.ndarray) -> None:
        """Hand ``naming_rows`` on to ``new``, patched from this snapshot: rows keep their
        places, so only the ``changed`` rows and the appended ones are looked at again."""
        cache = self.__dict__.get("_naming_rows")
        if not cache:
            return
        n_old = len(self.ids)
        again = np.concatenate([changed, np.arange(n_old, len(new.ids))]).astype(np.int64)
        carried = {}
        for words, old in list(cache.items()):
            rows = np.empty(len(new.ids), dtype=bool)
            rows[:n_old] = old
            rows[again] = new.vocabulary.matching(words)[new.tokens[again]].any(axis=1)
            carried[words] = rows
        new.__dict__["_naming_rows"] = carried

    def compacted(self) -> Snapshot:
        """The same offers without dead rows."""
        keep = self.alive
        ids = self.ids[keep]
        return Snapshot(
            seq=self.seq,
            cols={name: arr[keep] for name, arr in self.cols.items()},
            ids=ids,
            titles=self.titles[keep],
            orgs=self.orgs[keep],
            areas=self.areas[keep],
            tokens=self.tokens[keep],
            vocabulary=self.vocabulary,
            languages=self.languages[keep],
            language_codes=self.language_codes,
            alive=np.ones(len(ids), dtype=bool),
            row_of={str(v): i for i, v in enumerate(ids)},
            live_rows=np.arange(len(ids)),
        )

    @functools.cached_property
    def category_counts(self) -> np.ndarray:
        """Live offers per category index (the last slot counts unknown categories)."""
        n = len(taxonomy.CATEGORIES) + 1
        return np.bincount(self.cat[self.live_rows], minlength=n)[:n]

    @functools.cached_property
    def area_rows(self) -> np.ndarray:
        """Live offers that serve an area instead of a radius (found beside the grid)."""
        live = self.live_rows
        return live[self.area_level[live] > 0]

    @functools.cached_property
    def grid(self) -> Grid:
        """The spatial index of live offers (built on first use per snapshot)."""
        return Grid(self.lat, self.lon, self.live_rows, self.online)

    def language_index(self, codes: Iterable[str]) -> np.ndarray:
        """Columns of ``languages`` for the given ISO codes (unknown codes are skipped)."""
        pos = {c: i for i, c in enumerate(self.language_codes)}
        return np.array([pos[c] for c in codes if c in pos], dtype=np.int64)


class Grid:
    """Live offers bucketed by a lat/lon grid, so that a request reads only the rows near the
    person instead of all 100,000: rows sorted by cell key, one binary search per grid row."""

    def __init__(
        self, lat: np.ndarray, lon: np.ndarray, live: np.ndarray, online: np.ndarray
    ) -> None:
        placed = live[np.isfinite(lat[live])]
        keys = self._keys(lat[placed], lon[placed])
        order = np.argsort(keys, kind="stable")
        self.rows = placed[order]
        self.keys = keys[order]
        self.online_rows = live[online[live]]

    @staticmethod
    def _cell(value: np.ndarray | float) -> np.ndarray:
        return np.floor(np.asarray(value) / CELL_DEGREES).astype(np.int64)

    @classmethod
    def _keys(cls, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        # Offsets keep every key positive for any coordinate on earth.
        return (cls._cell(lat) + 1000) * _CELL_STRIDE + (cls._cell(lon) + 1000)

    def near(self, lat: float, lon: float, radius_km: float) -> np.ndarray:
        """Rows whose place lies in the bounding box of a circle (a superset of the circle)."""
        dlat, dlon = box_degrees(lat, radius_km)
        lo_i, hi_i = int(self._cell(lat - dlat)), int(self._cell(lat + dlat))
        lo_j, hi_j = int(self._cell(lon - dlon)), int(self._cell(lon + dlon))
        base = np.arange(lo_i, hi_i + 1, dtype=np.int64) + 1000
        starts = np.searchsorted(self.keys, base * _CELL_STRIDE + lo_j + 1000, "left")
        ends = np.searchsorted(self.keys, base * _CELL_STRIDE + hi_j + 1000, "right")
        if len(starts) == 1:
            return self.rows[starts[0] : ends[0]]
        return np.concatenate([self.rows[a:b] for a, b in zip(starts, ends, strict=True)])


def _language_matrix(records: Sequence[dict[str, Any]], codes: Sequence[str]) -> np.ndarray:
    pos = {c: i for i, c in enumerate(codes)}
    matrix = np.zeros((len(records), len(codes)), dtype=bool)
    for i, o in enumerate(records):
        for c in o.get("languages") or ():
            matrix[i, pos[c]] = True
    return matrix


def _token_matrix(records: Sequence[dict[str, Any]], vocabulary: Vocabulary) -> np.ndarray:
    matrix = np.zeros((len(records), MAX_TOKENS), dtype=np.int32)
    for i, o in enumerate(records):
        ids = vocabulary.ids(offer_tokens(offer_text(o["title"], o.get("description"))))
        matrix[i, : len(ids)] = ids
    return matrix


def _widen(matrix: np.ndarray, have: Sequence[str], want: Sequence[str]) -> np.ndarray:
    """``matrix`` with columns for ``want`` (a superset of ``have``), zeros where new."""
    if tuple(have) == tuple(want):
        return matrix.copy()
    out = np.zeros((matrix.shape[0], len(want)), dtype=bool)
    pos = {c: i for i, c in enumerate(want)}
    for j, c in enumerate(have):
        out[:, pos[c]] = matrix[:, j]
    return out


# -- reading the database ---------------------------------------------------------------


def _select(*where: Any):
    cols = [getattr(Offer, name) for name in OFFER_COLUMNS]
    return select(*cols).where(*where)


def load_offers(session: Session, since_seq: int | None = None) -> list[dict[str, Any]]:
    """Offer rows as dicts: every non-archived offer, or (``since_seq``) every offer changed
    after that catalogue version, archived ones included so that they can be dropped."""
    if since_seq is None:
        stmt = _select(Offer.archived.is_(False)).order_by(Offer.seq, Offer.id)
    else:
        stmt = _select(Offer.seq > since_seq).order_by(Offer.seq, Offer.id)
    return [dict(row._mapping) for row in session.execute(stmt)]


def load_offer(session: Session, offer_id: str) -> dict[str, Any] | None:
    """One offer (archived too) as a dict, or None."""
    row = session.execute(_select(Offer.id == offer_id)).first()
    return dict(row._mapping) if row else None


class SnapshotCache:
    """The process's current snapshot, refreshed from the catalogue version on each use, and
    the process's outcome history, brought up to date from new referral events on each use.

    Thread-safe: readers get an immutable snapshot; one thread at a time builds or patches,
    and the new snapshot replaces the old one in a single assignment. The history applies
    events under its own lock.
    """

    def __init__(
        self,
        events: EventFeed | None = None,
        *,
        history: OutcomeHistory | None = None,
        lookback_s: float = LOOKBACK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._history_lock = threading.Lock()
        self.events = events
        self.history = history if history is not None else OutcomeHistory()
        self.lookback_s = lookback_s
        self._clock = clock
        self._looked_back_at = -math.inf
        self.full_builds = 0
        self.patches = 0

    def current(self, session: Session) -> Snapshot:
        """The snapshot at the catalogue's current version (patched when it moved); the
        outcome history is brought up to date on the way."""
        self.refresh_history(session)
        seq = current_seq(session)
        snap = self._snapshot
        if snap is not None and snap.seq == seq:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.seq == seq:
                return snap
            snap = self._build(session, seq) if snap is None else self._patch(session, snap, seq)
            # every live offer's place in the outcome history, found before any request
            # needs it (a patch looks up only its changed and new rows)
            self.history.rows_index(snap, snap.live_rows)
            self._snapshot = snap
            return snap

    def refresh_history(self, session: Session) -> int:
        """Apply referral events the history has not seen: one indexed query for the newest
        event id, and the events themselves only when it moved. Ids are handed out before
        commit, so an event can appear below ids already read; every ``lookback_s`` the
        reader looks ``LOOKBACK_EVENTS`` ids back and applies what it missed."""
        if self.events is None:
            return 0
        history = self.history
        latest = self.events.latest_id(session)
        look_back = self._clock() - self._looked_back_at > self.lookback_s
        if latest <= history.last_event_id and not look_back:
            return 0
        with self._history_lock:
            after = history.last_event_id
            if look_back:
                after = max(0, after - LOOKBACK_EVENTS)
                self._looked_back_at = self._clock()
            elif latest <= after:
                return 0
            found = self.events.events_after(session, after)
            found.sort(key=lambda e: (e.at, e.event_id))
            return history.apply(found)

    def peek(self) -> Snapshot | None:
        """The snapshot as last built, without checking the catalogue (for tests, metrics)."""
        return self._snapshot

    def invalidate(self) -> None:
        """Forget the snapshot; the next request builds it from scratch."""
        with self._lock:
            self._snapshot = None

    def _build(self, session: Session, seq: int) -> Snapshot:
        self.full_builds += 1
        return Snapshot.from_records(load_offers(session), seq)

    def _patch(self, session: Session, snap: Snapshot, seq: int) -> Snapshot:
        changed = load_offers(session, since_seq=snap.seq)
        self.patches += 1
        return snap.patched(changed, seq)
