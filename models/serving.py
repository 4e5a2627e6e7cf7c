"""Serving: the ranker each worker process uses, switched without a restart.

Every process (each gunicorn worker) holds one ``ActiveRanker``. On a request it returns the
ranker it holds; at most once per ``check_interval`` seconds it also reads the registry's
active pointer (one primary-key read). When the generation has moved, it loads and verifies
the new artifact *beside* the old one and then swaps one reference, which is atomic in Python:
requests in flight finish with the ranker they started with, and no request waits for or fails
because of a load. Only one thread per process loads; the others keep serving meanwhile.

A refused artifact (hash, scikit-learn version or feature schema; see
``models.registry.load_verified``) is logged with its reason and the ranker that was serving
keeps serving; it is tried again after ``retry_interval`` or when the pointer moves again.
With no active version, or nothing loadable at start, the engine's rule score serves and
its own version (e.g. ``rule-score``) is what responses report as ``model_version``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lotse.errors import LotseError
from matcher.interleaving import CHALLENGER, CONTROL
from matcher.scoring import Ranker
from models.registry import RankerArtifact, load_verified, serving_pointer

log = logging.getLogger("lotse.models")


class ArtifactRanker:
    """A verified artifact in the engine's ``Ranker`` shape."""

    def __init__(self, version: str, artifact: RankerArtifact) -> None:
        self.version = version
        self.feature_names = tuple(artifact.feature_names)
        self.artifact = artifact

    def score(self, features: np.ndarray) -> np.ndarray:
        """Scores for candidate rows (columns in ``feature_names`` order); higher ranks first."""
        if features.shape[0] == 0:
            return np.zeros(0)
        return self.artifact.score(features)

    def __repr__(self) -> str:
        return f"ArtifactRanker({self.version!r})"


def arm_position(person_key: str) -> float:
    """Where a person falls in [0, 1) for online comparisons: a salted hash of their key, so
    one person always sees the same arm, on every server, and arms are independent of
    everything else about them."""
    digest = hashlib.sha256(b"lotse-arm\x1f" + person_key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


#: How an online comparison shares its people: ``SPLIT`` serves the challenger's list alone
#: to a share of them; ``INTERLEAVE`` serves that share one list interleaved from both
#: (``matcher.interleaving``), every result remembering its team.
SPLIT, INTERLEAVE = "split", "interleave"
DESIGNS = (SPLIT, INTERLEAVE)
#: The arm recorded for a request served interleaved.
INTERLEAVED = "interleaved"

__all__ = ["CHALLENGER", "CONTROL", "INTERLEAVED"]  # the arms, with the teams' names


class Assignment(NamedTuple):
    """Who ranks one person's request: the ranker, the arm of a running comparison (``None``
    when none runs or the request names nobody) and, interleaved, the challenger to merge
    with (``rival``)."""

    ranker: Ranker
    arm: str | None
    rival: Ranker | None = None


class ActiveRanker:
    """This process's serving ranker, following the registry's active pointer, and the
    challenger of an online comparison while one runs."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        data_dir: Path | str,
        *,
        fallback: Ranker,
        schema_hash: str,
        feature_names: Sequence[str],
        compatible: Mapping[str, Sequence[str]] | None = None,
        check_interval: float = 1.0,
        retry_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._data_dir = Path(data_dir)
        self._fallback = fallback
        self._schema_hash = schema_hash
        self._feature_names = tuple(feature_names)
        self._compatible = dict(compatible or {})
        self._check_interval = check_interval
        self._retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._ranker: Ranker = fallback
        #: (challenger, share of people it serves, design) while an online comparison runs
        self._challenger: tuple[Ranker, float, str] | None = None
        self._generation: int | None = None  # None: never checked
        self._next_check = float("-inf")
        self._failed: tuple[int, float] | None = None
        self.last_error: str | None = None

    @property
    def serving(self) -> str:
        """The version serving right now in this process."""
        return self._ranker.version

    def current(self) -> Ranker:
        """The ranker to use for this request (never blocks on a load in another thread)."""
        if self._clock() >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._refresh()
            finally:
                self._lock.release()
        return self._ranker

    def for_person(self, person_key: str | None) -> Assignment:
        """The ranker for one person and the arm of the running comparison that serves
        them (``None`` when none runs, or the request names nobody: the active version).
        In an interleaved comparison the share of people it covers get the active ranker
        with the challenger as ``rival``."""
        active = self.current()
        challenger = self._challenger
        if challenger is None or not person_key:
            return Assignment(active, None)
        ranker, share, design = challenger
        if arm_position(person_key) >= share:
            return Assignment(active, CONTROL)
        if design == INTERLEAVE:
            return Assignment(active, INTERLEAVED, ranker)
        return Assignment(ranker, CHALLENGER)

    @property
    def challenger(self) -> str | None:
        return self._challenger[0].version if self._challenger else None

    def refresh_now(self) -> Ranker:
        """Check the pointer at once (after a promotion made by this process)."""
        with self._lock:
            self._next_check = float("-inf")
            self._refresh()
        return self._ranker

    def _refresh(self) -> None:
        now = self._clock()
        self._next_check = now + self._check_interval
        try:
            with self._sessions() as session:
                pointer = serving_pointer(session)
        except SQLAlchemyError as exc:
            log.warning("model registry unreadable, %s keeps serving: %s", self.serving, exc)
            return
        generation = pointer.generation
        if generation == self._generation:
            return
        if self._failed and self._failed[0] == generation and now < self._failed[1]:
            return
        try:
            active = self._ranker_of(pointer.active)
            challenger = None
            if pointer.challenger is not None:
                challenger = (
                    self._ranker_of(pointer.challenger),
                    pointer.share,
                    pointer.design,
                )
        except (LotseError, OSError, ValueError, EOFError, ImportError) as exc:
            detail = getattr(exc, "detail", None) or str(exc)
            self.last_error = detail
            self._failed = (generation, now + self._retry_interval)
            log.error("model refused, %s keeps serving: %s", self.serving, detail)
            return
        self._challenger = challenger
        self._swap(active, generation)

    def _ranker_of(self, version: str | None) -> Ranker:
        """The verified ranker of ``version`` (the one serving already when it is that one;
        the fallback for ``None``)."""
        if version is None:
            return self._fallback
        for have in (self._ranker, self._challenger[0] if self._challenger else None):
            if have is not None and have.version == version:
                return have
        try:
            with self._sessions() as session:
                artifact = load_verified(
                    session,
                    self._data_dir,
                    version,
                    schema_hash=self._schema_hash,
                    feature_names=self._feature_names,
                    compatible=self._compatible,
                )
        except LotseError as exc:
            exc.detail = f"{version}: {exc.detail}"
            raise
        return ArtifactRanker(version, artifact)

    def _swap(self, ranker: Ranker, generation: int) -> None:
        previous = self._ranker.version
        self._ranker = ranker  # one reference assignment: atomic for readers
        self._generation = generation
        self._failed = None
        self.last_error = None
        if previous != ranker.version:
            log.info("ranker switched from %s to %s", previous, ranker.version)

    def status(self) -> dict[str, Any]:
        return {
            "serving": self.serving,
            "challenger": self.challenger,
            "generation": self._generation,
            "error": self.last_error,
        }
