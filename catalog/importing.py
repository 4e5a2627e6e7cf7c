"""Bulk import of offers from CSV, JSON or HSDS: read, validate, upsert, report.

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
file they start on); in a JSON array row N is element N (counting from 1); in HSDS, service N.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import logging
import operator
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import numpy as np
from rapidfuzz import process
from sqlalchemy import Text, bindparam, cast, column, insert, literal, select, table, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from catalog import taxonomy
from catalog.duplicates import (
    DUPLICATE_THRESHOLD,
    Sketch,
    catalogue_sketches,
    duplicate_pairs,
    sketch_many,
)
from catalog.hsds import SOURCE_OF, service_to_offer
from catalog.schema import LIST_FIELDS, OFFER_FIELDS, SERVER_FIELDS, validate_offer
from catalog.store import jsonable, next_seq
from catalog.tables import Offer, OfferChange
from lotse.accounts import SLUG, Principal, ensure_agency
from lotse.db import utcnow
from lotse.errors import BadPayload, FieldError, Forbidden, InvalidInput, RejectedImport

FORMATS: tuple[str, ...] = ("csv", "json", "hsds")
MODES: tuple[str, ...] = ("atomic", "partial")
#: Columns a CSV import must have; every other offer field is optional.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "external_id",
    "title",
    "category",
    "organization",
    "municipality",
)
BOOL_FIELDS = frozenset({"online", "literacy_required", "childcare", "wheelchair_accessible"})
FLOAT_FIELDS = frozenset({"latitude", "longitude", "hours_per_week", "cost_eur"})
BOOL_WORDS: dict[str, str] = {
    "true": "true", "1": "true", "yes": "true", "ja": "true",
    "false": "false", "0": "false", "no": "false", "nein": "false",
}  # fmt: skip
#: Rows per statement when writing (keeps each executemany and its parameters modest).
BATCH = 5_000
#: From this many written offers, PostgreSQL's statistics of the table are refreshed.
ANALYZE_FROM_ROWS = 10_000
#: Fields an export carries that the server sets; an import ignores them.
_IGNORED_KEYS = frozenset(SERVER_FIELDS) | {"archived"}

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


@dataclass
class SourceRow:
    """One row as read from the source, before validation."""

    row: int
    data: dict[str, Any]
    extra: dict[str, Any] | None = None
    problems: list[FieldError] = field(default_factory=list)
    line: int | None = None


# --- Reading ------------------------------------------------------------------------------


def decode_text(raw: bytes | str) -> str:
    """The body as text: UTF-8 (a leading BOM is dropped); anything else is refused, naming
    the first offending byte, because guessing an encoding silently corrupts umlauts."""
    if isinstance(raw, str):
        text = raw.removeprefix("\ufeff")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start]
            line = raw.count(b"\n", 0, exc.start) + 1
            guess = bytes([bad]).decode("cp1252", errors="replace")
            raise BadPayload(
                f"the file is not UTF-8; save the file as UTF-8 (byte offset {exc.start}, "
                f"line {line}: byte 0x{bad:02x}, which is '{guess}' in Windows-1252)"
            ) from None
    if not text.strip():
        raise BadPayload("the file is empty; send a header line and one line per offer")
    return text


def _did_you_mean(name: str) -> str:
    found = process.extractOne(name.lower(), OFFER_FIELDS, score_cutoff=70)
    return f"'{name}' (did you mean '{found[0]}'?)" if found else f"'{name}'"


def _check_header(names: list[str]) -> None:
    if len(names) == 1 and ";" in names[0]:
        raise BadPayload(
            "the header has one column only, with ';' in it: the file seems to use ';' between "
            "columns; use ',' (';' separates list items inside a cell)"
        )
    problems = []
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            problems.append(f"column '{name}' appears twice in the header")
        seen.add(name)
    unknown = [n for n in names if n and n not in OFFER_FIELDS]
    if unknown:
        problems.append("unknown column(s): " + ", ".join(_did_you_mean(n) for n in unknown))
    missing = [n for n in REQUIRED_COLUMNS if n not in seen]
    if missing:
        problems.append("missing required column(s): " + ", ".join(missing))
    if problems:
        raise BadPayload("; ".join(problems) + f". The columns are: {', '.join(OFFER_FIELDS)}")


def read_csv(text: str) -> list[SourceRow]:
    """Rows of a CSV offer file (header of contract field names; lists ``;``-separated;
    booleans true/false/1/0/yes/no/ja/nein; an empty cell is no value)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    rows: list[SourceRow] = []
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)  # blank lines before the header
        if header is None:
            raise BadPayload("the file is empty; send a header line and one line per offer")
        names = [h.strip().lower() for h in header]
        _check_header(names)
        width = len(names)
        booleans = [n for n in names if n in BOOL_FIELDS]
        floats = [n for n in names if n in FLOAT_FIELDS]
        unnamed = [i for i, n in enumerate(names) if not n]
        line = reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cells):
                continue  # a blank line
            source = SourceRow(row=len(rows) + 1, data={}, line=start)
            rows.append(source)
            if len(cells) > width and not any(c.strip() for c in cells[width:]):
                cells = cells[:width]  # trailing empty cells (spreadsheet artefact)
            if len(cells) != width:
                if not any(c.strip() for c in cells):
                    rows.pop()  # a line of blanks only
                    continue
                hint = (
                    "a value with a comma in it must be in double quotes"
                    if len(cells) > width
                    else "every row needs a cell for every column, empty or not"
                )
                source.problems.append(
                    FieldError(
                        "row", f"has {len(cells)} cells but the header has {width} columns; {hint}"
                    )
                )
                continue
            data = {n: v for n, v in zip(names, map(str.strip, cells), strict=True) if v}
            for name in booleans:
                value = data.get(name)
                if value is not None:
                    data[name] = BOOL_WORDS.get(value.lower(), value)
            for name in floats:
                value = data.get(name)
                if value is not None and "," in value and "." not in value:
                    data[name] = value.replace(",", ".")  # a German decimal comma (2,5)
            if unnamed:
                data.pop("", None)
                source.problems.extend(
                    FieldError("row", f"has a value in column {i + 1}, which has no header")
                    for i in unnamed
                    if cells[i].strip()
                )
            if not data and not source.problems:
                rows.pop()  # a line of empty cells only (",,,,")
                continue
            source.data = data
    except csv.Error as exc:
        raise BadPayload(
            f"the CSV cannot be read at line {reader.line_num}: {exc}; check the quoting (a "
            "value with a comma, quote or line break goes in double quotes, and a quote inside "
            'it is doubled: "")'
        ) from None
    if not rows:
        raise BadPayload("the file has a header but no offers")
    return rows


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadPayload(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def read_json(text: str) -> list[SourceRow]:
    """Rows of a JSON array of offer objects (server-set fields of an export are ignored)."""
    items = _load_json(text)
    if not isinstance(items, list):
        raise BadPayload("a JSON import is an array of offer objects: [{...}, {...}]")
    if not items:
        raise BadPayload("the array is empty; there is nothing to import")
    rows = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            rows.append(SourceRow(n, {}, problems=[FieldError("row", "is not a JSON object")]))
            continue
        rows.append(SourceRow(n, {k: v for k, v in item.items() if k not in _IGNORED_KEYS}))
    return rows


def read_hsds(text: str, category: str | None = None) -> list[SourceRow]:
    """Rows of an HSDS 3.0 service, an array of services or a page of them (``contents``)."""
    doc = _load_json(text)
    if isinstance(doc, dict) and isinstance(doc.get("contents"), list):
        doc = doc["contents"]
    services = [doc] if isinstance(doc, dict) else doc
    if not isinstance(services, list) or not services:
        raise BadPayload("an HSDS import is one service object or a non-empty array of them")
    rows = []
    for n, service in enumerate(services, 1):
        data, extra, problems = service_to_offer(service, category)
        rows.append(SourceRow(n, data, extra, problems))
    return rows


def read_rows(raw: bytes | str, fmt: str, category: str | None = None) -> list[SourceRow]:
    """Parse a whole import body; ``BadPayload`` when it cannot be read at all."""
    text = decode_text(raw)
    if fmt == "csv":
        return read_csv(text)
    if fmt == "json":
        return read_json(text)
    return read_hsds(text, category)


# --- Validation and classification --------------------------------------------------------


class _Valid(NamedTuple):
    row: int
    values: dict[str, Any]
    extra: dict[str, Any] | None


def _friendlier(err: FieldError, data: dict[str, Any], fmt: str) -> FieldError:
    message = err.message
    if err.field in ("latitude", "longitude") and message.startswith("Input should be"):
        message = f"{data.get(err.field)} is far outside Germany (not even a valid {err.field})"
    elif err.field in BOOL_FIELDS and "boolean" in message:
        message = "must be true or false (also 1/0, yes/no, ja/nein)"
    if fmt == "hsds" and err.field in SOURCE_OF:
        message = f"{message} (HSDS {SOURCE_OF[err.field]})"
    return FieldError(err.field, message) if message != err.message else err


def _validate(
    rows: list[SourceRow], fmt: str, report: ImportReport, progress: Progress | None
) -> list[_Valid]:
    valid: list[_Valid] = []
    first_row: dict[str, int] = {}
    items: Iterable[SourceRow] = rows
    if progress is not None:
        items = progress(rows, total=len(rows), desc="validating")
    for src in items:
        errors = list(src.problems)
        clean = None
        if src.data or not errors:
            try:
                clean = validate_offer(src.data)
            except InvalidInput as exc:
                known = {e.field for e in src.problems}
                errors.extend(
                    _friendlier(e, src.data, fmt) for e in exc.errors if e.field not in known
                )
        if clean is not None and not errors:
            ext = clean.external_id
            if ext is None:
                errors.append(
                    FieldError(
                        "external_id",
                        "required on import: the agency's own key for the offer, so that the "
                        "next import updates it instead of adding it again",
                    )
                )
            elif ext in first_row:
                errors.append(
                    FieldError(
                        "external_id",
                        f"'{ext}' is already used by row {first_row[ext]} of this file",
                    )
                )
            else:
                first_row[ext] = src.row
        if errors:
            unique = list(dict.fromkeys(errors))
            report.reject(src.row, unique, src.line)
            continue
        # a validated model's __dict__ holds exactly its fields, without model_dump's copies
        valid.append(_Valid(src.row, clean.__dict__, src.extra))  # type: ignore[union-attr]
    return valid


class _Stored(NamedTuple):
    id: str
    version: int
    archived: bool
    extra: dict[str, Any] | None
    values: tuple[Any, ...]  # OFFER_FIELDS, the lists as JSON text (see ``_stored_offers``)


#: Positions of the list fields in ``OFFER_FIELDS``.
_LIST_AT = tuple(i for i, name in enumerate(OFFER_FIELDS) if name in LIST_FIELDS)


def _stored_offers(
    session: Session, agency_id: str, external_ids: list[str], with_extra: bool
) -> dict[str, _Stored]:
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
    found: dict[str, _Stored] = {}
    ext_at = 4 + OFFER_FIELDS.index("external_id")
    for k in range(0, len(external_ids), 500):
        chunk = external_ids[k : k + 500]
        rows = session.execute(
            stmt.where(Offer.agency_id == agency_id, Offer.external_id.in_(chunk))
        )
        for r in rows:
            found[r[ext_at]] = _Stored(r[0], r[1], r[2], r[3], tuple(r[4:]))
    return found


class _Planned(NamedTuple):
    valid: _Valid
    offer_id: str
    stored: _Stored | None
    changes: dict[str, list[Any]]


def _plan(
    valid: list[_Valid], stored: dict[str, _Stored], fmt: str, report: ImportReport
) -> tuple[list[_Planned], list[_Planned], list[_Planned]]:
    """Split accepted rows into (new, changed, unchanged), with each change listed."""
    new, changed, same = [], [], []
    keep_extra = fmt != "hsds"  # CSV and JSON carry no extra: leave what HSDS put there
    as_text: dict[tuple[str, ...], str] = {}
    for v in valid:
        old = stored.get(v.values["external_id"])
        if old is None:
            new.append(_Planned(v, str(uuid.uuid4()), None, {}))
            continue
        values = list(_fields_of(v.values))
        for i in _LIST_AT:
            key = tuple(values[i])
            text = as_text.get(key)
            if text is None:
                text = as_text[key] = json.dumps(values[i])
            values[i] = text
        extra_same = keep_extra or old.extra == v.extra
        if tuple(values) == old.values and extra_same and not old.archived:
            same.append(_Planned(v, old.id, old, {}))
            continue
        before = list(old.values)
        for i in _LIST_AT:
            before[i] = None if before[i] is None else json.loads(before[i])
        changes = {
            name: [jsonable(a), jsonable(b)]
            for name, a, b in zip(OFFER_FIELDS, before, _fields_of(v.values), strict=True)
            if a != b
        }
        if not extra_same:
            changes["extra"] = [old.extra, v.extra]
        if old.archived:
            changes["archived"] = [True, False]
        changed.append(_Planned(v, old.id, old, changes))
    report.created, report.updated, report.unchanged = len(new), len(changed), len(same)
    return new, changed, same


class _DuplicateCheck:
    """Compares every new offer with the live catalogue and the other rows of the file.

    The catalogue is read on construction, before this import writes anything, so the new
    offers are never compared with themselves; ``run`` only computes."""

    def __init__(
        self, session: Session, new: list[_Planned], matched: list[_Planned], threshold: float
    ) -> None:
        self.new, self.matched, self.threshold = new, matched, threshold
        self.catalogue: list[Sketch] = []
        if new:
            self.catalogue = catalogue_sketches(
                session,
                {p.valid.values["municipality"] for p in new},
                exclude={p.offer_id for p in matched},
            )

    def run(self, ids_are_real: bool) -> list[dict[str, Any]]:
        """Duplicate entries ``{row, offer_id, similarity, title[, other_row]}`` by row; for
        two new rows alike, the later one is reported (``offer_id`` of the earlier only when
        the import is written)."""
        if not self.new:
            return []
        sketches = sketch_many((p, p.valid.values) for p in (*self.new, *self.matched))
        sketches += self.catalogue
        involved = np.zeros(len(sketches), dtype=bool)
        involved[: len(self.new)] = True
        found = []
        for i, j, sim in duplicate_pairs(sketches, self.threshold, involved):
            this, other = sketches[i], sketches[j]  # i < j, so ``this`` is a new row
            if (
                isinstance(other.ref, _Planned)
                and other.ref.stored is None
                and other.ref.valid.row > this.ref.valid.row
            ):
                this, other = other, this  # report the later of two new rows
            entry: dict[str, Any] = {"row": this.ref.valid.row, "similarity": round(sim, 3)}
            if isinstance(other.ref, _Planned):
                real = other.ref.stored is not None or ids_are_real
                entry["offer_id"] = other.ref.offer_id if real else None
                entry["other_row"] = other.ref.valid.row
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
_fields_of = operator.itemgetter(*OFFER_FIELDS)
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

    def column(self, name: str, value: Any) -> Any:
        proc = self._offer[name]
        return value if proc is None or value is None else proc(value)

    def history(self, name: str, value: Any) -> Any:
        proc = self._history[name]
        return value if proc is None or value is None else proc(value)

    def fields(self, values: dict[str, Any]) -> list[Any]:
        """The ``OFFER_FIELDS`` values of one offer, encoded, in contract order."""
        out = list(_fields_of(values))
        cache = self._cache
        for i in self._encoded_at:
            value = out[i]
            if value is None:
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

    def run(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.copy_sql:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor, cursor.copy(self.copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        params: list[Any]
        if self.named:
            params = [dict(zip(self.columns, row, strict=True)) for row in rows]
        elif self.positions is None:
            params = rows
        else:
            params = [tuple(row[i] for i in self.positions) for row in rows]
        conn.exec_driver_sql(self.sql, params)


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


def _iso_date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: ``json.dumps`` as it encodes history, without the check for circular references (offer
#: values hold none), which costs a sixth of the encoding; dates as ISO strings.
_history_json = json.JSONEncoder(check_circular=False, default=_iso_date).encode


def created_history(values: dict[str, Any]) -> str:
    """The history entry of an offer created by import, as JSON text: every field that has a
    value, the very text ``json.dumps(changed_fields({}, values))`` gives, which is what
    ``create_offer`` records."""
    pairs = zip(OFFER_FIELDS, _fields_of(values), strict=True)
    return _history_json({name: (None, v) for name, v in pairs if v is not None})


class _WritePlan(NamedTuple):
    actor: str
    agency_id: str
    seq: int
    stamp: Any  # created_at / last_modified, encoded
    at: Any  # history timestamp, encoded


def _new_row(enc: _Encoder, plan: _WritePlan, p: _Planned, fmt: str) -> tuple[Any, ...]:
    extra = enc.column("extra", p.valid.extra if fmt == "hsds" else None)
    fields = enc.fields(p.valid.values)
    return (p.offer_id, plan.agency_id, *fields, extra, False, 1, plan.seq, plan.stamp, plan.stamp)


def _changed_row(enc: _Encoder, plan: _WritePlan, p: _Planned, fmt: str) -> tuple[Any, ...]:
    version = p.stored.version + 1  # type: ignore[union-attr]
    row = (p.offer_id, *enc.fields(p.valid.values), False, version, plan.seq, plan.stamp)
    return (*row, enc.column("extra", p.valid.extra)) if fmt == "hsds" else row


def _write(
    session: Session,
    actor: Principal,
    new: list[_Planned],
    changed: list[_Planned],
    fmt: str,
    agency_id: str,
    created_texts: Callable[[], list[str]],
) -> None:
    """Write the new and changed offers and their history under one catalogue seq, in
    batches. ``created_texts`` gives the history JSON of the new offers (one per offer, as
    ``created_history``); it is asked for after the offers are written, so that another
    process can prepare it meanwhile."""
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
    set_columns = (*_UPDATE_COLUMNS, "extra") if fmt == "hsds" else _UPDATE_COLUMNS
    insert_offers = _Bulk(conn, insert(offers_t), _INSERT_COLUMNS, "offers")
    insert_history = _Bulk(conn, insert(history_t), _HISTORY_COLUMNS, "offer_history")
    update_offers = _Bulk(
        conn,
        update(offers_t)
        .where(offers_t.c.id == bindparam("_id"))
        .values({name: bindparam(f"v_{name}") for name in set_columns}),
        ("_id", *(f"v_{name}" for name in set_columns)),
    )
    with _write_tuned(conn):
        for start in range(0, len(new), BATCH):
            batch = new[start : start + BATCH]
            insert_offers.run(conn, [_new_row(enc, plan, p, fmt) for p in batch])
        for start in range(0, len(changed), BATCH):
            batch = changed[start : start + BATCH]
            update_offers.run(conn, [_changed_row(enc, plan, p, fmt) for p in batch])
        # JSON text goes into a JSON column as it is on both backends
        history = [
            (p.offer_id, 1, "import", plan.actor, plan.at, text)
            for p, text in zip(new, created_texts(), strict=True)
        ]
        history += [
            (p.offer_id, p.stored.version + 1, "import", plan.actor, plan.at,  # type: ignore[union-attr]
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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """An import holds hundreds of thousands of live rows; the cyclic collector would scan
    them again and again (about three times the import's own work) and free nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
        raise InvalidInput([FieldError("agency_id", "say which agency the offers are for")])
    return agency_id


def guess_format(raw: bytes, name: str = "", media_type: str = "") -> str:
    """The import format a file most likely has: CSV by its extension or media type, HSDS by
    ``hsds`` in its name, and a JSON body by whether its first object looks like an HSDS
    service (``name`` before any ``title``) or an offer."""
    name = name.lower().rsplit("/", 1)[-1]
    if name.endswith(".csv") or media_type == "text/csv":
        return "csv"
    if "hsds" in name:
        return "hsds"
    head = raw[:65_536].lstrip(b"\xef\xbb\xbf \t\r\n[")
    if head.startswith(b"{"):
        text = head[:4096].decode("utf-8", errors="ignore")
        name_at, title_at = text.find('"name"'), text.find('"title"')
        return "hsds" if name_at >= 0 and (title_at < 0 or name_at < title_at) else "json"
    return "csv"


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
            FieldError("agency_id", "must be a short slug: lowercase letters, digits, '-' or '_'")
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
) -> ImportReport:
    """Import a whole file of offers into ``agency_id`` and report what happened.

    ``rows_source`` is the raw file (bytes or text) in ``fmt`` (csv, json or hsds);
    ``category`` is the category of HSDS services that carry none of their own; ``progress``
    wraps the row loop like ``lotse.cli_support.progress``. Raises ``BadPayload`` when the file
    cannot be read, ``Forbidden`` when ``actor`` may not edit the agency, and, in atomic mode,
    ``RejectedImport`` with the full report when any row was rejected (nothing written)."""
    _check_request(actor, agency_id, fmt, mode, category)
    report = ImportReport(dry_run=dry_run, mode=mode)
    with _gc_paused():
        rows = read_rows(rows_source, fmt, category)
        total = len(rows)
        valid = _validate(rows, fmt, report, progress)
        del rows  # the raw cells are not needed any more (a third of the import's memory)
        ext_ids = [v.values["external_id"] for v in valid]
        stored = _stored_offers(session, agency_id, ext_ids, with_extra=fmt == "hsds")
        new, changed, same = _plan(valid, stored, fmt, report)
        rejected = mode == "atomic" and bool(report.rejected)
        will_write = not dry_run and not rejected and bool(new or changed)
        check = _DuplicateCheck(session, new, [*changed, *same], threshold)

        def created_texts() -> list[str]:
            return [created_history(p.valid.values) for p in new]

        if will_write:
            _write(session, actor, new, changed, fmt, agency_id, created_texts)
            report.written = True
        report.duplicates = check.run(will_write)
        if rejected:
            raise RejectedImport(
                report.as_dict(),
                f"{report.rejected_rows} of {total} rows were rejected; nothing was written",
            )
    return report
