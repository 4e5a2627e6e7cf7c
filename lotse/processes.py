"""Helper processes for CPU-bound work beside a request or command.

One Python process computes on one core. A large bulk import reads and validates parts of its
file, and compares offers for duplicates, in helper processes while this process writes to the
database. The pool is loky's reusable executor (from joblib): its processes are started fresh
(not forked from a process that may be running threads), so they hold no locks or connections
of this one; they stay for the next import and exit after ``IDLE_SECONDS`` without work.

Work sent to them must be a module-level function that does not touch the database, and takes
and returns picklable values. Those travel through temporary files, pickled with the standard
pickle: through loky's pipes, megabytes of data are pickled with cloudpickle (several times
slower on plain data) and fed by background threads that take turns with the caller's own
work for Python's lock, slowing both.
"""

from __future__ import annotations

import gc
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Helper processes exit after this long without work.
IDLE_SECONDS = 300
#: When a helper last finished work in this process (``time.monotonic``); None: never.
_last_done: float | None = None


class HelperTask:
    """A function running in a helper process; ``result`` waits for what it returned (or
    raises what it raised, or why the helper could not run it)."""

    def __init__(self, future: Future, folder: tempfile.TemporaryDirectory) -> None:
        self._future = future
        self._folder = folder

    def result(self) -> Any:
        global _last_done
        try:
            value = _load(Path(self._future.result()))
            _last_done = time.monotonic()
            return value
        finally:
            self._folder.cleanup()

    def cancel(self) -> None:
        """Drop the task if it has not started; its files go in any case."""
        self._future.cancel()
        self._future.add_done_callback(lambda _f: self._folder.cleanup())


def helpers_running() -> bool:
    """Whether this process's helpers are (most likely) still running from earlier work, so
    that work sent now starts at once instead of after a process start (about half a
    second, mostly importing modules)."""
    return _last_done is not None and time.monotonic() - _last_done < IDLE_SECONDS - 5


def run_beside(workers: int, fn: Callable[..., Any], *args: Any) -> HelperTask:
    """Start ``fn(*args)`` in the process's pool of ``workers`` helper processes (started on
    first use) and return at once."""
    folder = tempfile.TemporaryDirectory(prefix="lotse-helper-")
    path = Path(folder.name) / "args"
    _dump(args, path)
    from joblib.externals.loky import get_reusable_executor  # only where helpers are used

    pool = get_reusable_executor(max_workers=workers, timeout=IDLE_SECONDS)
    return HelperTask(pool.submit(_call, fn, str(path)), folder)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for bulk work, restoring its state afterwards.

    Bulk work (an import, seeding a catalogue, pickling its rows) keeps hundreds of thousands
    of small objects alive; each full collection walks them again (about three times the
    work itself) and frees nothing. Pause around a call, so that its rows are gone when the
    collector resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _call(fn: Callable[..., Any], path: str) -> str:
    with gc_paused():
        out = Path(path).with_name("result")
        _dump(fn(*_load(Path(path))), out)
        return str(out)


def _dump(value: Any, path: Path) -> None:
    with open(path, "wb") as file:
        pickle.dump(value, file, pickle.HIGHEST_PROTOCOL)


def _load(path: Path) -> Any:
    with open(path, "rb") as file:
        value = pickle.load(file)
    os.unlink(path)
    return value
