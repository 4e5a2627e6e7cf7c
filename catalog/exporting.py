"""Export of the live catalogue (active, non-archived offers) as CSV, JSON, HSDS or an HSDS
tabular data package.

The CSV has exactly the import's columns in the contract's order and writes values the way the
importer reads them (lists ``;``-separated, booleans ``true``/``false``, dates ISO, floats in
full precision; a cell a spreadsheet would run as a formula gets a leading ``'``, which the
importer takes off: ``lotse.csvsafe``), so exporting and importing the file again changes
nothing. The JSON is an
array of offers as the API returns them (the importer ignores the server-set fields); HSDS is
an array of fully nested HSDS 3.0 services; ``hsds-tabular`` is the same services as the
standard's data package (a ZIP of ``datapackage.json`` and CSV files, ``catalog.hsds_tabular``)
with Lotse's two taxonomies and all their terms.

Exports are produced as a stream of chunks (text; bytes for the ZIP) from a cursor read in
batches, so a large catalogue is never held in memory as a whole (the ZIP's tables wait in
temporary files until it is written).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import hsds_tabular
from catalog.hsds import TAXONOMIES, offer_to_hsds_service, taxonomy_record, taxonomy_terms
from catalog.schema import OFFER_FIELDS
from catalog.tables import Offer
from lotse.csvsafe import neutralise

EXPORT_FORMATS: tuple[str, ...] = ("csv", "json", "hsds", "hsds-tabular")
#: Formats exported as bytes (the others as text).
BINARY_FORMATS = frozenset({"hsds-tabular"})
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "hsds": "application/json",
    "hsds-tabular": "application/zip",
}
_SUFFIXES = {"csv": "csv", "json": "json", "hsds": "hsds.json", "hsds-tabular": "hsds.zip"}
#: Offers read per database round trip, and rows per text chunk of the stream.
CHUNK = 1_000
_COLUMNS = ("id", "agency_id", *OFFER_FIELDS, "extra", "archived", "version", "created_at",
            "last_modified")  # fmt: skip


def cell_text(value: Any) -> str:
    """One CSV cell as the importer reads it back (an empty cell is no value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)  # floats print in full (repr) precision


def offer_records(session: Session, agency_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Live offers (active, not archived) as plain mappings, oldest agency key first, read in
    batches."""
    stmt = (
        select(*(getattr(Offer, name) for name in _COLUMNS))
        .where(Offer.archived.is_(False), Offer.status == "active")
        .order_by(Offer.agency_id, Offer.external_id, Offer.id)
        .execution_options(yield_per=CHUNK)
    )
    if agency_id:
        stmt = stmt.where(Offer.agency_id == agency_id)
    for row in session.execute(stmt):
        yield dict(row._mapping)


def csv_chunks(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The CSV file in pieces: the header, then ``CHUNK`` rows at a time."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(OFFER_FIELDS)
    for n, record in enumerate(records, 1):
        writer.writerow([neutralise(cell_text(record[name])) for name in OFFER_FIELDS])
        if n % CHUNK == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _offer_json(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in record.items() if k != "extra"}


def _array_chunks(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    parts: list[str] = ["["]
    for n, item in enumerate(items):
        parts.append(("," if n else "") + "\n" + json.dumps(item, ensure_ascii=False))
        if len(parts) >= CHUNK:
            yield "".join(parts)
            parts = []
    parts.append("\n]\n")
    yield "".join(parts)


def export_offers(
    session: Session, fmt: str, agency_id: str | None = None
) -> Iterator[str] | Iterator[bytes]:
    """The live catalogue (or one agency's part of it) in ``fmt`` as a stream of chunks:
    text, or bytes for ``BINARY_FORMATS``."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    records = offer_records(session, agency_id)
    if fmt == "csv":
        return csv_chunks(records)
    if fmt == "json":
        return _array_chunks(_offer_json(r) for r in records)
    services = (offer_to_hsds_service(r) for r in records)
    if fmt == "hsds":
        return _array_chunks(services)
    vocabulary = {
        "taxonomy": [taxonomy_record(name) for name in TAXONOMIES],
        "taxonomy_term": taxonomy_terms(),
    }
    return hsds_tabular.package_chunks(services, vocabulary)


def export_filename(fmt: str, agency_id: str | None = None, day: date | None = None) -> str:
    """A file name that says what the export holds: ``lotse-offers-vhs-2027-01-11.csv``."""
    day = day or date.today()
    return f"lotse-offers-{agency_id or 'all'}-{day.isoformat()}.{_SUFFIXES[fmt]}"
