"""HSDS tabular data packages: an export is the standard's package (its descriptor, every
table, rows valid against ``compiled/tabular.json`` and linked by id), imports back into the
same offers, nests back into the services of the JSON export; the standard's own example
package reads like its JSON example; and a ZIP that is broken, unsafe or too big is refused."""

from __future__ import annotations

import copy
import csv
import io
import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from catalog import hsds_tabular
from catalog.exporting import export_offers
from catalog.hsds import service_to_offer
from catalog.importing import import_offers
from catalog.reading import guess_format
from catalog.schema import OFFER_FIELDS, validate_offer
from catalog.tables import Offer
from lotse.accounts import Principal
from lotse.db import transaction
from lotse.errors import BadPayload, RejectedImport
from tests.catalog.test_hsds import in_germany
from tests.factories import offer_data
from tests.hsds_schemas import assert_valid

ADMIN = Principal(role="admin", name="test")
ROWS = [
    offer_data(external_id="a"),
    offer_data(external_id="b", title="Kita Sonne", category="daycare", min_age=0, max_age=6,
               organization="Kita Sonne e.V.", wheelchair_accessible=True, phone="06441 12-3",
               genders=["female"], target_groups=["parents"], cost_eur=12.5),
    offer_data(external_id="c", title="Online-Sprachcafé", category="language_cafe", online=True,
               latitude=None, longitude=None, street=None, postcode=None, days=[], times=[],
               start_date=None, end_date=None, languages=[]),
]  # fmt: skip


def seed(sessions, agency: str = "vhs", rows: list[dict] = ROWS) -> None:
    with transaction(sessions) as session:
        import_offers(session, ADMIN, agency, json.dumps(rows), fmt="json")


def export(sessions, fmt: str, agency: str | None = "vhs") -> Any:
    with transaction(sessions) as session:
        chunks = list(export_offers(session, fmt, agency))
    return b"".join(chunks) if fmt == "hsds-tabular" else json.loads("".join(chunks))


def import_package(sessions, raw: bytes, agency: str = "mycity", **kwargs):
    with transaction(sessions) as session:
        return import_offers(session, ADMIN, agency, raw, fmt="hsds-tabular", **kwargs)


def typed_tables(raw: bytes) -> dict[str, list[dict[str, Any]]]:
    """Every table of a package, its cells typed as the descriptor says (an empty cell: no
    value, but the empty text in a required column)."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name, table in hsds_tabular.tables().items():
            rows = list(csv.DictReader(io.StringIO(archive.read(table.path).decode("utf-8"))))
            out[name] = [
                {
                    k: (float(v) if k in table.numbers else v)
                    for k, v in row.items()
                    if v or k in table.required
                }
                for row in rows
            ]
    return out


def test_an_export_is_the_standards_data_package(sessions, hsds_schemas, hsds_dir):
    seed(sessions)
    raw = export(sessions, "hsds-tabular")
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = archive.namelist()
        descriptor = json.loads(archive.read("datapackage.json"))
        headers = {
            name: archive.read(t.path).decode("utf-8").splitlines()[0]
            for name, t in hsds_tabular.tables().items()
        }
    standard = json.loads((hsds_dir / "examples/csv/datapackage.json").read_text())
    assert descriptor == standard
    assert names == ["datapackage.json", *(r["path"] for r in standard["resources"])]
    for resource in standard["resources"]:
        assert headers[resource["name"]] == ",".join(
            f["name"] for f in resource["schema"]["fields"]
        )

    found = typed_tables(raw)
    assert_valid(hsds_schemas["tabular"], found)
    assert len(found["service"]) == len(found["service_at_location"]) == 3
    assert len(found["organization"]) == 2  # VHS Wetzlar's two offers share one
    assert len(found["taxonomy"]) == 2 and len(found["taxonomy_term"]) == 8 + 26 + 19
    ids = {kind: {row["id"] for row in rows} for kind, rows in found.items()}
    for kind, rows in found.items():  # every id a row names is in the package
        for row in rows:
            for column, target in (("organization_id", "organization"), ("service_id", "service"),
                                   ("location_id", "location"), ("taxonomy_id", "taxonomy"),
                                   ("taxonomy_term_id", "taxonomy_term"),
                                   ("parent_id", "taxonomy_term")):  # fmt: skip
                if row.get(column):
                    assert row[column] in ids[target], (kind, column)
    assert {row["link_id"] for row in found["attribute"]} == ids["service"]


def test_an_export_nests_back_into_the_services_of_the_json_export(sessions):
    seed(sessions)
    services = export(sessions, "hsds", agency=None)
    nested = hsds_tabular.read_services(export(sessions, "hsds-tabular", agency=None))

    def plain(value: Any) -> Any:  # what a CSV cell cannot tell from nothing, left out
        if isinstance(value, dict):
            return {
                k: plain(v)
                for k, v in value.items()
                if v not in ("", [], None) and k != "taxonomy_detail"
            }
        return [plain(v) for v in value] if isinstance(value, list) else value

    assert [plain(s) for s in nested] == [plain(s) for s in services]
    assert nested[0]["attributes"][0]["taxonomy_term"]["taxonomy_detail"]["name"]


def test_an_export_imports_back_into_the_same_offers(sessions):
    seed(sessions)
    raw = export(sessions, "hsds-tabular")
    report = import_package(sessions, raw)
    assert (report.created, report.rejected) == (3, [])
    assert report.duplicates  # the same offers, by another agency
    with transaction(sessions) as session:
        offers = {(o.agency_id, o.external_id): o for o in session.scalars(select(Offer))}
    for ext in ("a", "b", "c"):
        original, copied = offers[("vhs", ext)], offers[("mycity", ext)]
        for name in OFFER_FIELDS:
            assert getattr(copied, name) == getattr(original, name), (ext, name)
        assert copied.extra["hsds"]["service_at_locations"]  # what Lotse does not model: kept
    again = import_package(sessions, raw)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert len(typed_tables(export(sessions, "hsds-tabular", "mycity"))["service"]) == 3


def zipped(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


def example_files(hsds_dir: Path, folder: str = "") -> dict[str, bytes | str]:
    return {f"{folder}{p.name}": p.read_bytes() for p in (hsds_dir / "examples/csv").iterdir()}


def test_the_standards_example_package_reads_like_its_json_example(sessions, hsds_dir):
    example = json.loads((hsds_dir / "examples/service_full.json").read_text())
    services = hsds_tabular.read_services(zipped(example_files(hsds_dir)))
    assert len(services) == 1
    from_csv, _extra, _problems = service_to_offer(services[0], "psychosocial_support")
    from_json, _extra, _problems = service_to_offer(example, "psychosocial_support")
    assert validate_offer(in_germany_fields(from_csv)) == validate_offer(
        in_germany_fields(from_json)
    )
    # imported as it is, it is refused like the JSON example: it lies outside Germany
    with pytest.raises(RejectedImport) as info:
        import_package(sessions, zipped(example_files(hsds_dir)), category="psychosocial_support")
    fields = {r["field"] for r in info.value.report["rejected"]}
    assert {"latitude", "cost_eur"} <= fields
    # moved to Wetzlar and priced in euros, it imports, in a folder of the ZIP too
    files = example_files(hsds_dir, folder="hsds-example/")
    places, costs = "hsds-example/locations.csv", "hsds-example/cost_options.csv"
    files[places] = rewrite(files[places], latitude="50.5558", longitude="8.5047")
    files[costs] = rewrite(files[costs], currency="EUR")
    report = import_package(sessions, zipped(files), category="psychosocial_support")
    assert report.created == 1
    with transaction(sessions) as session:
        offer = session.scalars(select(Offer)).one()
        assert offer.title == example["name"] and offer.cost_eur == 35
        assert (offer.latitude, offer.longitude) == (50.5558, 8.5047)
        address = in_germany(example)["service_at_locations"][0]["location"]["addresses"][0]
        assert offer.municipality == address["city"]


def in_germany_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "latitude": 50.5558, "longitude": 8.5047, "cost_eur": 35}


def rewrite(data: bytes | str, **cells: str) -> str:
    """A CSV file with these columns set in every row."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    rows = list(csv.DictReader(io.StringIO(text)))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({**row, **cells} for row in rows)
    return buf.getvalue()


def test_zip_bodies_are_recognised():
    raw = zipped({"services.csv": "id,name\n"})
    assert guess_format(raw) == "hsds-tabular"
    assert guess_format(b"", name="offers.zip") == "hsds-tabular"
    assert guess_format(b"x", media_type="application/zip") == "hsds-tabular"


def _with_member(name: str, data: bytes, **info: Any) -> Callable[[Path], bytes]:
    def build(hsds_dir: Path) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            for member, content in example_files(hsds_dir).items():
                archive.writestr(member, content)
            entry = zipfile.ZipInfo(name)
            for key, value in info.items():
                setattr(entry, key, value)
            archive.writestr(entry, data)
        return buf.getvalue()

    return build


def _replacing(name: str, data: bytes | str) -> Callable[[Path], bytes]:
    return lambda hsds_dir: zipped({**example_files(hsds_dir), name: data})


def _truncated(hsds_dir: Path) -> bytes:
    raw = zipped(example_files(hsds_dir))
    return raw[: len(raw) // 2]


def _encrypted(hsds_dir: Path) -> bytes:
    """A ZIP whose central directory marks one member encrypted (``zipfile`` writes none)."""
    raw = bytearray(zipped({**example_files(hsds_dir), "secret.csv": "id\n"}))
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        length = int.from_bytes(raw[at + 28 : at + 30], "little")
        if raw[at + 46 : at + 46 + length] == b"secret.csv":
            raw[at + 8] |= 0x1
        at = raw.find(b"PK\x01\x02", at + 4)
    return bytes(raw)


REFUSED: list[tuple[str, Callable[[Path], bytes], str]] = [
    ("not a zip", lambda d: b"PK\x03\x04 certainly not a zip", "not a readable ZIP"),
    ("truncated", _truncated, "not a readable ZIP"),
    ("climbs out", _with_member("../services.csv", b"id\n"), "unsafe path"),
    ("absolute", _with_member("/etc/services.csv", b"id\n"), "unsafe path"),
    ("windows path", _with_member("csv\\..\\x.csv", b"id\n"), "unsafe path"),
    ("nested zip", _with_member("more.zip", zipped({"a.csv": "x"})), "another archive"),
    (
        "zip under another name",
        _with_member("notes.txt", zipped({"a.csv": "x"})),
        "another archive",
    ),
    ("gzip named csv", _with_member("x.csv", b"\x1f\x8b\x08\x00rest"), "another archive"),
    (
        "link",
        _with_member("link.csv", b"/etc/passwd", external_attr=(stat.S_IFLNK | 0o777) << 16),
        "is a link",
    ),
    ("encrypted", _encrypted, "encrypted"),
    (
        "bomb",
        _with_member("big.csv", b"0" * 3_000_000, compress_type=zipfile.ZIP_DEFLATED),
        "compressed more than",
    ),
    (
        "two packages",
        lambda d: zipped({**example_files(d), **example_files(d, "copy/")}),
        "more than one datapackage.json",
    ),
    ("no services", lambda d: zipped({"organizations.csv": "id,name\n"}), "no datapackage.json"),
    ("services missing", lambda d: zipped({"datapackage.json": "{}"}), "has no services.csv"),
    ("bad descriptor", _replacing("datapackage.json", "{"), "not valid JSON"),
    (
        "deep descriptor",
        _replacing("datapackage.json", "[" * 100_000 + "]" * 100_000),
        "nested more than 32 levels",
    ),
    (
        "descriptor climbs out",
        _replacing(
            "datapackage.json",
            json.dumps({"resources": [{"name": "service", "path": "../services.csv"}]}),
        ),
        "a path inside the package",
    ),
    ("not utf-8", _replacing("services.csv", "id,name\nx,Café\n".encode("cp1252")), "not UTF-8"),
    ("broken quotes", _replacing("services.csv", 'id,name\nx,"a"b\n'), "cannot be read at line"),
    ("empty", _replacing("services.csv", "id,name\n"), "has no services"),
]


@pytest.mark.parametrize("build,detail", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_broken_or_unsafe_packages_are_refused(sessions, hsds_dir, build, detail):
    with pytest.raises(BadPayload, match=detail):
        import_package(sessions, build(hsds_dir), category="psychosocial_support")


def test_size_limits(monkeypatch, hsds_dir):
    raw = zipped(example_files(hsds_dir))
    monkeypatch.setattr(hsds_tabular, "MAX_MEMBERS", 5)
    with pytest.raises(BadPayload, match="22 entries"):
        hsds_tabular.read_services(raw)
    monkeypatch.setattr(hsds_tabular, "MAX_MEMBERS", 100)
    monkeypatch.setattr(hsds_tabular, "MAX_MEMBER_BYTES", 50_000)
    with pytest.raises(BadPayload, match="larger than 50,000 bytes"):  # the descriptor: 92 kB
        hsds_tabular.read_services(raw)
    monkeypatch.setattr(hsds_tabular, "MAX_MEMBER_BYTES", 512 * 2**20)
    monkeypatch.setattr(hsds_tabular, "MAX_TOTAL_BYTES", 100_000)
    with pytest.raises(BadPayload, match="unpacks to more than"):
        hsds_tabular.read_services(raw)
    with pytest.raises(BadPayload, match="sent as bytes"):
        hsds_tabular.read_services(raw.decode("latin-1"))


def test_a_changed_cell_is_an_update(sessions):
    seed(sessions)
    raw = export(sessions, "hsds-tabular")
    import_package(sessions, raw)
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    services = list(csv.DictReader(io.StringIO(files["services.csv"].decode("utf-8"))))
    changed = copy.deepcopy(services)
    changed[0]["name"] = "Integrationskurs am Abend"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(services[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(changed)
    files["services.csv"] = buf.getvalue().encode("utf-8")
    report = import_package(sessions, zipped(files))
    assert (report.updated, report.unchanged) == (1, 2)
    with transaction(sessions) as session:
        titles = set(session.scalars(select(Offer.title).where(Offer.agency_id == "mycity")))
    assert "Integrationskurs am Abend" in titles


def test_no_cell_of_a_package_runs_as_a_formula_and_it_imports_back(sessions):
    """As every CSV Lotse writes (``lotse.csvsafe``): a cell starting with = + - @ gets a
    leading ', which the import takes off again."""
    from tests.catalog.test_csv_formulas import NASTY, assert_no_formula, cells

    seed(sessions, rows=[offer_data(external_id="x", **NASTY)])
    raw = export(sessions, "hsds-tabular")
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in archive.namelist():
            if name.endswith(".csv"):
                assert_no_formula(cells(archive.read(name).decode("utf-8")))
        services = list(csv.DictReader(io.StringIO(archive.read("services.csv").decode())))
    assert services[0]["name"] == "'" + NASTY["title"]
    assert import_package(sessions, raw).created == 1
    assert import_package(sessions, raw).unchanged == 1
    with transaction(sessions) as session:
        copied = session.scalars(select(Offer).where(Offer.agency_id == "mycity")).one()
        assert {k: getattr(copied, k) for k in NASTY} == NASTY
