"""Finding offers that look like the same real-world offer, to report, never to merge.

Two offers are candidates when they share a municipality and category (the block) or a
provider; within a block, titles are normalised (case, umlauts, punctuation, common
abbreviations such as "VHS", German adjective endings) and compared with rapidfuzz.

Look-alikes that are evidently different offers are not reported (``distinct_runs``): the
same course starting months apart, at other days or times of day, or numbered differently
("Kurs 3", "Kurs 4"). The bulk checks (``duplicate_pairs`` for an import, and
``find_duplicate_pairs`` for the whole catalogue) use these rules to skip most comparisons,
and score the rest with ``rapidfuzz.process.cdist``, so 100,000 offers take seconds.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from typing import Any, NamedTuple

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from catalog.tables import Offer

#: Similarity (0–1) from which two offers are reported as likely duplicates.
DUPLICATE_THRESHOLD = 0.85

ABBREVIATIONS = {
    "vhs": "volkshochschule",
    "kita": "kindertagesstaette",
    "kitas": "kindertagesstaette",
    "jmd": "jugendmigrationsdienst",
    "mbe": "migrationsberatung",
    "bamf": "bundesamt",
    "awo": "arbeiterwohlfahrt",
    "drk": "rotes kreuz",
    "ev": "",
    "e": "",
    "v": "",
    "ggmbh": "",
    "gmbh": "",
}
_WORD = re.compile(r"[a-z0-9]+")
_ENDING = re.compile(r"(er|es|en|em|e)$")


_STEMS: dict[str, str] = {}  # word → its stems, space-separated (words repeat a lot)


def _stems(word: str) -> str:
    """One folded word unabbreviated and without its ending."""
    found = _STEMS.get(word)
    if found is None:
        if len(_STEMS) > 200_000:  # bounded: free text can bring any number of words
            _STEMS.clear()
        found = _STEMS[word] = " ".join(
            _ENDING.sub("", part) if len(part) > 5 else part
            for part in ABBREVIATIONS.get(word, word).split()
        )
    return found


def normalise(text: str) -> str:
    """A comparison key: folded, unabbreviated, endings stripped, unique words sorted."""
    text = unicodedata.normalize("NFKC", text).lower()
    # str.replace, not str.translate: translate is much slower on non-ASCII text
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    stems = " ".join([_STEMS.get(w) or _stems(w) for w in _WORD.findall(text)])
    return " ".join(sorted(set(stems.split())))


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised keys in [0, 1] (keys are sorted, so order does not matter)."""
    return fuzz.ratio(a, b) / 100.0


def offer_key(title: str, organization: str) -> str:
    """What identifies an offer for duplicate checks: its title and its provider."""
    return normalise(f"{title} {organization}")


def similar_offers(session: Session, offer: Offer, limit: int = 5) -> list[dict[str, Any]]:
    """Existing offers (any agency) that resemble ``offer``, most similar first."""
    candidates = session.execute(
        select(Offer.id, Offer.title, Offer.organization).where(
            Offer.id != offer.id,
            Offer.archived.is_(False),
            or_(
                (Offer.municipality == offer.municipality) & (Offer.category == offer.category),
                Offer.organization == offer.organization,
            ),
        )
    ).all()
    if not candidates:
        return []
    key = offer_key(offer.title, offer.organization)
    keys = [offer_key(c.title, c.organization) for c in candidates]
    found = process.extract(
        key, keys, scorer=fuzz.ratio, limit=limit, score_cutoff=DUPLICATE_THRESHOLD * 100
    )
    return [
        {
            "offer_id": candidates[i].id,
            "title": candidates[i].title,
            "similarity": round(score / 100.0, 3),
        }
        for _k, score, i in found
    ]


# --- Whole-catalogue and bulk-import checks -----------------------------------------------

#: Titles of one provider filed under different categories are reported only from this
#: similarity (0–1): the same provider rightly runs many similar offers (a course and its
#: intensive variant), so only near-identical titles suggest one offer entered twice.
SAME_PROVIDER_THRESHOLD = 0.95
#: Two courses whose start dates lie further apart than this are different runs, not
#: duplicates, however alike their titles.
START_DATE_TOLERANCE_DAYS = 21
_WEEKS = START_DATE_TOLERANCE_DAYS // 7  # start weeks compared on either side
#: Rows scored per ``cdist`` call, so the score matrix stays small (rows × candidates bytes).
_SLICE = 2_000
#: Parts up to this many rows and columns are scored pair by pair: a ``cdist`` call costs
#: about as much as a hundred single comparisons.
_SMALL = 12


class Sketch(NamedTuple):
    """What duplicate checks need of one offer (or of one import row)."""

    ref: Any
    title: str
    key: str
    title_key: str
    provider: str
    municipality: str
    category: str
    start_date: date | None
    days: frozenset[str]
    times: frozenset[str]
    numbers: frozenset[str]
    week: int | None


def sketch(ref: Any, fields: Mapping[str, Any], cache: dict[Any, Any] | None = None) -> Sketch:
    """The duplicate-check view of an offer's fields; ``cache`` memoises normalised names and
    sets for a batch (providers, places and schedules repeat a lot in real catalogues)."""
    cache = {} if cache is None else cache

    def norm(text: str) -> str:
        found = cache.get(text)
        if found is None:
            found = cache[text] = normalise(text)
        return found

    def as_set(values: Any) -> frozenset[str]:
        # a list, or its JSON text straight from the database (parsed once per distinct text)
        key = values if isinstance(values, str) else tuple(values or ())
        found = cache.get(key)
        if found is None:
            found = cache[key] = frozenset(json.loads(key) if isinstance(key, str) else key)
        return found

    title = fields.get("title") or ""
    title_key = norm(title)
    provider = norm(fields.get("organization") or "")
    words = title_key.split()
    start = _as_date(fields.get("start_date"))
    return Sketch(
        ref,
        title,
        " ".join(sorted({*words, *provider.split()})),
        title_key,
        provider,
        norm(fields.get("municipality") or ""),
        fields.get("category") or "",
        start,
        as_set(fields.get("days")),
        as_set(fields.get("times")),
        frozenset([w for w in words if not w.isalpha()]),
        None if start is None else start.toordinal() // 7,
    )


def sketch_many(items: Iterable[tuple[Any, Mapping[str, Any]]]) -> list[Sketch]:
    """``sketch`` for many ``(ref, fields)``, sharing one cache."""
    cache: dict[Any, Any] = {}
    return [sketch(ref, fields, cache) for ref, fields in items]


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def distinct_runs(a: Sketch, b: Sketch) -> bool:
    """True when two look-alike offers are evidently different offers: start dates both set
    and more than three weeks apart, schedules that share no day or no time of day, or titles
    carrying different numbers ("Kurs 3" and "Kurs 4", "B1" and "B2")."""
    if (
        a.start_date
        and b.start_date
        and abs((a.start_date - b.start_date).days) > START_DATE_TOLERANCE_DAYS
    ):
        return True
    if a.numbers and b.numbers and a.numbers != b.numbers:
        return True
    if a.days and b.days and not (a.days & b.days):
        return True
    return bool(a.times and b.times and not (a.times & b.times))


def _blocks(sketches: Sequence[Sketch], block_of: Callable[[Sketch], Any]) -> list[list[int]]:
    groups: dict[Any, list[int]] = {}
    for i, s in enumerate(sketches):
        groups.setdefault(block_of(s), []).append(i)
    return [members for members in groups.values() if len(members) > 1]


def _dated_windows(
    rows: list[int], cols: list[int], sketches: Sequence[Sketch]
) -> Iterator[tuple[list[int], list[int]]]:
    """Split ``rows × cols`` into parts that leave out only pairs whose start dates are more
    than ``START_DATE_TOLERANCE_DAYS`` apart (which ``distinct_runs`` drops anyway)."""
    if len(cols) < _SMALL:
        yield rows, cols
        return
    by_week: dict[int | None, list[int]] = {}
    for i in cols:
        by_week.setdefault(sketches[i].week, []).append(i)
    undated = by_week.pop(None, [])
    row_weeks: dict[int | None, list[int]] = {}
    for i in rows:
        row_weeks.setdefault(sketches[i].week, []).append(i)
    for week, part in row_weeks.items():
        if week is None or len(by_week) <= 2 * _WEEKS + 1:
            near = cols  # undated rows meet everyone; few distinct weeks are not worth it
        else:
            near = undated + [
                i for w in range(week - _WEEKS, week + _WEEKS + 1) for i in by_week.get(w, ())
            ]
        if near:
            yield part, near


def _candidate_parts(
    members: list[int], sketches: Sequence[Sketch], involved: np.ndarray | None
) -> Iterator[tuple[list[int], list[int]]]:
    """``(rows, cols)`` parts of a block to score, leaving out only pairs ``distinct_runs``
    rejects for their numbers or start dates: titles with numbers are compared with titles
    with the same numbers or none, within three weeks of start."""
    by_numbers: dict[frozenset[str], list[int]] = {}
    for i in members:
        by_numbers.setdefault(sketches[i].numbers, []).append(i)
    plain = by_numbers.pop(frozenset(), [])
    numbered: list[int] = []  # involved rows with numbers, to compare with the plain ones
    for group in by_numbers.values():
        rows = group if involved is None else [i for i in group if involved[i]]
        if rows and len(group) > 1:
            yield from _dated_windows(rows, group, sketches)
        numbered += rows
    if plain and involved is not None and numbered:
        yield from _dated_windows(numbered, plain, sketches)
    if plain:
        rows = plain if involved is None else [i for i in plain if involved[i]]
        if rows:
            yield from _dated_windows(rows, members, sketches)


def _scored_pairs(
    keys: list[str],
    members: list[int],
    sketches: Sequence[Sketch],
    involved: np.ndarray | None,
    cutoff: int,
) -> Iterator[tuple[int, int, int]]:
    """(i, j, score) with i < j for candidate pairs of ``members`` scoring at least ``cutoff``
    (0–100) on ``keys``; with ``involved``, only pairs touching an involved sketch."""
    for rows, cols in _candidate_parts(members, sketches, involved):
        if len(rows) * len(cols) <= _SMALL * _SMALL:  # cheaper than a cdist call
            row_set = set(rows)
            for i in rows:
                a = keys[i]
                for j in cols:
                    if i == j or (j < i and j in row_set):
                        continue
                    score = fuzz.ratio(a, keys[j], score_cutoff=cutoff)
                    if score:
                        yield min(i, j), max(i, j), round(score)
            continue
        choices = [keys[k] for k in cols]
        col_idx = np.asarray(cols)
        for start in range(0, len(rows), _SLICE):
            part = rows[start : start + _SLICE]
            cells = len(part) * len(cols)
            scores = process.cdist(
                [keys[k] for k in part],
                choices,
                scorer=fuzz.ratio,
                score_cutoff=cutoff,
                dtype=np.uint8,
                workers=-1 if cells > 200_000 else 1,  # threads only pay off on big parts
            )
            hit_rows, hit_cols = np.nonzero(scores)
            for r, c in zip(hit_rows.tolist(), hit_cols.tolist(), strict=True):
                i, j = part[r], int(col_idx[c])
                if i != j:
                    yield min(i, j), max(i, j), int(scores[r, c])


def duplicate_pairs(
    sketches: Sequence[Sketch],
    threshold: float = DUPLICATE_THRESHOLD,
    involved: np.ndarray | None = None,
) -> list[tuple[int, int, float]]:
    """Likely duplicates among ``sketches`` as ``(i, j, similarity)`` with i < j, similarity in
    [threshold, 1], most similar first.

    Offers are compared only within a block (same municipality and category) on title and
    provider, plus across categories when the provider and municipality match and the titles
    are near-identical (``SAME_PROVIDER_THRESHOLD``). Pairs that are ``distinct_runs`` are
    dropped (and mostly never scored). With ``involved`` (a boolean mask), only pairs touching
    an involved sketch are scored, which keeps an import's check proportional to its new rows.
    """
    if not 0 < threshold <= 1:
        raise ValueError("threshold is a similarity in (0, 1]")
    if involved is not None and involved.all():
        involved = None  # the same pairs, found with less work
    found: dict[tuple[int, int], int] = {}
    keys = [s.key for s in sketches]
    cutoff = math.ceil(threshold * 100 - 1e-9)
    for members in _blocks(sketches, lambda s: (s.municipality, s.category)):
        for i, j, score in _scored_pairs(keys, members, sketches, involved, cutoff):
            found[(i, j)] = score
    titles = [s.title_key for s in sketches]
    strict = math.ceil(max(threshold, SAME_PROVIDER_THRESHOLD) * 100 - 1e-9)
    for members in _blocks(sketches, lambda s: (s.municipality, s.provider)):
        if len({sketches[k].category for k in members}) < 2:
            continue
        for i, j, score in _scored_pairs(titles, members, sketches, involved, strict):
            if sketches[i].category != sketches[j].category:
                found.setdefault((i, j), score)
    pairs = [
        (i, j, score / 100.0)
        for (i, j), score in found.items()
        if not distinct_runs(sketches[i], sketches[j])
    ]
    pairs.sort(key=lambda p: (-p[2], p[0], p[1]))
    return pairs


_SKETCH_COLUMNS = (
    Offer.id,
    Offer.title,
    Offer.organization,
    Offer.municipality,
    Offer.category,
    Offer.start_date,
    # as JSON text: a catalogue has a few dozen distinct schedules, parsed once each
    cast(Offer.days, Text).label("days"),
    cast(Offer.times, Text).label("times"),
)


def catalogue_sketches(
    session: Session,
    municipalities: Iterable[str] | None = None,
    exclude: AbstractSet[str] = frozenset(),
) -> list[Sketch]:
    """Sketches of the live (non-archived) catalogue, optionally only in ``municipalities``
    (as written; the blocks fold case and umlauts) and without the offers in ``exclude``."""
    stmt = select(*_SKETCH_COLUMNS).where(Offer.archived.is_(False))
    if municipalities is None:
        batches: Iterable[Any] = [session.execute(stmt)]
    else:
        names = sorted(set(municipalities))
        batches = (
            session.execute(stmt.where(Offer.municipality.in_(names[k : k + 500])))
            for k in range(0, len(names), 500)
        )
    return sketch_many(
        (row.id, row._mapping) for rows in batches for row in rows if row.id not in exclude
    )


def find_duplicate_pairs(
    source: Session | Sequence[Sketch], threshold: float = DUPLICATE_THRESHOLD
) -> list[tuple[str, str, float]]:
    """Likely duplicate offers across the whole live catalogue (or the given sketches) as
    ``(id_a, id_b, similarity)``, similarity in [threshold, 1], most similar first."""
    sketches = catalogue_sketches(source) if isinstance(source, Session) else source
    return [
        (sketches[i].ref, sketches[j].ref, sim)
        for i, j, sim in duplicate_pairs(sketches, threshold)
    ]
