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

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lotse.errors import LotseError
from matcher.scoring import Ranker
from models.registry import RankerArtifact, active_pointer, load_verified

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


class ActiveRanker:
    """This process's serving ranker, following the registry's active pointer."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        data_dir: Path | str,
        *,
        fallback: Ranker,
        schema_hash: str,
        feature_names: Sequence[str],
        check_interval: float = 1.0,
        retry_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._data_dir = Path(data_dir)
        self._fallback = fallback
        self._schema_hash = schema_hash
        self._feature_names = tuple(feature_names)
        self._check_interval = check_interval
        self._retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._ranker: Ranker = fallback
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
                version, generation = active_pointer(session)
        except SQLAlchemyError as exc:
            log.warning("model registry unreadable, %s keeps serving: %s", self.serving, exc)
            return
        if generation == self._generation:
            return
        if self._failed and self._failed[0] == generation and now < self._failed[1]:
            return
        if version is None:
            self._swap(self._fallback, generation)
            return
        try:
            with self._sessions() as session:
                artifact = load_verified(
                    session,
                    self._data_dir,
                    version,
                    schema_hash=self._schema_hash,
                    feature_names=self._feature_names,
                )
        except (LotseError, OSError, ValueError, EOFError, ImportError) as exc:
            detail = getattr(exc, "detail", None) or str(exc)
            self.last_error = f"{version}: {detail}"
            self._failed = (generation, now + self._retry_interval)
            log.error("model %s refused, %s keeps serving: %s", version, self.serving, detail)
            return
        self._swap(ArtifactRanker(version, artifact), generation)

    def _swap(self, ranker: Ranker, generation: int) -> None:
        previous = self._ranker.version
        self._ranker = ranker  # one reference assignment: atomic for readers
        self._generation = generation
        self._failed = None
        self.last_error = None
        if previous != ranker.version:
            log.info("ranker switched from %s to %s", previous, ranker.version)

    def status(self) -> dict[str, Any]:
        return {"serving": self.serving, "generation": self._generation, "error": self.last_error}
