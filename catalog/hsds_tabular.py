"""HSDS 3.0 tabular data packages: the standard's ``datapackage.json`` and one CSV file per
kind of record (``services.csv``, ``organizations.csv``, ``locations.csv``…), in a ZIP.

This module only changes the form of HSDS records: ``package_chunks`` flattens nested HSDS
services (as ``catalog.hsds`` writes them) into the tables and zips them, and
``read_services`` unzips a package and nests its tables back into services (which
``catalog.hsds.service_to_offer`` then reads, as for HSDS JSON). Which tables exist, their
columns, types and required columns come from the standard's descriptor
(``catalog/data/hsds-datapackage.json``); how records nest is ``NESTED``.

A CSV cell cannot tell an empty text from no value: an empty cell is no value, except in a
column the standard requires, where it is the empty string (as Lotse's HSDS JSON writes it).
Numbers are read as numbers; dates and times stay text, as in HSDS JSON. As in every CSV
Lotse writes, a cell a spreadsheet would run as a formula (``=…``, ``+…``, ``-…``, ``@…``)
is written with a leading ``'``, which reading takes off again (``lotse.csvsafe``).

An uploaded ZIP is read with care, as it comes from outside: it must be a readable ZIP of at
most ``MAX_MEMBERS`` files, with no member path that is absolute or climbs out (``..``), no
link, no encrypted member and no archive inside it; its files are unpacked in memory, never
to disk, with their real sizes checked against ``MAX_MEMBER_BYTES``, ``MAX_TOTAL_BYTES`` and
a compression ratio of ``MAX_RATIO`` (a ZIP bomb stops there). Any breach is ``BadPayload``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from lotse.csvsafe import neutralise, restore
from lotse.errors import BadPayload
from lotse.jsontext import load_json

DESCRIPTOR = Path(__file__).parent / "data" / "hsds-datapackage.json"
DESCRIPTOR_NAME = "datapackage.json"
#: Limits for an uploaded package (the request body limit applies before them).
MAX_MEMBERS = 100
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 100
#: A member this small may compress as well as it likes (a CSV of one repeated value).
_RATIO_FROM_BYTES = 1024 * 1024
#: How files that are archives themselves begin: ZIP, gzip, bzip2, xz, 7z, RAR, and names.
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf",
                  b"Rar!")  # fmt: skip
_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".jar")
_IGNORED_FOLDERS = ("__MACOSX/",)  # what macOS's archiver adds beside the files
#: Spooled tables stay in memory up to this size, then move to a temporary file.
_SPOOL_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024

ONE, MANY = "one", "many"
#: How HSDS records nest in the JSON form: for a kind of record, its nested records as
#: ``(key, kind, link column, ONE or MANY)``. A ``MANY`` record names its parent in the link
#: column (a phone's ``service_id``); a ``ONE`` record is named by the parent's link column
#: (a service's ``organization_id``). Attributes name any record in ``link_id``.
NESTED: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "service": (
        ("organization", "organization", "organization_id", ONE),
        ("program", "program", "program_id", ONE),
        ("phones", "phone", "service_id", MANY),
        ("schedules", "schedule", "service_id", MANY),
        ("service_areas", "service_area", "service_id", MANY),
        ("service_at_locations", "service_at_location", "service_id", MANY),
        ("languages", "language", "service_id", MANY),
        ("funding", "funding", "service_id", MANY),
        ("cost_options", "cost_option", "service_id", MANY),
        ("required_documents", "required_document", "service_id", MANY),
        ("contacts", "contact", "service_id", MANY),
        ("attributes", "attribute", "link_id", MANY),
    ),
    "service_at_location": (
        ("location", "location", "location_id", ONE),
        ("contacts", "contact", "service_at_location_id", MANY),
        ("phones", "phone", "service_at_location_id", MANY),
        ("schedules", "schedule", "service_at_location_id", MANY),
        ("attributes", "attribute", "link_id", MANY),
    ),
    "location": (
        ("languages", "language", "location_id", MANY),
        ("addresses", "address", "location_id", MANY),
        ("contacts", "contact", "location_id", MANY),
        ("accessibility", "accessibility", "location_id", MANY),
        ("phones", "phone", "location_id", MANY),
        ("schedules", "schedule", "location_id", MANY),
        ("attributes", "attribute", "link_id", MANY),
    ),
    "contact": (
        ("phones", "phone", "contact_id", MANY),
        ("attributes", "attribute", "link_id", MANY),
    ),
    "phone": (
        ("languages", "language", "phone_id", MANY),
        ("attributes", "attribute", "link_id", MANY),
    ),
    "attribute": (("taxonomy_term", "taxonomy_term", "taxonomy_term_id", ONE),),
    "taxonomy_term": (("taxonomy_detail", "taxonomy", "taxonomy_id", ONE),),
}


@dataclass(frozen=True)
class Table:
    """One resource of the data package: its file and columns."""

    name: str
    path: str
    columns: tuple[str, ...]
    numbers: frozenset[str]
    required: frozenset[str]


@functools.cache
def descriptor() -> dict[str, Any]:
    """The standard's ``datapackage.json`` (read once, when first needed)."""
    return json.loads(DESCRIPTOR.read_text(encoding="utf-8"))


@functools.cache
def tables() -> dict[str, Table]:
    """The tables of an HSDS data package, by resource name, in the descriptor's order."""
    out = {}
    for resource in descriptor()["resources"]:
        fields = resource["schema"]["fields"]
        out[resource["name"]] = Table(
            name=resource["name"],
            path=resource["path"],
            columns=tuple(f["name"] for f in fields),
            numbers=frozenset(f["name"] for f in fields if f.get("type") == "number"),
            required=frozenset(
                f["name"] for f in fields if (f.get("constraints") or {}).get("required")
            ),
        )
    return out


# --- Writing --------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    # numbers in full (repr) precision; dates and times are text already; a text a
    # spreadsheet would run as a formula gets a leading ' (lotse.csvsafe; plain numbers stay)
    return neutralise(str(value))


class _Spool:
    """The rows of every table as CSV text, kept apart until the ZIP is written; each record
    (by id) is written once, however many services share it."""

    def __init__(self) -> None:
        self.files: dict[str, IO[str]] = {}
        self.writers: dict[str, Any] = {}
        self.seen: dict[str, set[Any]] = {}
        for table in tables().values():
            fh = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by ``close``)
                max_size=_SPOOL_BYTES, mode="w+", encoding="utf-8", newline=""
            )
            self.files[table.name] = fh
            self.writers[table.name] = csv.writer(fh, lineterminator="\n")
            self.writers[table.name].writerow(table.columns)
            self.seen[table.name] = set()

    def add(self, kind: str, record: dict[str, Any]) -> None:
        """Write a record and the records nested in it to their tables."""
        table = tables().get(kind)
        if table is None:
            return
        rid = record.get("id")
        if rid is not None:
            if rid in self.seen[kind]:
                return
            self.seen[kind].add(rid)
        row = {k: v for k, v in record.items() if not isinstance(v, dict | list)}
        for key, child_kind, link, how in NESTED.get(kind, ()):
            value = record.get(key)
            if how == ONE and isinstance(value, dict):
                if value.get("id") is not None:
                    row.setdefault(link, value["id"])
                self.add(child_kind, value)
            elif how == MANY and isinstance(value, list):
                for child in value:
                    if isinstance(child, dict):
                        self.add(child_kind, {link: rid, **child} if rid is not None else child)
        self.writers[kind].writerow([_cell(row.get(c)) for c in table.columns])

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


class _Sink(io.RawIOBase):
    """Where the ZIP is written: bytes collected until taken (no seeking: ZIP writes
    streamable members)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def package_chunks(
    services: Iterable[dict[str, Any]],
    records: Mapping[str, Iterable[dict[str, Any]]] | None = None,
) -> Iterator[bytes]:
    """An HSDS tabular data package (a ZIP) of these fully nested services, and of more
    ``records`` by kind (e.g. a whole taxonomy), as a stream of bytes. Every table of the
    standard is in it, those with no rows with their header only."""
    spool = _Spool()
    try:
        for service in services:
            spool.add("service", service)
        for kind, more in (records or {}).items():
            for record in more:
                spool.add(kind, record)
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            text = json.dumps(descriptor(), indent=2, ensure_ascii=False) + "\n"
            archive.writestr(DESCRIPTOR_NAME, text.encode("utf-8"))
            for table in tables().values():
                fh = spool.files[table.name]
                fh.seek(0)
                with archive.open(table.path, "w") as member:
                    while chunk := fh.read(_CHUNK):
                        member.write(chunk.encode("utf-8"))
                        yield sink.take()
        yield sink.take()
    finally:
        spool.close()


# --- Reading --------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n:,} bytes"


def _unsafe(name: str) -> bool:
    """A member path that could point outside the folder it is unpacked into."""
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return True
    return ".." in PurePosixPath(name).parts


def _checked_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The files of the archive by name, after every check that needs no unpacking."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BadPayload(
            f"the ZIP holds {len(infos)} entries; an HSDS package has a few dozen files "
            f"(at most {MAX_MEMBERS} are read)"
        )
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        if _unsafe(name):
            raise BadPayload(f"the ZIP entry '{name}' has an unsafe path (absolute or with '..')")
        if name in members:
            raise BadPayload(f"the ZIP holds '{name}' twice")
        if info.is_dir() or name.startswith(_IGNORED_FOLDERS):
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise BadPayload(f"the ZIP entry '{name}' is a link; send the files themselves")
        if info.flag_bits & 0x1:
            raise BadPayload(f"the ZIP entry '{name}' is encrypted; send it unencrypted")
        if name.lower().endswith(_ARCHIVE_SUFFIXES):
            raise BadPayload(f"the ZIP holds another archive ('{name}'); send the CSV files")
        if info.file_size > MAX_MEMBER_BYTES:
            raise BadPayload(f"'{name}' is larger than {_size(MAX_MEMBER_BYTES)}")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise BadPayload(f"the ZIP unpacks to more than {_size(MAX_TOTAL_BYTES)}")
        if info.file_size > _RATIO_FROM_BYTES and info.file_size > MAX_RATIO * info.compress_size:
            raise BadPayload(f"'{name}' is compressed more than {MAX_RATIO}:1; refused")
        members[name] = info
    return members


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member's bytes, reading no more than its stated size allows (a size in the
    archive's directory may lie)."""
    with archive.open(info) as fh:
        data = fh.read(min(info.file_size, MAX_MEMBER_BYTES) + 1)
    if len(data) > info.file_size:
        raise BadPayload(f"'{info.filename}' is larger than the ZIP says; refused")
    return data


def _paths(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> dict[str, str]:
    """Where each table is in the archive: beside ``datapackage.json`` (at the top or in one
    folder), under the path its descriptor gives, or else the standard file name."""
    descriptors = [n for n in members if PurePosixPath(n).name == DESCRIPTOR_NAME]
    anchors = descriptors or [n for n in members if PurePosixPath(n).name == "services.csv"]
    if len(anchors) != 1:
        found = "more than one" if anchors else "no"
        raise BadPayload(
            f"the ZIP holds {found} {DESCRIPTOR_NAME} (or services.csv); an HSDS tabular "
            "package is one datapackage.json with the CSV files beside it"
        )
    folder = PurePosixPath(anchors[0]).parent
    paths = {name: table.path for name, table in tables().items()}
    if descriptors:
        try:
            text = _unpack(archive, members[descriptors[0]]).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadPayload(f"{DESCRIPTOR_NAME} is not valid JSON: {exc}") from None
        given = load_json(text, DESCRIPTOR_NAME)  # nested too deep: BadPayload too
        resources = given.get("resources") if isinstance(given, dict) else None
        for resource in resources if isinstance(resources, list) else []:
            if not isinstance(resource, dict) or resource.get("name") not in paths:
                continue
            path = resource.get("path")
            if not isinstance(path, str) or _unsafe(path) or "://" in path:
                raise BadPayload(
                    f"{DESCRIPTOR_NAME} gives resource '{resource['name']}' the path "
                    f"{path!r}; a path inside the package is expected"
                )
            paths[resource["name"]] = path
    return {
        name: str(folder / path) if str(folder) != "." else path for name, path in paths.items()
    }


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text  # validation names the field
    return value if math.isfinite(value) else text


def _read_table(table: Table, name: str, data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadPayload(
            f"{name} is not UTF-8 (byte offset {exc.start}); save it as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        header = [h.strip() for h in next(reader, [])]
        known = [(i, h) for i, h in enumerate(header) if h in table.columns]
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row: dict[str, Any] = {}
            for i, column in known:
                # restore: a cell Lotse's own export kept from running as a formula ('=…)
                value = restore(cells[i].strip()) if i < len(cells) else ""
                if value:
                    row[column] = _number(value) if column in table.numbers else value
                elif column in table.required:
                    row[column] = ""
            rows.append(row)
    except csv.Error as exc:
        raise BadPayload(f"{name} cannot be read at line {reader.line_num}: {exc}") from None
    return rows


class _Tables:
    """The package's rows, looked up by id and by link column."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self._by_id: dict[str, dict[Any, dict[str, Any]]] = {}
        self._by_link: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = {}

    def by_id(self, kind: str, rid: Any) -> dict[str, Any] | None:
        index = self._by_id.get(kind)
        if index is None:
            index = self._by_id[kind] = {}
            for row in self.rows.get(kind, []):
                index.setdefault(row.get("id"), row)
        return index.get(rid)

    def linked(self, kind: str, link: str, rid: Any) -> list[dict[str, Any]]:
        index = self._by_link.get((kind, link))
        if index is None:
            index = self._by_link[(kind, link)] = {}
            for row in self.rows.get(kind, []):
                if row.get(link) not in (None, ""):
                    index.setdefault(row[link], []).append(row)
        return index.get(rid, [])

    def nested(self, kind: str, row: dict[str, Any]) -> dict[str, Any]:
        """A row with the records nested in it, as HSDS JSON has them."""
        record = dict(row)
        for key, child_kind, link, how in NESTED.get(kind, ()):
            if how == ONE:
                child = self.by_id(child_kind, row.get(link)) if row.get(link) else None
                if child is not None:
                    record[key] = self.nested(child_kind, child)
            elif row.get("id") not in (None, ""):
                children = self.linked(child_kind, link, row["id"])
                if children:
                    record[key] = [self.nested(child_kind, c) for c in children]
        return record


def read_services(raw: bytes | str) -> list[dict[str, Any]]:
    """The services of an HSDS tabular package (a ZIP), each fully nested as in HSDS JSON,
    in the order of ``services.csv``; ``BadPayload`` when the ZIP cannot or must not be
    read."""
    if isinstance(raw, str):
        raise BadPayload("an HSDS tabular package is a ZIP file, sent as bytes, not text")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = _checked_members(archive)
            for info in members.values():  # every file, so that no archive hides inside
                with archive.open(info) as fh:
                    if fh.read(8).startswith(_ARCHIVE_MAGIC):
                        raise BadPayload(
                            f"the ZIP holds another archive ('{info.filename}'); send the CSV files"
                        )
            paths = _paths(archive, members)
            if paths["service"] not in members:
                raise BadPayload(f"the package has no {paths['service']}; it lists the services")
            rows = {}
            for kind, table in tables().items():
                member = members.get(paths[kind])
                if member is not None:
                    rows[kind] = _read_table(table, member.filename, _unpack(archive, member))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
        raise BadPayload(
            f"the file is not a readable ZIP ({exc}); an HSDS tabular package is a ZIP of "
            "datapackage.json and the CSV files"
        ) from None
    found = _Tables(rows)
    return [found.nested("service", row) for row in rows.get("service", [])]
