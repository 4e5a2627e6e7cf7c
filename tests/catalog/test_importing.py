"""Bulk import: reading CSV/JSON, per-row reports, upsert, atomic/partial/dry run, duplicates,
and export → import being a no-op."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from catalog import importing, vocab
from catalog.exporting import cell_text, export_offers
from catalog.importing import ImportReport, import_agency, import_offers
from catalog.schema import OFFER_FIELDS, validate_offer
from catalog.store import count_offers, create_offer, current_seq, offer_history, patch_offer
from catalog.tables import Offer, OfferChange
from catalog.taxonomy import CATEGORIES
from lotse.accounts import Principal
from lotse.db import transaction
from lotse.errors import BadPayload, Conflict, Forbidden, InvalidInput, RejectedImport
from tests.factories import offer_data

ADMIN = Principal(role="admin", name="test")
VHS = Principal(role="agency", agency_id="vhs")


def csv_text(rows: list[dict], columns: tuple[str, ...] = OFFER_FIELDS) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_text(row.get(c)) for c in columns])
    return buf.getvalue()


def courses(n: int, **overrides) -> list[dict]:
    """``n`` valid, clearly distinct offers (different numbers, so no duplicates)."""
    return [
        offer_data(external_id=f"ik-{i}", title=f"Integrationskurs Nr. {i}", **overrides)
        for i in range(1, n + 1)
    ]


def run(sessions, body, agency="vhs", actor=ADMIN, **kwargs) -> ImportReport:
    with transaction(sessions) as session:
        return import_offers(session, actor, agency, body, **kwargs)


def stored(sessions) -> dict[str, Offer]:
    with transaction(sessions) as session:
        return {o.external_id: o for o in session.scalars(select(Offer))}


def history_count(sessions) -> int:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(OfferChange))


def test_bad_rows_are_each_reported_and_nothing_is_written(sessions):
    rows = courses(4)
    rows[1]["title"] = ""
    rows[2]["latitude"] = 40.0
    rows[3]["category"] = "integration_kurs"
    body = csv_text(rows).replace("false", "vielleicht", 1)  # row 1: online
    with pytest.raises(RejectedImport) as info:
        run(sessions, body)
    report = info.value.report
    found = {(r["row"], r["field"]) for r in report["rejected"]}
    assert found == {(1, "online"), (2, "title"), (3, "latitude"), (4, "category")}
    messages = {r["field"]: r["message"] for r in report["rejected"]}
    assert "true or false" in messages["online"] and "ja/nein" in messages["online"]
    assert messages["latitude"] == "40.0 is far outside Germany"
    assert "did you mean integration_course" in messages["category"]
    assert all(r["line"] == r["row"] + 1 for r in report["rejected"])  # header is line 1
    assert report["written"] is False and report["created"] == 0
    with transaction(sessions) as session:
        assert count_offers(session, include_archived=True) == 0
        assert current_seq(session) == 0


def test_fixed_file_imports_then_reimport_changes_nothing(sessions):
    body = csv_text(courses(3))
    first = run(sessions, body)
    assert (first.created, first.updated, first.unchanged, first.rejected) == (3, 0, 0, [])
    assert first.written
    with transaction(sessions) as session:
        seq = current_seq(session)
    versions = {k: o.version for k, o in stored(sessions).items()}
    entries = history_count(sessions)
    assert entries == 3 and set(versions.values()) == {1}

    again = run(sessions, body)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert not again.written
    assert {k: o.version for k, o in stored(sessions).items()} == versions
    assert history_count(sessions) == entries
    with transaction(sessions) as session:
        assert current_seq(session) == seq


def test_changed_row_updates_with_history_and_one_catalogue_seq(sessions):
    run(sessions, csv_text(courses(3)))
    changed = courses(3)
    changed[0]["capacity_free"] = 0
    changed[2]["days"] = ["mon", "wed"]
    changed.append(offer_data(external_id="new", title="Sprachcafé", category="language_cafe"))
    with transaction(sessions) as session:
        before = current_seq(session)
    report = run(sessions, csv_text(changed))
    assert (report.created, report.updated, report.unchanged) == (1, 2, 1)
    offers = stored(sessions)
    assert offers["ik-1"].version == 2 and offers["ik-1"].capacity_free == 0
    assert offers["ik-2"].version == 1
    assert offers["ik-3"].days == ["mon", "wed"]
    assert {o.seq for o in offers.values() if o.external_id != "ik-2"} == {before + 1}
    with transaction(sessions) as session:
        change = session.scalars(
            select(OfferChange).where(
                OfferChange.offer_id == offers["ik-1"].id, OfferChange.version == 2
            )
        ).one()
        assert change.action == "import" and change.actor == "test"
        assert change.changes == {"capacity_free": [5, 0]}
        (created,) = offer_history(session, offers["new"].id)
        assert created.action == "import" and created.version == 1
        assert created.changes["title"] == [None, "Sprachcafé"]
        assert created.changes["start_date"] == [None, "2027-01-11"]


def test_partial_mode_writes_the_valid_rows(sessions):
    rows = courses(3)
    rows[1]["postcode"] = "1234"
    report = run(sessions, csv_text(rows), mode="partial")
    assert report.created == 2 and report.written
    assert report.rejected == [
        {"row": 2, "field": "postcode", "message": "a German postcode has five digits", "line": 3}
    ]
    assert set(stored(sessions)) == {"ik-1", "ik-3"}


def test_dry_run_reports_everything_and_writes_nothing(sessions):
    report = run(sessions, csv_text(courses(2)), dry_run=True)
    assert report.created == 2 and report.dry_run and not report.written
    assert stored(sessions) == {}
    rows = courses(2)
    rows[0]["title"] = None
    with pytest.raises(RejectedImport):
        run(sessions, csv_text(rows), dry_run=True)
    report = run(sessions, csv_text(rows), dry_run=True, mode="partial")
    assert report.created == 1 and report.rejected_rows == 1
    assert stored(sessions) == {}


def test_an_unreadable_file_writes_nothing(sessions):
    with pytest.raises(BadPayload):
        run(sessions, csv_text(courses(2)) + '"open\n', mode="partial")
    assert stored(sessions) == {}


def test_missing_external_id_and_repeated_ones_are_rejected(sessions):
    rows = courses(3)
    rows[1]["external_id"] = None
    rows[2]["external_id"] = "ik-1"
    with pytest.raises(RejectedImport) as info:
        run(sessions, csv_text(rows))
    rejected = {r["row"]: r for r in info.value.report["rejected"]}
    assert rejected[2]["field"] == "external_id" and "required on import" in rejected[2]["message"]
    assert rejected[3]["message"] == "'ik-1' is already used by row 1 of this file"


def test_json_import_ignores_server_fields_and_checks_shape(sessions):
    items = [{**o, "id": "x", "version": 7, "agency_id": "other"} for o in courses(2)]
    report = run(sessions, json.dumps(items), fmt="json")
    assert report.created == 2
    assert {o.agency_id for o in stored(sessions).values()} == {"vhs"}
    for body, expected in (("{}", "array"), ("[", "not valid JSON"), ("[]", "empty")):
        with pytest.raises(BadPayload, match=expected):
            run(sessions, body, fmt="json")
    with pytest.raises(RejectedImport) as info:
        run(sessions, json.dumps([1, {"title": "x"}]), fmt="json")
    fields = {(r["row"], r["field"]) for r in info.value.report["rejected"]}
    assert (1, "row") in fields and (2, "title") in fields and (2, "category") in fields


def test_agency_scope_and_request_checks(sessions):
    with pytest.raises(Forbidden):
        run(sessions, csv_text(courses(1)), agency="awo", actor=VHS)
    assert run(sessions, csv_text(courses(1)), agency="vhs", actor=VHS).created == 1
    with pytest.raises(InvalidInput) as info:
        run(sessions, csv_text(courses(1)), agency="Not A Slug", fmt="xml", mode="some")
    assert {e.field for e in info.value.errors} == {"agency_id", "format", "mode"}
    assert import_agency(VHS, None) == "vhs"
    with pytest.raises(Forbidden):
        import_agency(VHS, "awo")
    with pytest.raises(InvalidInput):
        import_agency(ADMIN, None)
    assert import_agency(ADMIN, "awo") == "awo"


def test_archived_offer_sent_again_comes_back(sessions):
    run(sessions, csv_text(courses(1)))
    with transaction(sessions) as session:
        session.scalars(select(Offer)).one().archived = True
    report = run(sessions, csv_text(courses(1)))
    assert report.updated == 1
    offer = stored(sessions)["ik-1"]
    assert not offer.archived and offer.version == 2


def test_look_alikes_are_reported_never_merged(sessions):
    existing = offer_data(external_id="a-1")
    run(sessions, csv_text([existing]), agency="awo")
    twin = offer_data(
        external_id="v-1",
        title="Allgemeiner Integrationskurs, Volkshochschule Wetzlar",
        organization="Volkshochschule Wetzlar",
    )
    later_run = offer_data(external_id="v-2", start_date="2027-03-01", end_date="2027-12-01")
    evening = offer_data(external_id="v-3", times=["evening"])
    report = run(sessions, csv_text([twin, later_run, evening]))
    awo_id = stored(sessions)["a-1"].id
    assert report.created == 3
    assert [(d["row"], d["offer_id"]) for d in report.duplicates] == [(1, awo_id)]
    assert report.duplicates[0]["similarity"] >= 0.85
    assert report.duplicates[0]["title"] == existing["title"]
    assert len(stored(sessions)) == 4  # reported, not merged
    # an upsert of the same external_id is not a duplicate of itself
    assert run(sessions, csv_text([{**twin, "capacity_free": 1}])).duplicates == []


def test_look_alike_rows_of_one_file_point_at_each_other(sessions):
    rows = [offer_data(external_id="a"), offer_data(external_id="b", organization="VHS  Wetzlar")]
    dry = run(sessions, csv_text(rows), dry_run=True)
    assert [(d["row"], d["other_row"], d["offer_id"]) for d in dry.duplicates] == [(2, 1, None)]
    done = run(sessions, csv_text(rows))
    assert done.duplicates[0]["offer_id"] == stored(sessions)["a"].id


def test_export_csv_round_trips(sessions):
    rows = [
        *courses(2),
        offer_data(
            external_id="odd",
            title='Kurs "Deutsch, aber schnell"; mit Zeilen\numbruch',
            description="",
            online=True,
            latitude=None,
            longitude=None,
            street=None,
            postcode=None,
            languages=[],
            genders=["female"],
            target_groups=["women", "parents"],
            hours_per_week=7.25,
            cost_eur=12.5,
            email="kurse@vhs.example",
            url="https://vhs.example/kurs",
            phone="+49 6441 407-0",
        ),
    ]
    run(sessions, json.dumps(rows), fmt="json")
    with transaction(sessions) as session:
        exported = "".join(export_offers(session, "csv", "vhs"))
    assert exported.splitlines()[0] == ",".join(OFFER_FIELDS)
    report = run(sessions, exported)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    with transaction(sessions) as session:
        exported_json = "".join(export_offers(session, "json", "vhs"))
    assert run(sessions, exported_json, fmt="json").unchanged == 3


# --- export → import is a no-op, for any valid offers ------------------------------------

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(",;\"\n\t'=+-@"),
    max_size=40,
)


@st.composite
def valid_offers(draw) -> dict:
    lo, hi = sorted(draw(st.lists(st.integers(0, 120), min_size=2, max_size=2)))
    l1, l2 = sorted(draw(st.lists(st.integers(0, 6), min_size=2, max_size=2)))
    start = draw(st.none() | st.dates(date(2025, 1, 1), date(2029, 1, 1)))
    total = draw(st.none() | st.integers(0, 500))
    online = draw(st.booleans())
    placed = not online or draw(st.booleans())

    def some(values):
        return draw(st.lists(st.sampled_from(values), unique=True, max_size=3))

    data = {
        "title": draw(TEXT.filter(lambda t: len(t.strip()) >= 3)),
        "description": draw(TEXT),
        "category": draw(st.sampled_from(CATEGORIES)),
        "organization": draw(TEXT.filter(lambda t: t.strip() != "")),
        "municipality": draw(st.sampled_from(["Wetzlar", "Gießen", "Köln", "Görlitz"])),
        "street": draw(st.none() | TEXT),
        "postcode": draw(st.none() | st.from_regex(r"\A[0-9]{5}\Z")),
        "latitude": draw(st.floats(47.3, 55.0)) if placed else None,
        "longitude": draw(st.floats(5.9, 15.0)) if placed else None,
        "online": online,
        "languages": some(["de", "ar", "fa", "tr", "uk", "en"]),
        "min_age": draw(st.none() | st.just(lo)),
        "max_age": draw(st.none() | st.just(hi)),
        "genders": some(vocab.GENDERS),
        "residence_statuses": some(vocab.RESIDENCE_STATUSES),
        "benefits_required": some(vocab.BENEFITS),
        "min_german_level": draw(st.none() | st.just(vocab.GERMAN_LEVELS[l1])),
        "max_german_level": draw(st.none() | st.just(vocab.GERMAN_LEVELS[l2])),
        "target_german_level": draw(st.none() | st.sampled_from(vocab.GERMAN_LEVELS)),
        "literacy_required": draw(st.booleans()),
        "target_groups": some(vocab.TARGET_GROUPS),
        "days": some(vocab.DAYS),
        "times": some(vocab.TIMES),
        "start_date": start,
        "end_date": None if start is None else start + timedelta(draw(st.integers(0, 400))),
        "hours_per_week": draw(st.none() | st.floats(0, 60)),
        "capacity_total": total,
        "capacity_free": None if total is None else draw(st.integers(0, total)),
        "childcare": draw(st.booleans()),
        "cost_eur": draw(st.floats(0, 5000)),
        "wheelchair_accessible": draw(st.booleans()),
        "url": draw(st.none() | st.just("https://example.org/a?b=c,d")),
        "email": draw(st.none() | st.just("kurs@example.org")),
        "phone": draw(st.none() | st.just("+49 (641) 123/45-6")),
        "status": draw(st.sampled_from(vocab.STATUSES)),
    }
    return data


_round = {"n": 0}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(offers=st.lists(valid_offers(), min_size=1, max_size=4))
def test_export_then_import_is_a_no_op(sessions, offers):
    for i, offer in enumerate(offers):
        offer["external_id"] = f"p-{i}"
        try:
            validate_offer(offer)
        except InvalidInput:
            assume(False)
    _round["n"] += 1
    agency = f"prop-{_round['n']}"
    first = run(sessions, json.dumps(offers, default=str), agency=agency, fmt="json")
    assert first.created == len(offers)
    with transaction(sessions) as session:
        csv_export = "".join(export_offers(session, "csv", agency))
        json_export = "".join(export_offers(session, "json", agency))
    active = sum(o["status"] == "active" for o in offers)
    if active:
        again = run(sessions, csv_export, agency=agency)
        assert (again.created, again.updated, again.unchanged) == (0, 0, active)
        again = run(sessions, json_export, agency=agency, fmt="json")
        assert (again.created, again.updated, again.unchanged) == (0, 0, active)


def test_export_lists_only_live_offers(sessions):
    rows = courses(3)
    rows[1]["status"] = "inactive"
    run(sessions, csv_text(rows))
    with transaction(sessions) as session:
        exported = "".join(export_offers(session, "csv"))
    ids = [line.split(",")[0] for line in exported.splitlines()[1:]]
    assert ids == ["ik-1", "ik-3"]


# --- the command line ---------------------------------------------------------------------


def test_cli_import_report_and_exit_codes(runner, tmp_path):
    rows = courses(3)
    rows[1]["title"] = "ab"
    path = tmp_path / "offers.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    result = runner.invoke(args=["catalog", "import", str(path), "--agency", "vhs"])
    assert result.exit_code == 1
    assert "created 2, updated 0, unchanged 0, rejected 1 rows (nothing written)" in result.output
    assert "row 2 (line 3), title: String should have at least 3 characters" in result.output
    assert "--mode partial" in result.output

    result = runner.invoke(
        args=["catalog", "import", str(path), "--agency", "vhs", "--mode", "partial"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("created 2, updated 0, unchanged 0, rejected 1 rows (written)")

    twin = tmp_path / "twin.json"
    twin.write_text(json.dumps([offer_data(external_id="t", organization="VHS  Wetzlar")]))
    result = runner.invoke(args=["catalog", "import", str(twin), "--agency", "awo", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "created 1, updated 0, unchanged 0, rejected 0 rows (dry run" in result.output
    assert "possible duplicates" in result.output and "row 1 ~ offer " in result.output

    result = runner.invoke(args=["catalog", "import", str(path), "--agency", "Bad Slug"])
    assert result.exit_code == 1 and "agency_id" in result.output


def test_cli_export_and_duplicates(runner, tmp_path):
    path = tmp_path / "offers.csv"
    path.write_text(csv_text([offer_data(external_id="a"), offer_data(external_id="b")]))
    assert (
        runner.invoke(
            args=["catalog", "import", str(path), "--agency", "vhs", "--mode", "partial"]
        ).exit_code
        == 0
    )
    out = tmp_path / "export.csv"
    result = runner.invoke(args=["catalog", "export", "--agency", "vhs", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == ",".join(OFFER_FIELDS)
    result = runner.invoke(args=["catalog", "export", "--format", "hsds"])
    assert json.loads(result.stdout)[0]["name"] == offer_data()["title"]
    result = runner.invoke(args=["catalog", "duplicates", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "offer_a,offer_b,similarity,title_a,title_b" and len(lines) == 2
    assert "1 likely duplicate pairs among 2 offers" in result.stderr
    table = runner.invoke(args=["catalog", "duplicates", "--threshold", "0.99"])
    assert "1.00" in table.stdout


def test_cli_exports_and_imports_hsds_tabular_packages(runner, tmp_path):
    path = tmp_path / "offers.csv"
    rows = [offer_data(external_id="a"), offer_data(external_id="b", title="Sprachcafé")]
    path.write_text(csv_text(rows))
    assert runner.invoke(args=["catalog", "import", str(path), "--agency", "vhs"]).exit_code == 0
    out = tmp_path / "offers.zip"
    result = runner.invoke(
        args=["catalog", "export", "--format", "hsds-tabular", "--agency", "vhs", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert zipfile.ZipFile(out).read("datapackage.json").startswith(b"{")
    piped = runner.invoke(args=["catalog", "export", "--format", "hsds-tabular"])
    assert piped.exit_code == 0 and piped.stdout_bytes.startswith(b"PK\x03\x04")
    result = runner.invoke(args=["catalog", "import", str(out), "--agency", "awo"])
    assert result.exit_code == 0, result.output
    assert "created 2, updated 0, unchanged 0, rejected 0 rows (written)" in result.output
    assert "hsds-tabular import of offers.zip" in result.stderr


def test_imported_offer_has_the_history_of_a_single_create(sessions):
    # the bulk writer writes history itself; an imported offer's history must read exactly
    # like that of the same offer created through the API
    rows = [
        offer_data(external_id="a"),
        offer_data(external_id="b", start_date="2027-01-04", end_date="2027-03-01", street=None,
                   cost_eur=12.5, title="Sprachcafé"),
        offer_data(external_id="c", online=True, latitude=None, longitude=None,
                   languages="de;ar", days="mon", title="Online-Kurs"),
    ]  # fmt: skip
    run(sessions, csv_text(rows), agency="vhs", mode="partial")
    with transaction(sessions) as session:
        for data in rows:
            imported = session.scalar(select(Offer).where(Offer.external_id == data["external_id"]))
            created = create_offer(session, ADMIN, "other", {**data, "external_id": None})
            got = offer_history(session, imported.id)
            want = offer_history(session, created.id)
            assert len(got) == len(want) == 1
            assert got[0].changes == {**want[0].changes, "external_id": [None, data["external_id"]]}
            assert (got[0].action, got[0].version) == ("import", 1)


def test_an_offer_edited_while_an_import_runs_keeps_the_edit(sessions, monkeypatch):
    # the import read version 1; someone's PATCH commits version 2 before the import writes:
    # the import must not write over it (nor number its own change 2 as well)
    run(sessions, csv_text(courses(2)), mode="partial")
    planned_by = importing._plan

    def plan_then_someone_edits(*args):
        planned = planned_by(*args)
        with transaction(sessions) as other:  # another connection, committed at once
            offer = other.scalar(select(Offer).where(Offer.external_id == "ik-1"))
            patch_offer(other, ADMIN, offer.id, {"capacity_free": 1}, None)
        return planned

    monkeypatch.setattr(importing, "_plan", plan_then_someone_edits)
    with pytest.raises(Conflict, match="changed by someone else while it ran"):
        run(sessions, csv_text(courses(2, capacity_free=0)), mode="partial")
    offers = stored(sessions)
    assert (offers["ik-1"].capacity_free, offers["ik-1"].version) == (1, 2)  # the edit stands
    assert (offers["ik-2"].capacity_free, offers["ik-2"].version) == (5, 1)  # nothing written


def test_an_offer_created_while_an_import_runs_is_a_conflict(sessions, monkeypatch):
    planned_by = importing._plan

    def plan_then_someone_creates(*args):
        planned = planned_by(*args)
        with transaction(sessions) as other:
            create_offer(other, ADMIN, "vhs", offer_data(external_id="ik-2", title="Schon da"))
        return planned

    monkeypatch.setattr(importing, "_plan", plan_then_someone_creates)
    with pytest.raises(Conflict, match="created by someone else while this import ran"):
        run(sessions, csv_text(courses(3)), mode="partial")
    assert list(stored(sessions)) == ["ik-2"]  # the other writer's offer only


def test_random_uuids_are_version_4_and_distinct():
    ids = importing.random_uuids(2000)
    parsed = [uuid.UUID(i) for i in ids]
    assert len(set(ids)) == 2000
    assert all(str(u) == i and u.version == 4 and u.variant == uuid.RFC_4122
               for u, i in zip(parsed, ids, strict=True))  # fmt: skip


def test_a_small_file_for_an_agency_with_many_offers_finds_its_stored_ones(sessions):
    # more stored offers than rows in the file: they are looked up by external id
    run(sessions, csv_text(courses(6)), mode="partial")
    rows = courses(2)
    rows[1]["capacity_free"] = 0
    report = run(sessions, csv_text(rows), mode="partial")
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert stored(sessions)["ik-2"].capacity_free == 0


def test_service_areas_and_professions_import_and_export_as_csv(sessions):
    office = offer_data(
        external_id="lafp",
        title="Anerkennung als Pflegefachfrau / Pflegefachmann",
        category="recognition_procedure",
        municipality="Wiesbaden",
        service_area_type="state",
        service_area="Hessen",
        professions=["Pflegefachkraft", "Hebamme"],
    )
    report = run(sessions, csv_text([office]), fmt="csv")
    assert report.created == 1
    got = stored(sessions)["lafp"]
    assert (got.service_area_type, got.service_area) == ("state", "Hessen")
    assert got.professions == ["Pflegefachkraft", "Hebamme"]
    with transaction(sessions) as session:
        exported = "".join(export_offers(session, "csv", "vhs"))
    row = next(csv.DictReader(io.StringIO(exported)))
    assert row["service_area_type"] == "state" and row["service_area"] == "Hessen"
    assert row["professions"] == "Pflegefachkraft;Hebamme"
    again = run(sessions, exported, fmt="csv")
    assert again.unchanged == 1  # the export imports back into the same offer
    bad = run(
        sessions,
        csv_text([{**office, "external_id": "x", "service_area": "Hesse"}]),
        fmt="csv",
        mode="partial",
    )
    assert [r["field"] for r in bad.as_dict()["rejected"]] == ["service_area"]
