"""Helper processes: work runs elsewhere and comes back whole; failures come back as errors;
nothing is left in the temporary folder."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

import pytest

from lotse import helpers


def _pid_and(value):
    return os.getpid(), value


def _fail(message):
    raise ValueError(message)


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("lotse-helper-*")}


def test_work_runs_in_another_process_and_comes_back_whole(monkeypatch):
    monkeypatch.setattr(helpers, "_last_done", None)
    assert not helpers.helpers_running()
    before = _leftovers()
    value = {"rows": [(1, "Straße", date(2027, 1, 11), ["de", "ar"], None)] * 3, "n": 2.5}
    pid, back = helpers.run_beside(1, _pid_and, value).result()
    assert pid != os.getpid() and back == value
    assert helpers.helpers_running()  # the next work starts at once
    assert _leftovers() <= before  # its files are gone


def test_an_error_in_the_helper_is_raised_to_the_caller():
    before = _leftovers()
    task = helpers.run_beside(1, _fail, "no such row")
    with pytest.raises(ValueError, match="no such row"):
        task.result()
    assert _leftovers() <= before
