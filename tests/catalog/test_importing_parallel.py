"""A large CSV import read, validated and compared in helper processes gives exactly what
the same import gives in one process: the same report, the same catalogue."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from sqlalchemy import select

from catalog import importing
from catalog.exporting import cell_text
from catalog.importing import import_offers
from catalog.reading import split_csv
from catalog.schema import OFFER_FIELDS
from catalog.store import offer_fields
from catalog.tables import Offer
from lotse.accounts import Principal
from lotse.db import transaction
from lotse.errors import BadPayload, RejectedImport
from tests.factories import offer_data

ADMIN = Principal(role="admin", name="test")
HEADER = ",".join(OFFER_FIELDS) + "\n"


@pytest.fixture
def parallel_always(monkeypatch):
    """Helpers for files of any size, so that small test files take the parallel path."""
    monkeypatch.setattr(importing, "PARALLEL_FROM_SIZE", 0)
    monkeypatch.setattr(importing, "PARALLEL_DUPLICATES_FROM", 0)


def csv_body(rows: list[dict], newline: str = "\n") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(OFFER_FIELDS)
    for row in rows:
        writer.writerow([cell_text(row.get(c)) for c in OFFER_FIELDS])
    return buf.getvalue()


def mixed_rows(n: int = 60) -> list[dict]:
    """Valid offers, some with mistakes, look-alikes, repeated keys and multi-line cells,
    spread over the whole file so that every part gets some."""
    rows = []
    for i in range(1, n + 1):
        row = offer_data(external_id=f"k{i}", title=f"Sprachkurs Gruppe {i}")
        if i % 7 == 0:
            row["postcode"] = "123"  # rejected
        if i % 11 == 0:
            row["description"] = 'Zeile eins\nZeile zwei, mit Komma\nund "Zitat"'
        if i % 13 == 0:
            row["external_id"] = "k1"  # used by row 1 already
        if i % 9 == 0:
            row["title"] = "Integrationskurs allgemein – VHS Wetzlar"  # look-alikes
            row["days"] = ["mon"]
        rows.append(row)
    return rows


def run_import(sessions, body, helpers: int, **kwargs):
    with transaction(sessions) as session:
        report = import_offers(session, ADMIN, "vhs", body, helpers=helpers, **kwargs)
        by_id = {o.id: o.external_id for o in session.scalars(select(Offer))}
    return report, by_id


def comparable(report, by_id) -> dict:
    """The report with offer ids replaced by external ids (ids are random per import)."""
    out = report.as_dict()
    out["duplicates"] = [
        {**d, "offer_id": by_id.get(d["offer_id"], d["offer_id"])} for d in out["duplicates"]
    ]
    return out


def catalogue(sessions) -> dict:
    with transaction(sessions) as session:
        return {o.external_id: offer_fields(o) for o in session.scalars(select(Offer))}


def sequential_then_parallel(sessions, body, **kwargs) -> tuple[dict, dict]:
    """Import ``body`` in one process, then (rolled back in between) with a helper."""
    with transaction(sessions) as session:
        one = import_offers(session, ADMIN, "vhs", body, helpers=0, **kwargs)
        by_id = {o.id: o.external_id for o in session.scalars(select(Offer))}
        expected = (comparable(one, by_id), catalogue_of(session))
        session.rollback()
    with transaction(sessions) as session:
        two = import_offers(session, ADMIN, "vhs", body, helpers=1, **kwargs)
        by_id = {o.id: o.external_id for o in session.scalars(select(Offer))}
        got = (comparable(two, by_id), catalogue_of(session))
        session.rollback()
    return expected, got


def catalogue_of(session) -> dict:
    return {o.external_id: offer_fields(o) for o in session.scalars(select(Offer))}


def test_parallel_import_gives_the_same_report_and_catalogue(
    sessions, parallel_always, monkeypatch
):
    sent = []
    original = importing.run_beside
    monkeypatch.setattr(
        importing, "run_beside", lambda n, fn, *args: sent.append(fn) or original(n, fn, *args)
    )
    body = csv_body(mixed_rows())
    expected, got = sequential_then_parallel(sessions, body.encode(), mode="partial")
    assert got == expected
    assert sent == [importing.check_csv_part, importing.duplicate_report]  # helpers did work
    report = expected[0]
    assert report["rejected"] and report["duplicates"] and report["created"] > 30
    assert {e["row"] for e in report["rejected"]} >= {7, 13, 26, 49, 56}
    assert all("line" in e for e in report["rejected"])


def test_parallel_atomic_rejection_and_dry_run_match(sessions, parallel_always):
    body = csv_body(mixed_rows()).encode()
    with pytest.raises(RejectedImport) as one, transaction(sessions) as session:
        import_offers(session, ADMIN, "vhs", body, helpers=0)
    with pytest.raises(RejectedImport) as two, transaction(sessions) as session:
        import_offers(session, ADMIN, "vhs", body, helpers=1)
    assert two.value.report["rejected"] == one.value.report["rejected"]
    assert catalogue(sessions) == {}
    expected, got = sequential_then_parallel(sessions, body, mode="partial", dry_run=True)
    assert got == expected


def test_a_stray_quote_that_misleads_the_cut_is_found_out(sessions, parallel_always, monkeypatch):
    # An unquoted cell with a quote in it is legal CSV but flips the count of quotes, so the
    # cut lands on a line end inside a quoted cell (every description here has line breaks);
    # the part before it then ends inside quotes, and the file is read in one go instead.
    rows = [{**row, "description": "Zeile eins\nZeile zwei"} for row in mixed_rows(30)]
    rows[0]["street"] = "STRAY"
    body = csv_body(rows).replace("STRAY", 'Haus 7"')
    split = split_csv(body, [0.5, 0.5])
    assert split is not None and not split.parts[0].endswith('"\n')  # cut inside a cell
    outcomes = []
    original = importing._checked_in_parts
    monkeypatch.setattr(
        importing, "_checked_in_parts", lambda *a: outcomes.append(original(*a)) or outcomes[-1]
    )
    expected, got = sequential_then_parallel(sessions, body.encode(), mode="partial")
    assert got == expected and expected[0]["created"] > 20
    assert outcomes == [None]  # found out: read in one go


@pytest.mark.parametrize(
    "tail, expected",
    [
        ('k-x,"never closed\n', "check the quoting"),
        ('k-x,"broken"quote,y\n', "check the quoting"),
    ],
)
def test_unreadable_part_gets_the_usual_refusal(sessions, parallel_always, tail, expected):
    body = csv_body(mixed_rows(30)) + tail + csv_body(mixed_rows(5)).split("\n", 1)[1]
    with pytest.raises(BadPayload) as one, transaction(sessions) as session:
        import_offers(session, ADMIN, "vhs", body.encode(), helpers=0, mode="partial")
    with pytest.raises(BadPayload) as two, transaction(sessions) as session:
        import_offers(session, ADMIN, "vhs", body.encode(), helpers=1, mode="partial")
    assert two.value.detail == one.value.detail and expected in one.value.detail


def test_a_part_that_is_not_utf8_gets_the_usual_refusal(sessions, parallel_always):
    body = csv_body(mixed_rows(30)).encode()
    body = body[: len(body) - 40] + "Straße".encode("latin-1") + body[len(body) - 40 :]
    with pytest.raises(BadPayload) as one, transaction(sessions) as session:
        import_offers(session, ADMIN, "vhs", body, helpers=0)
    with pytest.raises(BadPayload) as two, transaction(sessions) as session:
        import_offers(session, ADMIN, "vhs", body, helpers=1)
    assert two.value.detail == one.value.detail
    assert "not UTF-8" in one.value.detail


class _Broken:
    def result(self):
        raise OSError("helper gone")

    def cancel(self):
        pass


def test_failing_helpers_leave_the_work_to_this_process(
    sessions, parallel_always, monkeypatch, caplog
):
    body = csv_body(mixed_rows()).encode()
    expected, _ = sequential_then_parallel(sessions, body, mode="partial")
    monkeypatch.setattr(importing, "run_beside", lambda *args: _Broken())
    with caplog.at_level(logging.WARNING, logger="lotse.catalog"):
        report, by_id = run_import(sessions, body, helpers=1, mode="partial")
    assert comparable(report, by_id) == expected[0]
    assert "helper failed (OSError)" in caplog.text


def test_this_process_reads_more_while_the_helper_still_has_to_start(monkeypatch):
    shares = []
    monkeypatch.setattr(
        importing, "split_csv", lambda raw, s: shares.append(s) or None
    )  # the file is then read in one process
    body = csv_body(mixed_rows(5)).encode()
    monkeypatch.setattr(importing, "PARALLEL_FROM_SIZE", 0)
    for running in (False, True):
        monkeypatch.setattr(importing, "helpers_running", lambda r=running: r)
        importing._checked_rows(body, "csv", None, 1, None)
    assert [s[0] for s in shares] == [importing.OWN_SHARE_AT_START, importing.OWN_SHARE]
    assert importing.OWN_SHARE_AT_START > importing.OWN_SHARE
