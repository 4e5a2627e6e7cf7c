"""Reading import files: CSV (whole, or cut into parts that can be read apart), JSON arrays
of offers, HSDS 3.0 services and HSDS tabular data packages (a ZIP of CSV files, unpacked by
``catalog.hsds_tabular``), into ``SourceRow``s for ``catalog.importing`` to validate.

A file that cannot be read at all gets ``BadPayload`` naming the reason: not UTF-8 (with the
byte and line), empty, unknown or missing columns (with "did you mean"), broken quoting (with
the line). Row numbers count data rows from 1: in a CSV file the header is row 0 and blank
lines are skipped; in a JSON array row N is element N; in HSDS, service N.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, AnyStr, NamedTuple

from rapidfuzz import process

from catalog.hsds import service_to_offer
from catalog.hsds_tabular import read_services
from catalog.schema import OFFER_FIELDS, SERVER_FIELDS
from lotse.csvsafe import restore
from lotse.errors import BadPayload, FieldError
from lotse.i18n import N_
from lotse.jsontext import load_json

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
#: Fields an export carries that the server sets; an import ignores them.
_IGNORED_KEYS = frozenset(SERVER_FIELDS) | {"archived"}


@dataclass
class SourceRow:
    """One row as read from the source, before validation."""

    row: int
    data: dict[str, Any]
    extra: dict[str, Any] | None = None
    problems: list[FieldError] = field(default_factory=list)
    line: int | None = None


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
    if not text or text.isspace():  # (text.strip() would copy a file of many megabytes)
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
    booleans true/false/1/0/yes/no/ja/nein; an empty cell is no value; ``'=…`` reads as ``=…``,
    undoing what an export does to formula-like cells: ``lotse.csvsafe``)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)  # blank lines before the header
        if header is None:
            raise BadPayload("the file is empty; send a header line and one line per offer")
        names = [h.strip().lower() for h in header]
        _check_header(names)
        rows = csv_rows(reader, names)
    except csv.Error as exc:
        raise _unreadable(exc, reader.line_num) from None
    if not rows:
        raise BadPayload("the file has a header but no offers")
    return rows


def _unreadable(exc: csv.Error, line: int) -> BadPayload:
    return BadPayload(
        f"the CSV cannot be read at line {line}: {exc}; check the quoting (a value with a "
        'comma, quote or line break goes in double quotes, and a quote inside it is doubled: "")'
    )


def csv_rows(reader: Any, names: list[str], lines_before: int = 0) -> list[SourceRow]:
    """The data rows of ``reader`` (positioned after the header), numbered from 1; rejected
    rows carry their line, counting ``lines_before`` lines ahead of the reader's text."""
    width = len(names)
    booleans = [n for n in names if n in BOOL_FIELDS]
    floats = [n for n in names if n in FLOAT_FIELDS]
    unnamed = [i for i, n in enumerate(names) if not n]
    rows: list[SourceRow] = []
    line = reader.line_num + lines_before
    for cells in reader:
        start, line = line + 1, reader.line_num + lines_before
        if not any(cells):
            continue  # a blank line
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]  # trailing empty cells (spreadsheet artefact)
        if len(cells) != width:
            if not any(c.strip() for c in cells):
                continue  # a line of blanks only
            hint = (
                "a value with a comma in it must be in double quotes"
                if len(cells) > width
                else "every row needs a cell for every column, empty or not"
            )
            message = f"has {len(cells)} cells but the header has {width} columns; {hint}"
            rows.append(SourceRow(len(rows) + 1, {}, problems=[FieldError("row", message)],
                                  line=start))  # fmt: skip
            continue
        # restore: a cell Lotse's own export kept from running as a formula ('=…) reads as =…
        data = {n: restore(v) for n, v in zip(names, map(str.strip, cells), strict=True) if v}
        for name in booleans:
            value = data.get(name)
            if value is not None:
                data[name] = BOOL_WORDS.get(value.lower(), value)
        for name in floats:
            value = data.get(name)
            if value is not None and "," in value and "." not in value:
                data[name] = value.replace(",", ".")  # a German decimal comma (2,5)
        problems = []
        if unnamed:
            data.pop("", None)
            problems = [
                FieldError("row", f"has a value in column {i + 1}, which has no header")
                for i in unnamed
                if cells[i].strip()
            ]
        if data or problems:  # (not a line of empty cells only: ",,,,")
            rows.append(SourceRow(len(rows) + 1, data, problems=problems, line=start))
    return rows


class CsvParts(NamedTuple):
    """A CSV file cut into parts that can be read independently (``split_csv``)."""

    names: list[str]  # the header's column names, checked
    header_lines: int  # lines up to the first part
    parts: list[bytes] | list[str]  # whole lines of the file, in order


def _lines_in(data: AnyStr, start: int, end: int, nl: AnyStr, cr: AnyStr) -> int:
    """Line ends in ``data[start:end]`` as the CSV reader counts them (``\n``, ``\r\n``, ``\r``)."""
    return data.count(nl, start, end) + data.count(cr, start, end) - data.count(cr + nl, start, end)


def split_csv(data: bytes | str, shares: Sequence[float]) -> CsvParts | None:
    """Cut a CSV file (UTF-8 bytes, or text) after its header into parts of whole rows,
    about ``shares`` of it each (fractions that add up to 1), or None when that is not safe
    (a header with quotes in it, blank lines before it, a header that is not UTF-8).

    A part ends at a line end with an even number of quotes before it, which is a row end
    in a well-quoted file. A stray quote can make a cut fall inside a quoted cell; the part
    before it then ends inside quotes, which the strict reader refuses, and the caller reads
    the whole file in one go instead (``_checked_in_parts``). So a cut is either right or
    found out. A line end is one byte that no other UTF-8 character contains, so cutting
    bytes never cuts a character.
    """
    if isinstance(data, str):
        return _split_csv(data.removeprefix("\ufeff"), shares, "\n", "\r", '"')
    return _split_csv(data.removeprefix(b"\xef\xbb\xbf"), shares, b"\n", b"\r", b'"')


def _split_csv(
    data: AnyStr, shares: Sequence[float], nl: AnyStr, cr: AnyStr, quote: AnyStr
) -> CsvParts | None:
    """``split_csv`` for text or bytes, with the line-end and quote marks of that kind."""
    header_end = data.find(nl)
    first_line = data[:header_end].removesuffix(cr)
    if len(shares) < 2 or header_end < 0 or quote in first_line or cr in first_line:
        return None
    try:
        header = first_line if isinstance(first_line, str) else first_line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    names = [h.strip().lower() for h in header.split(",")]
    if not any(names):
        return None
    _check_header(names)
    body_start = header_end + 1
    size = len(data) - body_start
    cuts = [body_start]
    quotes, counted = 0, 0  # quotes in data[:counted]
    for share in itertools.accumulate(shares[:-1]):
        end = data.find(nl, max(body_start + int(share * size), cuts[-1]))
        while end >= 0:
            quotes += data.count(quote, counted, end)
            counted = end
            if quotes % 2 == 0:
                break
            end = data.find(nl, end + 1)
        if end < 0:
            break
        cuts.append(end + 1)
    cuts.append(len(data))
    pieces = [data[a:b] for a, b in itertools.pairwise(cuts) if b > a]
    header_lines = _lines_in(data, 0, body_start, nl, cr)
    return CsvParts(names, header_lines, pieces) if len(pieces) > 1 else None


def _load_json(text: str) -> Any:
    return load_json(text, "the file")


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
            rows.append(SourceRow(n, {}, problems=[FieldError("row", N_("is not a JSON object"))]))
            continue
        rows.append(SourceRow(n, {k: v for k, v in item.items() if k not in _IGNORED_KEYS}))
    return rows


def _service_rows(services: list[Any], category: str | None) -> list[SourceRow]:
    rows = []
    for n, service in enumerate(services, 1):
        data, extra, problems = service_to_offer(service, category)
        rows.append(SourceRow(n, data, extra, problems))
    return rows


def read_hsds(text: str, category: str | None = None) -> list[SourceRow]:
    """Rows of an HSDS 3.0 service, an array of services or a page of them (``contents``)."""
    doc = _load_json(text)
    if isinstance(doc, dict) and isinstance(doc.get("contents"), list):
        doc = doc["contents"]
    services = [doc] if isinstance(doc, dict) else doc
    if not isinstance(services, list) or not services:
        raise BadPayload("an HSDS import is one service object or a non-empty array of them")
    return _service_rows(services, category)


def read_hsds_tabular(raw: bytes | str, category: str | None = None) -> list[SourceRow]:
    """Rows of an HSDS 3.0 tabular data package (a ZIP): service N is row N of
    ``services.csv``, read with everything the package links to it."""
    services = read_services(raw)
    if not services:
        raise BadPayload("services.csv of the package has no services; there is nothing to import")
    return _service_rows(services, category)


def read_rows(raw: bytes | str, fmt: str, category: str | None = None) -> list[SourceRow]:
    """Parse a whole import body; ``BadPayload`` when it cannot be read at all."""
    if fmt == "hsds-tabular":  # a ZIP, not text
        return read_hsds_tabular(raw, category)
    text = decode_text(raw)
    if fmt == "csv":
        return read_csv(text)
    if fmt == "json":
        return read_json(text)
    return read_hsds(text, category)


def guess_format(raw: bytes, name: str = "", media_type: str = "") -> str:
    """The import format a file most likely has: an HSDS tabular package by being a ZIP,
    CSV by its extension or media type, HSDS by ``hsds`` in its name, and a JSON body by
    whether its first object looks like an HSDS service (``name`` before any ``title``) or an
    offer."""
    name = name.lower().rsplit("/", 1)[-1]
    if raw[:4] == b"PK\x03\x04" or name.endswith(".zip") or media_type == "application/zip":
        return "hsds-tabular"
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
