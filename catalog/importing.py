"""Bulk import of offers from CSV, JSON, HSDS or HSDS tabular packages: validate, upsert,
report (the files are read by ``catalog.reading``).

An import upserts on ``(agency_id, external_id)``: a row whose ``external_id`` the agency does
not have yet creates an offer, a row that differs from the stored offer updates it (an archived
offer sent again comes back), and a row equal to the stored offer is left alone, so importing
the same file twice writes nothing the second time (no version bump, no history entry).

Every row is validated with ``validate_offer``, exactly like the API, and every new offer is
compared with the live catalogue and with the other rows of the file for likely duplicates,
which are reported and never merged.

Modes: ``atomic`` (default) writes nothing when any row is rejected and raises
``RejectedImport`` carrying the full report; ``partial`` writes the valid rows and reports the
rejected ones; ``dry_run`` reports without writing. All writes happen in the caller's
transaction under one catalogue sequence number, so a crash leaves the catalogue entirely old
or entirely new.

Row numbers in the report count data rows from 1, in the order of the source: in a CSV file the
header is row 0 and blank lines are skipped (rejected CSV rows also give the ``line`` of the
file they start on); in a JSON array row N is element N (counting from 1); in HSDS, service N
(of ``services.csv`` in a tabular package).

Large CSV files use helper processes (``lotse.processes``; ``helpers`` > 0): the file is cut at
row ends (``catalog.reading.split_csv``), this process reads and validates the first part
while helpers do the others, and the duplicate comparison (``duplicate_report``) runs in a
helper while this process writes. Nothing else differs: the same rows, the same report, the same catalogue, and when a
part cannot be read alone or a helper fails, this process does the work itself.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import operator
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import (
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    table,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog import taxonomy
from catalog.duplicates import (
    DUPLICATE_THRESHOLD,
    Sketch,
    catalogue_sketches,
    duplicate_pairs,
    sketch_many,
)
from catalog.hsds import SOURCE_OF
from catalog.reading import (
    BOOL_FIELDS,
    CsvParts,
    SourceRow,
    csv_rows,
    read_rows,
    split_csv,
)
from catalog.schema import LIST_FIELDS, OFFER_FIELDS, validate_offer
from catalog.store import jsonable, next_seq
from catalog.tables import Offer, OfferChange
from lotse.accounts import SLUG, Principal, ensure_agency
from lotse.db import utcnow
from lotse.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    RejectedImport,
)
from lotse.i18n import N_
from lotse.processes import HelperTask, gc_paused, helpers_running, run_beside

FORMATS: tuple[str, ...] = ("csv", "json", "hsds", "hsds-tabular")
#: Formats that carry more than Lotse models (the rest of an HSDS service): stored in
#: ``extra`` and compared on re-import. CSV and JSON leave ``extra`` as it is.
KEEPS_EXTRA = frozenset({"hsds", "hsds-tabular"})
MODES: tuple[str, ...] = ("atomic", "partial")
#: From this many bytes (or characters), a CSV file is read and validated in parts, some in
#: helper processes (about 3,000 offers; below that, sending the work away costs more).
PARALLEL_FROM_SIZE = 2_000_000
#: The share of such a file this process reads itself: more than a helper's, as the helpers'
#: parts and results have to travel.
OWN_SHARE = 0.54
#: The same when the helpers have to be started first.
OWN_SHARE_AT_START = 0.64
#: From this many new offers, the duplicate check runs in a helper process during the write.
PARALLEL_DUPLICATES_FROM = 3_000
#: Rows per statement when writing (keeps each executemany and its parameters modest).
BATCH = 5_000
#: From this many written offers, PostgreSQL's statistics of the table are refreshed.
ANALYZE_FROM_ROWS = 10_000
Progress = Callable[..., Iterable[Any]]
log = logging.getLogger("lotse.catalog")


@dataclass
class ImportReport:
    """What an import did (or, in a dry run or a rejected atomic import, would do).

    ``created + updated + unchanged`` counts the accepted rows; ``rejected`` has one entry per
    problem (``{row, field, message}``, so a row may appear more than once); ``duplicates``
    has ``{row, offer_id, similarity}`` (similarity 0–1) per likely duplicate of a new offer,
    with ``other_row`` when the look-alike is another row of the same file."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    mode: str = "atomic"
    written: bool = False

    @property
    def rejected_rows(self) -> int:
        """How many rows were rejected (each may have several problems)."""
        return len({r["row"] for r in self.rejected})

    def reject(self, row: int, errors: Iterable[FieldError], line: int | None = None) -> None:
        for err in errors:
            entry: dict[str, Any] = {"row": row, "field": err.field, "message": err.message}
            if line is not None:
                entry["line"] = line
            self.rejected.append(entry)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "dry_run": self.dry_run,
            "mode": self.mode,
            "written": self.written,
        }


# --- Validation and classification --------------------------------------------------------


#: An offer's values in ``OFFER_FIELDS`` order, from its fields (a tuple travels between
#: processes at half the cost of a dict).
_fields_of = operator.itemgetter(*OFFER_FIELDS)
_EXTERNAL_ID = OFFER_FIELDS.index("external_id")
_MUNICIPALITY = OFFER_FIELDS.index("municipality")


class _ValidRow(NamedTuple):
    row: int
    values: tuple[Any, ...]  # in ``OFFER_FIELDS`` order
    extra: dict[str, Any] | None


def _friendlier(err: FieldError, data: dict[str, Any], fmt: str) -> FieldError:
    message = err.message
    if err.field in ("latitude", "longitude") and message.startswith("Input should be"):
        message = f"{data.get(err.field)} is far outside Germany (not even a valid {err.field})"
    elif err.field in BOOL_FIELDS and "boolean" in message:
        message = "must be true or false (also 1/0, yes/no, ja/nein)"
    if fmt in KEEPS_EXTRA and err.field in SOURCE_OF:
        message = f"{message} (HSDS {SOURCE_OF[err.field]})"
    return FieldError(err.field, message) if message != err.message else err


class _CheckedRow(NamedTuple):
    """One row validated on its own: its values when valid, else its problems."""

    row: int
    line: int | None
    values: tuple[Any, ...] | None  # in ``OFFER_FIELDS`` order
    extra: dict[str, Any] | None
    errors: list[FieldError]


def _check(src: SourceRow, fmt: str) -> _CheckedRow:
    """Validate one row on its own (``validate_offer``, as the API does); a row that could
    not even be read is also validated, so that its report names all of its problems."""
    if not src.problems:  # the common case: a row that could be read
        try:
            clean = validate_offer(src.data)
        except InvalidInput as exc:
            errors = [_friendlier(e, src.data, fmt) for e in exc.errors]
        else:
            # a validated model's __dict__ holds exactly its fields, without model_dump's copies
            return _CheckedRow(src.row, src.line, _fields_of(clean.__dict__), src.extra, [])
    else:
        errors = list(src.problems)
        if src.data:  # report its other problems too
            try:
                validate_offer(src.data)
            except InvalidInput as exc:
                known = {e.field for e in src.problems}
                errors += [
                    _friendlier(e, src.data, fmt) for e in exc.errors if e.field not in known
                ]
    return _CheckedRow(src.row, src.line, None, None, list(dict.fromkeys(errors)))


def check_csv_part(
    part: bytes | str, names: list[str], lines_before: int = 0
) -> tuple[list[_CheckedRow], int]:
    """Read and validate one part of a CSV file (``split_csv``): its rows, numbered from 1
    within the part, and how many lines it has. Runs in a helper process; a ``csv.Error`` or
    ``UnicodeDecodeError`` means the part cannot be read alone."""
    text = part if isinstance(part, str) else part.decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    checked = [_check(src, "csv") for src in csv_rows(reader, names, lines_before)]
    return checked, reader.line_num


class _HelperFailed(Exception):
    """A helper process could not do its part (it died, or could not start)."""


def _checked_in_parts(
    split: CsvParts, helpers: int, progress: Progress | None
) -> list[_CheckedRow] | None:
    """The rows of a split CSV file, checked here (the first part) and in ``helpers`` helper
    processes (the others), numbered through; None when a part could not be read alone or a
    helper failed, so that the caller reads the whole file here instead."""
    first, *rest = split.parts
    tasks = [run_beside(helpers, check_csv_part, part, split.names) for part in rest]

    def parts() -> Iterator[tuple[list[_CheckedRow], int]]:
        yield check_csv_part(first, split.names, split.header_lines)
        for task in tasks:
            try:
                yield task.result()
            except (csv.Error, UnicodeDecodeError):
                raise
            except Exception as exc:
                raise _HelperFailed(type(exc).__name__) from exc

    steps: Iterable[tuple[list[_CheckedRow], int]] = parts()
    if progress is not None:
        n = len(split.parts)
        steps = progress(steps, total=n, desc=f"validating in {n} processes")
    checked: list[_CheckedRow] = []
    lines = split.header_lines  # of the file before the part
    try:
        for k, (rows, part_lines) in enumerate(steps):
            if k == 0:  # this process's part, numbered from the header on
                checked = rows
            else:  # a helper's part, numbered from its own start
                offset = len(checked)
                checked.extend(
                    c._replace(row=c.row + offset, line=None if c.line is None else c.line + lines)
                    for c in rows
                )
            lines += part_lines
    except (csv.Error, UnicodeDecodeError):
        return None  # read as a whole, the file gets its usual report
    except _HelperFailed as exc:
        log.warning("an import helper failed (%s); reading the file here", exc)
        return None
    finally:
        for task in tasks:
            task.cancel()
    return checked


def _checked_rows(
    raw: bytes | str, fmt: str, category: str | None, helpers: int, progress: Progress | None
) -> list[_CheckedRow]:
    """Every row of the file validated on its own, in file order; ``BadPayload`` when the
    file cannot be read. A large CSV file is read in parts, some in helper processes."""
    if fmt == "csv" and helpers > 0 and len(raw) >= PARALLEL_FROM_SIZE:
        # this process takes a larger part: the helpers' parts travel to them and back, and
        # helpers that are not running yet start first
        own = OWN_SHARE if helpers_running() else OWN_SHARE_AT_START
        rest = (1 - own) / helpers
        split = split_csv(raw, [own, *[rest] * helpers])
        checked = _checked_in_parts(split, helpers, progress) if split else None
        if checked:
            return checked
    rows = read_rows(raw, fmt, category)
    items: Iterable[SourceRow] = rows
    if progress is not None:
        items = progress(rows, total=len(rows), desc="validating")
    return [_check(src, fmt) for src in items]


def _accept(checked: list[_CheckedRow], report: ImportReport) -> list[_ValidRow]:
    """The rows that can be imported; the others are reported. Besides its own validity, a
    row needs an ``external_id`` that no earlier row of the file has."""
    valid: list[_ValidRow] = []
    first_row: dict[str, int] = {}
    for c in checked:
        errors = c.errors
        if c.values is not None:
            ext = c.values[_EXTERNAL_ID]
            if ext is None:
                errors = [
                    FieldError(
                        "external_id",
                        N_(
                            "required on import: the agency's own key for the offer, so that the "
                            "next import updates it instead of adding it again"
                        ),
                    )
                ]
            elif ext in first_row:
                errors = [
                    FieldError(
                        "external_id",
                        f"'{ext}' is already used by row {first_row[ext]} of this file",
                    )
                ]
            else:
                first_row[ext] = c.row
                valid.append(_ValidRow(c.row, c.values, c.extra))
                continue
        report.reject(c.row, errors, c.line)
    return valid


class _StoredOffer(NamedTuple):
    id: str
    version: int
    archived: bool
    extra: dict[str, Any] | None
    values: tuple[Any, ...]  # OFFER_FIELDS, the lists as JSON text (see ``_stored_offers``)


#: Positions of the list fields in ``OFFER_FIELDS``.
_LIST_AT = tuple(i for i, name in enumerate(OFFER_FIELDS) if name in LIST_FIELDS)


def _stored_offers(
    session: Session, agency_id: str, external_ids: list[str], with_extra: bool
) -> dict[str, _StoredOffer]:
    """The agency's stored offers with these external ids.

    List fields are read as JSON text and compared as text: parsing 700,000 small JSON
    arrays costs more than the rest of a re-import. Both backends write lists as
    ``json.dumps`` does (``["de", "ar"]``; PostgreSQL's jsonb prints them the same way)."""
    cols = [
        cast(getattr(Offer, name), Text) if name in LIST_FIELDS else getattr(Offer, name)
        for name in OFFER_FIELDS
    ]
    extra = Offer.extra if with_extra else literal(None)
    stmt = select(Offer.id, Offer.version, Offer.archived, extra, *cols)
    found: dict[str, _StoredOffer] = {}
    ext_at = 4 + OFFER_FIELDS.index("external_id")
    stored = session.scalar(select(func.count()).where(Offer.agency_id == agency_id)) or 0
    if stored <= len(external_ids):  # all of the agency's offers, in one query
        batches: Iterable[Any] = [session.execute(stmt.where(Offer.agency_id == agency_id))]
    else:  # those with the file's external ids, 500 at a time
        batches = (
            session.execute(stmt.where(Offer.agency_id == agency_id, Offer.external_id.in_(chunk)))
            for chunk in (external_ids[k : k + 500] for k in range(0, len(external_ids), 500))
        )
    wanted = set(external_ids)
    for rows in batches:
        for r in rows:
            if r[ext_at] in wanted:
                found[r[ext_at]] = _StoredOffer(r[0], r[1], r[2], r[3], tuple(r[4:]))
    return found


def random_uuids(n: int) -> list[str]:
    """``n`` random UUIDs (version 4) as text, like ``str(uuid.uuid4())`` but from one read of
    the system's random source, which a large import's offers would otherwise pay for once each."""
    octets = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    octets[:, 6] = octets[:, 6] & 0x0F | 0x40  # version 4
    octets[:, 8] = octets[:, 8] & 0x3F | 0x80  # RFC 4122 variant
    text = octets.tobytes().hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


class _PlannedWrite(NamedTuple):
    valid: _ValidRow
    offer_id: str
    stored: _StoredOffer | None  # None: a new offer
    changes: dict[str, list[Any]]

    @property
    def stored_version(self) -> int:
        """The version of the stored offer this row changes."""
        if self.stored is None:
            raise ValueError(f"offer {self.offer_id} is new: it has no stored version")
        return self.stored.version


def _plan(
    valid: list[_ValidRow], stored: dict[str, _StoredOffer], fmt: str, report: ImportReport
) -> tuple[list[_PlannedWrite], list[_PlannedWrite], list[_PlannedWrite]]:
    """Split accepted rows into (new, changed, unchanged), with each change listed."""
    new, changed, same = [], [], []
    ids = iter(random_uuids(len(valid)))
    keep_extra = fmt not in KEEPS_EXTRA  # CSV and JSON carry none: leave what HSDS put there
    as_text: dict[tuple[str, ...], str] = {}
    for v in valid:
        old = stored.get(v.values[_EXTERNAL_ID])
        if old is None:
            new.append(_PlannedWrite(v, next(ids), None, {}))
            continue
        values = list(v.values)
        for i in _LIST_AT:
            key = tuple(values[i])
            text = as_text.get(key)
            if text is None:
                text = as_text[key] = json.dumps(values[i])
            values[i] = text
        extra_same = keep_extra or old.extra == v.extra
        if tuple(values) == old.values and extra_same and not old.archived:
            same.append(_PlannedWrite(v, old.id, old, {}))
            continue
        before = list(old.values)
        for i in _LIST_AT:
            before[i] = None if before[i] is None else json.loads(before[i])
        changes = {
            name: [jsonable(a), jsonable(b)]
            for name, a, b in zip(OFFER_FIELDS, before, v.values, strict=True)
            if a != b
        }
        if not extra_same:
            changes["extra"] = [old.extra, v.extra]
        if old.archived:
            changes["archived"] = [True, False]
        changed.append(_PlannedWrite(v, old.id, old, changes))
    report.created, report.updated, report.unchanged = len(new), len(changed), len(same)
    return new, changed, same


class _DupRow(NamedTuple):
    """A row of the file as the duplicate check sees it. It travels to a helper process as a
    plain tuple, its start date as text and its repeated values (providers, places,
    schedules) as one shared object each: all of which pickle several times faster."""

    row: int
    offer_id: str
    is_new: bool
    sketched: tuple[Any, ...]  # the values of ``_SKETCHED``, the start date as ISO text

    @classmethod
    def many(cls, planned: Iterable[_PlannedWrite]) -> list[tuple[Any, ...]]:
        shared: dict[Any, Any] = {}

        def one(value: Any) -> Any:
            key = tuple(value) if isinstance(value, list) else value
            return shared.setdefault(key, key)

        rows = []
        for p in planned:
            title, provider, place, category, start, days, times = _sketched_of(p.valid.values)
            sketched = (title, one(provider), one(place), one(category),
                        start and start.isoformat(), one(days), one(times))  # fmt: skip
            rows.append((p.valid.row, p.offer_id, p.stored is None, sketched))
        return rows


#: The fields ``sketch`` reads.
_SKETCHED = ("title", "organization", "municipality", "category", "start_date", "days", "times")
_sketched_of = operator.itemgetter(*(OFFER_FIELDS.index(name) for name in _SKETCHED))


class _DuplicateCheck:
    """Compares every new offer with the live catalogue and the other rows of the file.

    The catalogue is read on construction, before this import writes anything, so the new
    offers are never compared with themselves. The comparison itself (``duplicate_report``)
    needs no database, so a large import runs it in a helper process while it writes."""

    def __init__(
        self,
        session: Session,
        new: list[_PlannedWrite],
        matched: list[_PlannedWrite],
        threshold: float,
    ) -> None:
        self.threshold = threshold
        self.rows = _DupRow.many((*new, *matched)) if new else []
        self.new = len(new)
        self.catalogue: list[Sketch] = []
        if new:
            self.catalogue = catalogue_sketches(
                session,
                {p.valid.values[_MUNICIPALITY] for p in new},
                exclude={p.offer_id for p in matched},
            )

    def arguments(self, ids_are_real: bool) -> tuple[Any, ...]:
        """What ``duplicate_report`` takes, all of it picklable."""
        return (self.rows, self.new, self.catalogue, self.threshold, ids_are_real)


def duplicate_report(
    rows: list[tuple[Any, ...]],
    new: int,
    catalogue: list[Sketch],
    threshold: float,
    ids_are_real: bool,
) -> list[dict[str, Any]]:
    """Duplicate entries ``{row, offer_id, similarity, title[, other_row]}`` by row for the
    first ``new`` of ``rows`` (``_DupRow`` tuples: the new offers; the rest are rows matching stored offers); for
    two new rows alike, the later one is reported (``offer_id`` of the earlier only when the
    import is written)."""
    if not new:
        return []
    sketches = sketch_many(
        (r, dict(zip(_SKETCHED, r.sketched, strict=True))) for r in map(_DupRow._make, rows)
    )
    sketches += catalogue
    involved = np.zeros(len(sketches), dtype=bool)
    involved[:new] = True
    found = []
    for i, j, sim in duplicate_pairs(sketches, threshold, involved):
        this, other = sketches[i], sketches[j]  # i < j, so ``this`` is a new row
        if isinstance(other.ref, _DupRow) and other.ref.is_new and other.ref.row > this.ref.row:
            this, other = other, this  # report the later of two new rows
        entry: dict[str, Any] = {"row": this.ref.row, "similarity": round(sim, 3)}
        if isinstance(other.ref, _DupRow):
            real = not other.ref.is_new or ids_are_real
            entry["offer_id"] = other.ref.offer_id if real else None
            entry["other_row"] = other.ref.row
        else:
            entry["offer_id"] = other.ref
        entry["title"] = other.title
        found.append(entry)
    found.sort(key=lambda d: (d["row"], -d["similarity"]))
    return found


# --- Writing ------------------------------------------------------------------------------

#: Columns of a new offer, in the order the bulk insert takes them.
_INSERT_COLUMNS: tuple[str, ...] = (
    "id", "agency_id", *OFFER_FIELDS, "extra", "archived", "version", "seq", "created_at",
    "last_modified",
)  # fmt: skip
#: Columns an update sets (``extra`` only for HSDS, which carries it), keyed by ``_id``.
_UPDATE_COLUMNS: tuple[str, ...] = (*OFFER_FIELDS, "archived", "version", "seq", "last_modified")
_HISTORY_COLUMNS: tuple[str, ...] = ("offer_id", "version", "action", "actor", "at", "changes")
_ENCODED = frozenset({*LIST_FIELDS, "start_date", "end_date"})
_ENCODED_AT = tuple(i for i, name in enumerate(OFFER_FIELDS) if name in _ENCODED)
#: SQLite page cache while importing (KiB): the offers table has eight indexes, and with the
#: default 2 MB cache their pages are written out and read back again and again.
SQLITE_IMPORT_CACHE_KIB = 131_072


class _Encoder:
    """Offer values as the database driver takes them, encoded with SQLAlchemy's own type
    processors for this dialect (JSON text on SQLite, ``Jsonb`` on PostgreSQL…). Bulk writes
    hand these straight to the driver, so that SQLAlchemy does not process 100,000 rows value
    by value again; lists and dates repeat a lot and are encoded once."""

    def __init__(self, dialect: Any) -> None:
        def procs(tbl: Any) -> dict[str, Any]:
            return {
                name: col.type.dialect_impl(dialect).bind_processor(dialect)
                for name, col in tbl.c.items()
            }

        self._offer = procs(Offer.__table__)
        self._history = procs(OfferChange.__table__)
        self._cache: dict[tuple[int, Any], Any] = {}
        self._encoded_at = tuple(i for i in _ENCODED_AT if self._offer[OFFER_FIELDS[i]])
        list_proc = self._offer["languages"]
        self._empty = list_proc([]) if list_proc else []

    def column(self, name: str, value: Any) -> Any:
        proc = self._offer[name]
        return value if proc is None or value is None else proc(value)

    def history(self, name: str, value: Any) -> Any:
        proc = self._history[name]
        return value if proc is None or value is None else proc(value)

    def fields(self, values: tuple[Any, ...]) -> list[Any]:
        """The values of one offer (``OFFER_FIELDS`` order), encoded."""
        out = list(values)
        cache = self._cache
        for i in self._encoded_at:
            value = out[i]
            if not value:  # None, or an empty list (most of them)
                if value is not None:
                    out[i] = self._empty
                continue
            key = (i, tuple(value) if isinstance(value, list) else value)
            found = cache.get(key)
            if found is None:
                found = cache[key] = self._offer[OFFER_FIELDS[i]](value)
            out[i] = found
        return out


class _Bulk:
    """One Core statement compiled once for the connection's dialect and run with the
    driver's ``executemany`` on rows given as tuples in ``columns`` order; on PostgreSQL with
    psycopg, plain inserts use ``COPY``, several times faster than any ``INSERT``."""

    def __init__(self, conn: Connection, stmt: Any, columns: tuple[str, ...], copy_into: str = ""):
        compiled = stmt.compile(dialect=conn.dialect)
        self.sql = compiled.string
        self.columns = columns
        self.named = not conn.dialect.positional  # psycopg takes %(name)s parameters
        positions = [] if self.named else [columns.index(n) for n in compiled.positiontup]
        # None when the rows already are in the order of the statement's parameters
        self.positions = None if positions == list(range(len(columns))) else positions
        self.copy_sql = ""
        if copy_into and conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
            self.copy_sql = f"COPY {copy_into} ({', '.join(columns)}) FROM STDIN"

    def run(self, conn: Connection, rows: list[tuple[Any, ...]]) -> int:
        """Run the statement for every row; how many rows it wrote or changed."""
        if not rows:
            return 0
        if self.copy_sql:
            driver = conn.connection.driver_connection
            assert driver is not None  # a checked-out connection has its psycopg connection
            cursor = driver.cursor()
            with cursor, cursor.copy(self.copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            return len(rows)
        params: list[Any]
        if self.named:
            params = [dict(zip(self.columns, row, strict=True)) for row in rows]
        elif self.positions is None:
            params = rows
        else:
            params = [tuple(row[i] for i in self.positions) for row in rows]
        return conn.exec_driver_sql(self.sql, params).rowcount


@contextmanager
def _conflicts_as_409(conn: Connection) -> Iterator[None]:
    """A new offer whose ``external_id`` another writer took meanwhile (the unique key of
    agency and external id) is a conflict to retry, not a server error. (PostgreSQL's COPY
    goes to the driver directly, which raises its own ``IntegrityError``.)"""
    driver_error = getattr(conn.dialect.dbapi, "IntegrityError", IntegrityError)
    try:
        yield
    except (IntegrityError, driver_error):
        raise Conflict(
            "offers with some of these external ids were created by someone else while this "
            "import ran; nothing was written: import the file again"
        ) from None


@contextmanager
def _write_tuned(conn: Connection) -> Iterator[None]:
    """A large page cache on SQLite for the import, set back afterwards."""
    if conn.dialect.name != "sqlite":
        yield
        return
    old = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(old or -2000)}")


class _WritePlan(NamedTuple):
    actor: str
    agency_id: str
    seq: int
    stamp: Any  # created_at / last_modified, encoded
    at: Any  # history timestamp, encoded


def _new_rows(
    enc: _Encoder, plan: _WritePlan, batch: list[_PlannedWrite], fmt: str
) -> list[tuple[Any, ...]]:
    fields = enc.fields
    if fmt not in KEEPS_EXTRA:  # CSV and JSON carry no extra: the same tail for every row
        tail = (None, False, 1, plan.seq, plan.stamp, plan.stamp)
        return [(p.offer_id, plan.agency_id, *fields(p.valid.values), *tail) for p in batch]
    return [
        (p.offer_id, plan.agency_id, *fields(p.valid.values), enc.column("extra", p.valid.extra),
         False, 1, plan.seq, plan.stamp, plan.stamp)
        for p in batch
    ]  # fmt: skip


def _changed_row(enc: _Encoder, plan: _WritePlan, p: _PlannedWrite, fmt: str) -> tuple[Any, ...]:
    version = p.stored_version
    row = (p.offer_id, version, *enc.fields(p.valid.values), False, version + 1, plan.seq,
           plan.stamp)  # fmt: skip
    return (*row, enc.column("extra", p.valid.extra)) if fmt in KEEPS_EXTRA else row


def _write(
    session: Session,
    actor: Principal,
    new: list[_PlannedWrite],
    changed: list[_PlannedWrite],
    fmt: str,
    agency_id: str,
) -> None:
    """Write the new and changed offers and their history under one catalogue seq, in
    batches. A new offer's history entry stores no values, like ``create_offer``'s."""
    ensure_agency(session, agency_id)
    seq = next_seq(session)
    conn = session.connection()
    enc = _Encoder(conn.dialect)
    now = utcnow()
    plan = _WritePlan(
        actor.actor, agency_id, seq, enc.column("last_modified", now), enc.history("at", now)
    )
    offers_t = table("offers", *(column(n) for n in _INSERT_COLUMNS))
    history_t = table("offer_history", *(column(n) for n in _HISTORY_COLUMNS))
    set_columns = (*_UPDATE_COLUMNS, "extra") if fmt in KEEPS_EXTRA else _UPDATE_COLUMNS
    insert_offers = _Bulk(conn, insert(offers_t), _INSERT_COLUMNS, "offers")
    insert_history = _Bulk(conn, insert(history_t), _HISTORY_COLUMNS, "offer_history")
    update_offers = _Bulk(
        conn,
        update(offers_t)
        # only the version that was read: a concurrent edit leaves a row unmatched
        .where(offers_t.c.id == bindparam("_id"), offers_t.c.version == bindparam("_version"))
        .values({name: bindparam(f"v_{name}") for name in set_columns}),
        ("_id", "_version", *(f"v_{name}" for name in set_columns)),
    )
    with _write_tuned(conn), _conflicts_as_409(conn):
        for start in range(0, len(new), BATCH):
            batch = new[start : start + BATCH]
            insert_offers.run(conn, _new_rows(enc, plan, batch, fmt))
        updated = 0
        for start in range(0, len(changed), BATCH):
            batch = changed[start : start + BATCH]
            updated += update_offers.run(conn, [_changed_row(enc, plan, p, fmt) for p in batch])
        if updated != len(changed):
            raise Conflict(
                f"{len(changed) - updated} of the offers this import changes were changed by "
                "someone else while it ran; nothing was written: import the file again"
            )
        created = enc.history("changes", {})
        history = [(p.offer_id, 1, "import", plan.actor, plan.at, created) for p in new]
        history += [
            (p.offer_id, p.stored_version + 1, "import", plan.actor, plan.at,
             enc.history("changes", p.changes))
            for p in changed
        ]  # fmt: skip
        for start in range(0, len(history), BATCH):
            insert_history.run(conn, history[start : start + BATCH])
    if conn.dialect.name == "postgresql" and len(new) + len(changed) >= ANALYZE_FROM_ROWS:
        # Fresh statistics, or the planner (believing the agency still has a handful of
        # offers) scans all of them for every batch of the next import's lookups.
        conn.exec_driver_sql("ANALYZE offers")
    session.expire_all()  # ORM objects loaded earlier in this session are stale now


def _result(task: HelperTask) -> Any:
    """A helper's result, or None when the helper failed (the caller then does the work)."""
    try:
        return task.result()
    except Exception as exc:
        log.warning("an import helper failed (%s); doing its work here", type(exc).__name__)
        return None


# --- The entry point ----------------------------------------------------------------------


def import_agency(actor: Principal, agency_id: str | None) -> str:
    """The agency an import goes into: an agency imports into its own (naming another one is
    forbidden), an admin must name one."""
    if actor.role == "agency":
        if agency_id and agency_id != actor.agency_id:
            raise Forbidden(
                f"an agency token of '{actor.agency_id}' cannot import offers into '{agency_id}'"
            )
        return actor.agency_id or ""
    if not agency_id:
        raise InvalidInput([FieldError("agency_id", N_("say which agency the offers are for"))])
    return agency_id


def _check_request(
    actor: Principal, agency_id: str, fmt: str, mode: str, category: str | None
) -> None:
    errors = []
    if fmt not in FORMATS:
        errors.append(FieldError("format", f"must be one of: {', '.join(FORMATS)}"))
    if mode not in MODES:
        errors.append(FieldError("mode", f"must be one of: {', '.join(MODES)}"))
    if not agency_id or not SLUG.match(agency_id):
        errors.append(
            FieldError(
                "agency_id", N_("must be a short slug: lowercase letters, digits, '-' or '_'")
            )
        )
    if category is not None and category not in taxonomy.PARENT_OF:
        hint = taxonomy.suggest(category, leaves_only=True)
        errors.append(
            FieldError(
                "category",
                f"unknown category '{category}'"
                + (f"; did you mean {' or '.join(hint)}?" if hint else ""),
            )
        )
    if errors:
        raise InvalidInput(errors)
    if not actor.may_edit_agency(agency_id):
        raise Forbidden(f"{actor.actor} may not import offers into agency '{agency_id}'")


def import_offers(
    session: Session,
    actor: Principal,
    agency_id: str,
    rows_source: bytes | str,
    *,
    fmt: str = "csv",
    dry_run: bool = False,
    mode: str = "atomic",
    category: str | None = None,
    progress: Progress | None = None,
    threshold: float = DUPLICATE_THRESHOLD,
    helpers: int = 0,
) -> ImportReport:
    """Import a whole file of offers into ``agency_id`` and report what happened.

    ``rows_source`` is the raw file (bytes or text) in ``fmt`` (csv, json, hsds, or
    hsds-tabular: a ZIP, as bytes);
    ``category`` is the category of HSDS services that carry none of their own; ``progress``
    wraps the row loop like ``lotse.cli_support.progress``; ``helpers`` is how many helper
    processes a large import may use beside this one (0: none). Raises ``BadPayload`` when the file
    cannot be read, ``Forbidden`` when ``actor`` may not edit the agency, and, in atomic mode,
    ``RejectedImport`` with the full report when any row was rejected (nothing written)."""
    _check_request(actor, agency_id, fmt, mode, category)
    report = ImportReport(dry_run=dry_run, mode=mode)
    with gc_paused():
        options = _Options(fmt, dry_run, mode, category, progress, threshold, helpers)
        _import(session, actor, agency_id, rows_source, report, options)
    return report


class _Options(NamedTuple):
    """The keyword arguments of ``import_offers``."""

    fmt: str
    dry_run: bool
    mode: str
    category: str | None
    progress: Progress | None
    threshold: float
    helpers: int


def _import(
    session: Session,
    actor: Principal,
    agency_id: str,
    rows_source: bytes | str,
    report: ImportReport,
    options: _Options,
) -> None:
    """The work of ``import_offers``: read and check the rows, plan, write, compare."""
    fmt, helpers = options.fmt, options.helpers
    checked = _checked_rows(rows_source, fmt, options.category, helpers, options.progress)
    total = len(checked)
    valid = _accept(checked, report)
    del checked  # the rejected rows' cells are not needed any more
    ext_ids = [v.values[_EXTERNAL_ID] for v in valid]
    stored = _stored_offers(session, agency_id, ext_ids, with_extra=fmt in KEEPS_EXTRA)
    new, changed, same = _plan(valid, stored, fmt, report)
    rejected = options.mode == "atomic" and bool(report.rejected)
    will_write = not options.dry_run and not rejected and bool(new or changed)
    check = _DuplicateCheck(session, new, [*changed, *same], options.threshold)
    arguments = check.arguments(will_write)
    beside = None  # the comparison, in a helper process while this one writes
    if will_write and helpers > 0 and len(new) >= PARALLEL_DUPLICATES_FROM:
        beside = run_beside(helpers, duplicate_report, *arguments)
    if will_write:
        _write(session, actor, new, changed, fmt, agency_id)
        report.written = True
    found = _result(beside) if beside else None  # None: no helper, or it failed
    report.duplicates = found if found is not None else duplicate_report(*arguments)
    if rejected:
        raise RejectedImport(
            report.as_dict(),
            f"{report.rejected_rows} of {total} rows were rejected; nothing was written",
        )
