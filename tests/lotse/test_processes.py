"""Helper processes: work runs elsewhere and comes back whole; failures come back as errors;
nothing is left in the temporary folder."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from lotse import processes


def _pid_and(value):
    return os.getpid(), value


def _fail(message):
    raise ValueError(message)


def test_work_runs_in_another_process_and_comes_back_whole(monkeypatch):
    monkeypatch.setattr(processes, "_last_done", None)
    assert not processes.helpers_running()
    value = {"rows": [(1, "Straße", date(2027, 1, 11), ["de", "ar"], None)] * 3, "n": 2.5}
    task = processes.run_beside(1, _pid_and, value)
    folder = Path(task._folder.name)
    assert folder.is_dir()  # the arguments wait there
    pid, back = task.result()
    assert pid != os.getpid() and back == value
    assert processes.helpers_running()  # the next work starts at once
    assert not folder.exists()  # its files are gone


def test_an_error_in_the_helper_is_raised_to_the_caller():
    task = processes.run_beside(1, _fail, "no such row")
    folder = Path(task._folder.name)
    with pytest.raises(ValueError, match="no such row"):
        task.result()
    assert not folder.exists()
