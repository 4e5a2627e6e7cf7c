"""Shared plumbing for the command-line groups each package contributes to ``lotse``.

Commands open the database from the environment (``LOTSE_*``) through ``sessions()`` and show
progress on long work with ``progress()`` (to stderr, so output stays pipeable).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click
from sqlalchemy.orm import Session, sessionmaker

from lotse.db import make_engine, make_session_factory
from lotse.errors import InvalidInput, LotseError
from lotse.settings import current

T = TypeVar("T")


@functools.cache
def sessions() -> sessionmaker[Session]:
    """The session factory for this process's configured database (made on first use)."""
    return make_session_factory(make_engine(current().database))


def progress(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterator[T]:
    """Iterate with a tqdm progress bar on stderr (quiet when stderr is not a terminal, so
    logs stay clean)."""
    from tqdm import tqdm

    yield from tqdm(
        items, total=total, desc=desc, file=sys.stderr, unit="row", mininterval=0.5, disable=None
    )


def fail(exc: LotseError) -> click.ClickException:
    """Turn a domain error into a one-line CLI error (exit code 1, no traceback)."""
    msg = exc.detail
    if isinstance(exc, InvalidInput):
        msg = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    return click.ClickException(msg)
