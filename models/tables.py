"""Storage of the model registry: trained versions, the active pointer, the promotion log.

The artifact files live under ``LOTSE_DATA_DIR/models``; the database holds what vouches for
them (the artifact's SHA-256 and its card), so a file changed on disk is recognised and refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lotse.db import Base, JsonType, utcnow

#: A version's place in its life: trained but never served, serving, or served before.
VERSION_STATUSES: tuple[str, ...] = ("candidate", "active", "retired")


class ModelVersion(Base):
    """One trained ranker: where its artifact is, the artifact's hash, and its card."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: The version that was active when this one was trained (its lineage), if any.
    parent: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="candidate", index=True)
    #: Relative to ``LOTSE_DATA_DIR/models``, so a data folder can move as a whole.
    artifact_path: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    card: Mapped[dict] = mapped_column(JsonType)


class ModelState(Base):
    """A single row: which version serves, and a generation that every change bumps.

    Each worker process compares the generation it loaded with this one (one indexed read at
    most once a second), so a promotion reaches every worker without a restart.
    """

    __tablename__ = "model_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    active_version: Mapped[str | None] = mapped_column(ForeignKey("model_versions.version"))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The online comparison running now, if any (its challenger serves a share of people).
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_experiments.id", name="fk_model_state_experiment")
    )


class ModelExperiment(Base):
    """One online comparison: a challenger version serves ``share`` of the people (split by
    a stable hash of the person key), the active version the rest, from start to stop. With
    ``design`` "interleave" that share sees one list interleaved from both versions instead
    of the challenger's alone."""

    __tablename__ = "model_experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenger: Mapped[str] = mapped_column(ForeignKey("model_versions.version"))
    #: The version active when the comparison started (``None``: the rule score).
    control: Mapped[str | None] = mapped_column(String(32))
    share: Mapped[float] = mapped_column(Float)
    design: Mapped[str] = mapped_column(String(16), default="split", server_default="split")
    #: How many people the comparison is judged on (the first to be served; ``None``:
    #: watched only, never decided on).
    planned_people: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_by: Mapped[str] = mapped_column(String(100))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_by: Mapped[str | None] = mapped_column(String(100))


class ModelPromotion(Base):
    """One entry of the promotion log: who switched from which version to which, and why."""

    __tablename__ = "model_promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))  # promote, rollback
    #: ``None`` stands for the rule score (no model).
    from_version: Mapped[str | None] = mapped_column(String(32))
    to_version: Mapped[str | None] = mapped_column(String(32))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The metrics both versions scored on the same test data when the promotion was decided.
    comparison: Mapped[dict | None] = mapped_column(JsonType)
