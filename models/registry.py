"""The registry of ranker versions: artifacts on disk, their records, and which one serves.

An artifact is one joblib file holding a ``RankerArtifact`` (the fitted feature pipeline and
model, the ordered feature names and schema hash it was trained on, the scikit-learn version
that built it), with ``card.json`` beside it. The database row records the artifact's SHA-256.
``load_verified`` refuses, each with its own clear error,

- an artifact whose bytes no longer match the recorded hash (checked *before* unpickling, since
  unpickling runs code),
- one built with another scikit-learn version (trees pickled by one version are not promised
  to load or predict the same in another),
- one whose feature schema differs from what the engine computes now (the columns would mean
  something else).

The active version is a pointer with a generation counter (``models.tables.ModelState``);
``set_active`` moves it, only from the generation it was decided on, and writes the promotion
log in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import joblib
import numpy as np
import sklearn
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lotse.db import changed_rows, utcnow
from lotse.errors import Conflict, NotFound
from models.tables import ModelExperiment, ModelPromotion, ModelState, ModelVersion

ARTIFACT_FILE = "model.joblib"
#: The copy fitted on the training part of the split only: what the card's metrics and the
#: promotion gate judge (the served copy was refitted on every row, test rows included).
HELDOUT_FILE = "heldout.joblib"
#: Cross-fitted scores of every training row (each from a model that never saw its person),
#: keyed by ``models.training.row_keys``: what the promotion gate compares on.
CROSSFIT_FILE = "crossfit.npz"
CARD_FILE = "card.json"
_VERSION = re.compile(r"^v(\d+)$")


class ArtifactRefused(Conflict):
    """A model artifact may not be loaded; the active version keeps serving."""

    title = "Model artifact refused"


class ArtifactTampered(ArtifactRefused):
    title = "Model artifact does not match its record"


class LibraryVersionMismatch(ArtifactRefused):
    title = "Model artifact built with another scikit-learn"


class FeatureSchemaMismatch(ArtifactRefused):
    title = "Model artifact expects other features"


@dataclass
class RankerArtifact:
    """What one artifact file holds: everything needed to turn served features into scores."""

    #: Fitted; ``estimator.predict(X)`` scores rows of X, columns in ``feature_names`` order.
    estimator: Any
    feature_names: tuple[str, ...]
    schema_hash: str
    sklearn_version: str = field(default_factory=lambda: sklearn.__version__)
    kind: str = "take_up_outcome"
    #: Features whose sign is flipped before scoring: only in a negative control, a model
    #: broken on purpose to show that the promotion gate refuses it.
    flipped: tuple[str, ...] = ()

    def score(self, features: np.ndarray) -> np.ndarray:
        """Ranking scores for a feature matrix in ``feature_names`` order (higher is better)."""
        X = np.asarray(features, dtype=np.float64)
        if self.flipped:
            X = X.copy()
            for name in self.flipped:
                j = self.feature_names.index(name)
                X[:, j] = -X[:, j]
        fast = getattr(self.estimator, "score_rows", None)
        if fast is not None:
            return np.asarray(fast(X))
        return np.asarray(self.estimator.predict(X))


def models_root(data_dir: Path | str) -> Path:
    """Where artifacts live: ``LOTSE_DATA_DIR/models``."""
    return Path(data_dir) / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def next_version(session: Session) -> str:
    """The next free version name: ``v1``, ``v2``, …"""
    numbers = [
        int(m.group(1))
        for v in session.scalars(select(ModelVersion.version))
        if (m := _VERSION.match(v))
    ]
    return f"v{max(numbers, default=0) + 1}"


def get_version(session: Session, version: str) -> ModelVersion:
    row = session.get(ModelVersion, version)
    if row is None:
        raise NotFound(f"no model version '{version}'")
    return row


def list_versions(session: Session) -> list[ModelVersion]:
    """Every registered version, oldest first."""
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at)))


@dataclass(frozen=True)
class ServingPointer:
    """What every worker serves: the active version (``None``: the rule score), the
    generation every change bumps, and the challenger of a running online comparison."""

    active: str | None
    generation: int
    challenger: str | None = None
    share: float = 0.0
    experiment_id: int | None = None
    #: ``"split"`` or ``"interleave"`` (``models.serving.DESIGNS``)
    design: str = "split"


def serving_pointer(session: Session) -> ServingPointer:
    """The serving pointer and the running comparison: one read of the single state row."""
    row = session.execute(
        select(
            ModelState.active_version,
            ModelState.generation,
            ModelExperiment.challenger,
            ModelExperiment.share,
            ModelExperiment.id,
            ModelExperiment.design,
        )
        .outerjoin(ModelExperiment, ModelExperiment.id == ModelState.experiment_id)
        .where(ModelState.id == 1)
    ).first()
    if row is None:
        return ServingPointer(None, 0)
    return ServingPointer(
        row[0], int(row[1]), row[2], float(row[3] or 0.0), row[4], row[5] or "split"
    )


def set_experiment(session: Session, experiment: ModelExperiment | None) -> None:
    """Start (``experiment``) or end (``None``) the online comparison every worker follows,
    bumping the generation so that they all switch within their check interval. Like a
    promotion, only from the generation read here (``Conflict`` when another change was
    first)."""
    _active, generation = active_pointer(session)
    row = session.get(ModelState, 1)
    if row is None:
        session.add(
            ModelState(
                id=1,
                active_version=None,
                generation=1,
                experiment_id=None if experiment is None else experiment.id,
                changed_at=utcnow(),
            )
        )
        session.flush()
        return
    moved = session.execute(
        update(ModelState)
        .where(ModelState.id == 1, ModelState.generation == generation)
        .values(
            experiment_id=None if experiment is None else experiment.id,
            generation=generation + 1,
            changed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if changed_rows(moved) != 1:
        _pointer_moved(*active_pointer(session), read=generation)


def active_pointer(session: Session) -> tuple[str | None, int]:
    """``(active version or None, generation)``: one primary-key read, cheap enough to poll."""
    row = session.execute(
        select(ModelState.active_version, ModelState.generation).where(ModelState.id == 1)
    ).first()
    return (None, 0) if row is None else (row[0], int(row[1]))


def save_version(
    session: Session,
    data_dir: Path | str,
    artifact: RankerArtifact,
    card: dict[str, Any],
    actor: str,
    parent: str | None,
    heldout: RankerArtifact | None = None,
    crossfit: tuple[np.ndarray, np.ndarray] | None = None,
) -> ModelVersion:
    """Write the artifact (and its held-out copy) and its card under a new version and record
    their hashes.

    Files are written into a temporary folder and renamed into place only once complete, so a
    crash never leaves a half-written artifact under a version name.
    """
    root = models_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        joblib.dump(artifact, tmp / ARTIFACT_FILE, compress=3)
        digest = sha256_file(tmp / ARTIFACT_FILE)
        extra: dict[str, Any] = {}
        if heldout is not None:
            joblib.dump(heldout, tmp / HELDOUT_FILE, compress=3)
            extra["heldout_sha256"] = sha256_file(tmp / HELDOUT_FILE)
        if crossfit is not None:
            keys, scores = crossfit
            np.savez_compressed(tmp / CROSSFIT_FILE, keys=keys, scores=scores)
            extra["crossfit_sha256"] = sha256_file(tmp / CROSSFIT_FILE)
        version = next_version(session)
        while (root / version).exists():  # a folder left by an aborted run: skip its name
            version = f"v{int(version[1:]) + 1}"
        own = {
            k: v
            for k, v in card.items()
            if k not in ("heldout_sha256", "artifact_sha256", "crossfit_sha256")
        }
        full_card = {
            **own,
            "version": version,
            "parent": parent,
            "artifact_sha256": digest,
            **extra,
        }
        (tmp / CARD_FILE).write_text(json.dumps(full_card, indent=2, default=str) + "\n")
        row = ModelVersion(
            version=version,
            parent=parent,
            created_at=utcnow(),
            created_by=actor,
            status="candidate",
            artifact_path=f"{version}/{ARTIFACT_FILE}",
            sha256=digest,
            card=json.loads(json.dumps(full_card, default=str)),
        )
        session.add(row)
        session.flush()
        os.replace(tmp, root / version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return row


def artifact_path(data_dir: Path | str, row: ModelVersion) -> Path:
    return models_root(data_dir) / row.artifact_path


def load_verified(
    session: Session,
    data_dir: Path | str,
    version: str,
    *,
    schema_hash: str,
    feature_names: Sequence[str],
    heldout: bool = False,
    compatible: Mapping[str, Sequence[str]] | None = None,
) -> RankerArtifact:
    """Load a registered artifact after checking hash, library version and feature schema.

    ``compatible``: earlier schemas (hash → names) the engine's only added features to; an
    artifact trained on one of them loads (it reads its own columns by name).

    ``heldout``: the copy fitted on the training split only (for evaluation and the gate);
    versions registered without one hold a single artifact fitted that way, which is used.
    Raises ``NotFound`` for an unknown version and an ``ArtifactRefused`` subclass, with a
    message saying what differs, for an artifact that must not serve.
    """
    row = get_version(session, version)
    path = artifact_path(data_dir, row)
    expected = row.sha256
    if heldout and row.card.get("heldout_sha256"):
        path = path.with_name(HELDOUT_FILE)
        expected = row.card["heldout_sha256"]
    if not path.is_file():
        raise ArtifactRefused(f"the artifact of {version} is missing at {path}")
    built_with = (row.card.get("libraries") or {}).get("scikit-learn")
    if built_with and built_with != sklearn.__version__:
        raise LibraryVersionMismatch(
            f"{version} was built with scikit-learn {built_with}, this process runs "
            f"{sklearn.__version__}; retrain it with this version"
        )
    actual = sha256_file(path)
    if actual != expected:
        raise ArtifactTampered(
            f"the artifact {path.name} of {version} has SHA-256 {actual[:12]}…, the registry "
            f"recorded {expected[:12]}…; it was changed after training and will not be loaded"
        )
    artifact = joblib.load(path)
    if not isinstance(artifact, RankerArtifact):
        raise ArtifactRefused(f"the artifact of {version} is not a ranker artifact")
    if artifact.sklearn_version != sklearn.__version__:
        raise LibraryVersionMismatch(
            f"{version} was built with scikit-learn {artifact.sklearn_version}, this process "
            f"runs {sklearn.__version__}; retrain it with this version"
        )
    earlier = (compatible or {}).get(artifact.schema_hash)
    if earlier is not None and tuple(artifact.feature_names) == tuple(earlier):
        return artifact
    if artifact.schema_hash != schema_hash or tuple(artifact.feature_names) != tuple(feature_names):
        added = [n for n in feature_names if n not in artifact.feature_names]
        removed = [n for n in artifact.feature_names if n not in feature_names]
        what = []
        if added:
            what.append("the engine now also computes " + ", ".join(added))
        if removed:
            what.append("the engine no longer computes " + ", ".join(removed))
        if not what:
            what.append("the features' order or meaning changed")
        raise FeatureSchemaMismatch(
            f"{version} was trained on feature schema {artifact.schema_hash[:12]}, the engine "
            f"computes {schema_hash[:12]} ({'; '.join(what)}); retrain it on current impressions"
        )
    return artifact


def load_crossfit(
    session: Session, data_dir: Path | str, version: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """The cross-fitted scores of ``version`` (row keys, scores), checked against the hash
    its card recorded; ``None`` when it has none (large windows, older versions)."""
    row = get_version(session, version)
    expected = row.card.get("crossfit_sha256")
    if not expected:
        return None
    path = artifact_path(data_dir, row).with_name(CROSSFIT_FILE)
    if not path.is_file():
        raise ArtifactRefused(f"the cross-fitted scores of {version} are missing at {path}")
    actual = sha256_file(path)
    if actual != expected:
        raise ArtifactTampered(
            f"the cross-fitted scores of {version} have SHA-256 {actual[:12]}…, the registry "
            f"recorded {expected[:12]}…; they were changed after training"
        )
    with np.load(path, allow_pickle=False) as data:
        return data["keys"], data["scores"]


def set_active(
    session: Session,
    version: str | None,
    *,
    actor: str,
    action: str,
    forced: bool = False,
    reason: str = "",
    comparison: dict[str, Any] | None = None,
    expected_generation: int | None = None,
) -> ModelPromotion:
    """Point serving at ``version`` (``None``: the rule score), bump the generation so every
    worker reloads, and log who did it and why, all in the caller's transaction.

    The pointer moves only from the generation the switch was decided on
    (``expected_generation``, read with what it compared against; by default the one read
    here), in one conditional statement: of two switches from one generation the second is
    refused (``Conflict``), since what it compared with no longer serves. Both landing on one
    generation would also leave the workers that loaded the first serving it for ever.
    """
    row = session.execute(
        select(ModelState.active_version, ModelState.generation).where(ModelState.id == 1)
    ).first()
    previous, generation = (None, 0) if row is None else (row[0], int(row[1]))
    if expected_generation is not None and expected_generation != generation:
        _pointer_moved(previous, generation, read=expected_generation)
    if version is not None:
        get_version(session, version)
    now = utcnow()
    _move_pointer(session, row is None, generation, version, now)
    if version is not None:
        get_version(session, version).status = "active"
    if previous is not None and previous != version:
        get_version(session, previous).status = "retired"
    entry = ModelPromotion(
        at=now,
        actor=actor,
        action=action,
        from_version=previous,
        to_version=version,
        forced=forced,
        reason=reason or "",
        comparison=comparison,
    )
    session.add(entry)
    session.flush()
    return entry


def _move_pointer(
    session: Session, fresh: bool, generation: int, version: str | None, now: datetime
) -> None:
    """Set the pointer if it is still at ``generation``; ``Conflict`` when another switch
    was first."""
    if fresh:  # a fresh (or truncated) database: no model has ever served
        try:
            session.add(ModelState(id=1, active_version=version, generation=1, changed_at=now))
            session.flush()
        except IntegrityError:
            # the transaction is spoilt (PostgreSQL): say so without reading what won
            raise Conflict(
                "the active model changed while this switch was decided (another switch "
                "was first); list the versions and decide again"
            ) from None
        return
    moved = session.execute(
        update(ModelState)
        .where(ModelState.id == 1, ModelState.generation == generation)
        .values(active_version=version, generation=generation + 1, changed_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(moved) != 1:
        _pointer_moved(*active_pointer(session), read=generation)


def _pointer_moved(active: str | None, now: int, read: int) -> NoReturn:
    raise Conflict(
        f"the active model changed while this switch was decided (generation {read}, now "
        f"{now}: {active or 'the rule score'} serves); list the versions and decide again"
    )


def rollback_target(session: Session) -> str | None:
    """The version that served before the active one was promoted (``None``: the rule score).

    Repeated rollbacks walk back along promotions, not back and forth between two versions.
    """
    active, _ = active_pointer(session)
    if active is None:
        raise Conflict("no model is active; there is nothing to roll back")
    entry = session.scalar(
        select(ModelPromotion)
        .where(ModelPromotion.action == "promote", ModelPromotion.to_version == active)
        .order_by(ModelPromotion.id.desc())
        .limit(1)
    )
    return entry.from_version if entry is not None else None


def promotion_log(session: Session, limit: int = 100) -> list[ModelPromotion]:
    """The newest entries of the promotion log first."""
    return list(
        session.scalars(select(ModelPromotion).order_by(ModelPromotion.id.desc()).limit(limit))
    )
