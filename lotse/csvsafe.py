"""CSV cells that a spreadsheet will not run as formulas ("CSV injection"), in one place.

Spreadsheet programs read a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula,
and a leading tab or carriage return can hide one; an offer titled ``=HYPERLINK(…)`` in a
downloaded export would then run on the reader's machine. Every CSV that Lotse writes passes
each cell through ``neutralise``, which puts an apostrophe in front of such a cell (spreadsheets
show the rest as text), and every CSV it reads passes each cell through ``restore``, which
takes it off again, so export → import gives back the values that were exported.

So that ``restore`` is the exact inverse, a cell that already begins with apostrophes before
one of those characters gets one more (``'=x`` → ``''=x``). Plain numbers (``-3.5``,
``+49``) are no formulas and stay as they are, so numbers stay numbers in a spreadsheet.
"""

from __future__ import annotations

import re

#: Characters that make a spreadsheet cell a formula when they come first.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")
_QUOTED = re.compile(r"'+[=+\-@\t\r]")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(cell: str) -> str:
    """``cell`` as written to a CSV file: with a leading ``'`` when a spreadsheet would read it
    as a formula (see the module docstring), else unchanged."""
    if cell and _NEEDS_QUOTE.match(cell) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """A cell read from a CSV file with ``neutralise`` undone (one leading ``'`` taken off a
    cell that continues with ``'``s and a formula character)."""
    if cell and _QUOTED.match(cell):
        return cell[1:]
    return cell
