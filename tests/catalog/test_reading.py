"""Reading import files: CSV cells, headers and encodings, refusals with reasons, cutting a
CSV file into parts, guessing the format."""

from __future__ import annotations

import csv
import io

import pytest

from catalog.reading import guess_format, read_csv, read_rows, split_csv
from catalog.schema import OFFER_FIELDS, validate_offer
from lotse.errors import BadPayload
from tests.catalog.test_importing import courses, csv_text
from tests.catalog.test_importing_parallel import HEADER, csv_body, mixed_rows


@pytest.mark.parametrize(
    "body,expected",
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"external_id,title\n", "missing required column(s): category, organization"),
        (csv_text(courses(1)).replace("title,", "titel,", 1).encode(), "did you mean 'title'"),
        (csv_text(courses(1)).replace("online", "colour").encode(), "unknown column(s): 'colour'"),
        (csv_text(courses(1)).replace(",", ";").encode(), "use ','"),
        (csv_text(courses(1)).encode("cp1252"), "not UTF-8; save the file as UTF-8 (byte offset"),
        (csv_text(courses(1)) + 'x,"broken"quote,y\n', "check the quoting"),
        (csv_text(courses(1)) + 'x,"never closed\n', "check the quoting"),
        (",".join(OFFER_FIELDS) + "\n", "no offers"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(body, expected):
    with pytest.raises(BadPayload) as info:
        read_rows(body, "csv")
    assert expected in info.value.detail


def test_byte_offset_of_bad_encoding():
    body = "external_id,title\nä".encode("latin-1")
    with pytest.raises(BadPayload) as info:
        read_rows(body, "csv")
    assert "byte offset 18, line 2: byte 0xe4, which is 'ä' in Windows-1252" in info.value.detail


def test_csv_cells_bom_booleans_decimal_comma_blank_and_ragged_lines():
    text = (
        "\ufeffexternal_id,Title ,category,organization,municipality,latitude,online,languages\n"
        'a,Kurs A,integration_course,VHS,Wetzlar,"50,5558",Ja, de ; ar \n'
        "b,Kurs B\n"
        "\n"
        ",,,,,,,\n"
        "c,Kurs C,integration_course,VHS,Wetzlar,50.5,NEIN,,\n"
    )
    rows = read_csv(text)
    assert [(r.row, r.line) for r in rows] == [(1, 2), (2, 3), (3, 6)]
    assert rows[0].data == {
        "external_id": "a",
        "title": "Kurs A",
        "category": "integration_course",
        "organization": "VHS",
        "municipality": "Wetzlar",
        "latitude": "50.5558",
        "online": "true",
        "languages": "de ; ar",
    }
    assert rows[1].problems[0].field == "row" and "has 2 cells" in rows[1].problems[0].message
    assert rows[2].data["online"] == "false" and rows[2].problems == []
    assert validate_offer({**rows[0].data, "longitude": 8.5}).languages == ["de", "ar"]


def test_guess_format():
    assert guess_format(b"a,b", name="offers.csv") == "csv"
    assert guess_format(b'[{"title": "t"}]', media_type="text/csv") == "csv"
    assert guess_format(b'[{"external_id": "a", "title": "t"}]', name="x.json") == "json"
    assert guess_format(b'{"id": "a", "name": "n", "contacts": [{"title": "t"}]}') == "hsds"
    assert guess_format(b"[]", name="data/services.hsds.json") == "hsds"
    assert guess_format(b"external_id,title") == "csv"


def test_split_cuts_only_at_row_ends_and_counts_lines():
    body = csv_body(mixed_rows(40), newline="\r\n").encode()
    parts = split_csv(body, [0.3, 0.3, 0.4])
    assert parts is not None and len(parts.parts) == 3
    assert parts.names == list(OFFER_FIELDS)
    assert parts.header_lines == 1
    rows = []
    for data in parts.parts:
        assert data.endswith(b"\r\n")
        rows += csv.reader(io.StringIO(data.decode(), newline=""), strict=True)
    assert b"".join(parts.parts) == body.split(b"\n", 1)[1]
    whole = list(csv.reader(io.StringIO(body.decode(), newline=""), strict=True))[1:]
    assert rows == whole


@pytest.mark.parametrize(
    "body",
    [
        '"external_id",' + HEADER[12:] + "k1\nk2\n",  # quotes in the header
        "\n" + HEADER + "k1\nk2\n",  # a blank line first
        HEADER,  # no rows
    ],
)
def test_split_declines_what_it_cannot_cut_safely(body):
    assert split_csv(body, [0.5, 0.5]) is None
