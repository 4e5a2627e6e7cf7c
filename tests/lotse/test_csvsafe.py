"""CSV cells: formula starts neutralised on the way out, restored on the way in."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lotse.csvsafe import neutralise, restore


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("https://evil.example","x")', '\'=HYPERLINK("https://evil.example","x")'),
        ("+49 641 123", "'+49 641 123"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("'=1+1", "''=1+1"),  # an apostrophe of its own survives the round trip
        ("Kurs = gut", "Kurs = gut"),
        ("'quoted'", "'quoted'"),
        ("-3.5", "-3.5"),  # numbers stay numbers
        ("+5", "+5"),
        ("1e-3", "1e-3"),
        ("", ""),
    ],
)
def test_formula_starts_get_an_apostrophe(value, written):
    assert neutralise(value) == written
    assert restore(written) == value


@given(st.text(alphabet=st.sampled_from("'=+-@\t\r a1.eE"), max_size=8) | st.text(max_size=20))
def test_restore_undoes_neutralise(value):
    written = neutralise(value)
    assert restore(written) == value
    if written[:1] in ("=", "@", "\t", "\r"):
        pytest.fail(f"{written!r} starts a formula")
    if written[:1] in ("+", "-"):
        assert re.fullmatch(r"[+-][0-9.eE+-]+", written), written
