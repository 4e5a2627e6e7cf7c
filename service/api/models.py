"""``/v1/models``: ranker versions with their cards, and promotion (analyst, admin).

This module also wires the ranker lifecycle into the app, since only the service sees every
package:

- each process gets one ``models.serving.ActiveRanker`` (``app.extensions["lotse_models"]``),
  which follows the registry's active pointer; ``app.extensions["lotse_ranker"]`` is a proxy
  that pins, per request, the ranker the request started with, so a switch in the middle of a
  request cannot mix two versions (the recommendations view reads that extension);
- referrals become the outcome source that training reads, the writer that the demo
  simulation records into, and the completion rates the catalogue snapshot carries (all three
  in ``casework.outcomes``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from flask import Blueprint, Flask, current_app, g, has_request_context, request
from pydantic import BaseModel, ConfigDict, Field

from casework.outcomes import completion_rates, workspace
from models.lifecycle import PromotionRefused, describe_versions, promote_version
from models.serving import ActiveRanker
from service.auth import current_principal, require
from service.db import state
from service.errors import problem
from service.io import parse_body, respond
from service.openapi import operation

bp = Blueprint("models", __name__, url_prefix="/v1/models")
ANALYSTS = ("analyst", "admin")
# --- serving -----------------------------------------------------------------------------


class RequestRanker:
    """The engine's ``Ranker``, pinned per request: the first use in a request takes this
    process's current ranker, and the whole request (version, scores) uses that one."""

    def __init__(self, active: ActiveRanker) -> None:
        self.active = active

    def _ranker(self) -> Any:
        if not has_request_context():
            return self.active.current()
        if "lotse_ranker" not in g:
            g.lotse_ranker = self.active.current()
        return g.lotse_ranker

    @property
    def version(self) -> str:
        return self._ranker().version

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self._ranker().feature_names)

    def score(self, features: np.ndarray) -> np.ndarray:
        return self._ranker().score(features)


@bp.record_once
def _serve_models(setup: Any) -> None:
    """Give the app its serving ranker and a catalogue snapshot that knows completion rates."""
    app: Flask = setup.app
    from matcher.features import FEATURE_NAMES, FEATURE_SCHEMA
    from matcher.scoring import RuleScoreRanker
    from matcher.snapshot import SnapshotCache

    lotse = app.extensions["lotse"]
    active = ActiveRanker(
        lotse.sessions,
        lotse.settings.data_dir,
        fallback=RuleScoreRanker(),
        schema_hash=FEATURE_SCHEMA,
        feature_names=FEATURE_NAMES,
        check_interval=lotse.settings.model_check_seconds,
    )
    app.extensions["lotse_models"] = active
    app.extensions["lotse_ranker"] = RequestRanker(active)
    app.extensions.setdefault("lotse_snapshots", SnapshotCache(completion_source=completion_rates))


def active_ranker() -> ActiveRanker:
    return current_app.extensions["lotse_models"]


# --- views -------------------------------------------------------------------------------


class ModelVersionOut(BaseModel):
    """A trained version: its card (window, rows, labels, features and schema hash, library
    versions, hyperparameters, seed, metrics against the baselines) and its artifact hash."""

    version: str
    parent: str | None
    created_at: datetime
    created_by: str
    status: str
    active: bool
    sha256: str
    card: dict[str, Any]


class PromotionOut(BaseModel):
    """One entry of the promotion log (``None`` stands for the rule score)."""

    at: datetime
    actor: str
    action: str
    from_version: str | None
    to_version: str | None
    forced: bool
    reason: str
    comparison: dict[str, Any] | None = None


class ModelList(BaseModel):
    """Every version, the active one, what this process serves, and the promotion log."""

    active: str | None
    serving: str
    serving_error: str | None = None
    versions: list[ModelVersionOut]
    promotions: list[PromotionOut]


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(False, description="promote even if it scores worse than the active one")
    reason: str = Field("", max_length=500, description="kept in the promotion log")


@bp.get("")
@operation("List ranker versions", "models", responses={200: ModelList})
@require(*ANALYSTS)
def list_models():
    info = describe_versions(state().sessions)
    active = active_ranker()
    active.current()
    return respond(
        ModelList(
            active=info["active"],
            serving=active.serving,
            serving_error=active.last_error,
            versions=[ModelVersionOut(**v) for v in info["versions"]],
            promotions=[PromotionOut(**p) for p in info["promotions"]],
        )
    )


@bp.post("/<version>/promote")
@operation(
    "Promote a ranker version",
    "models",
    body=PromoteIn,
    responses={
        200: PromotionOut,
        409: "scores worse than the active version (numbers inside), or another switch of "
        "the active version came first",
    },
)
@require(*ANALYSTS)
def promote_model(version: str):
    body = parse_body(PromoteIn) if _has_body() else PromoteIn()
    ws = workspace(state().sessions, state().settings.data_dir)
    try:
        entry = promote_version(
            ws, version, actor=current_principal().actor, force=body.force, reason=body.reason
        )
    except PromotionRefused as exc:
        return problem(409, exc.title, exc.detail, comparison=exc.comparison)
    active_ranker().refresh_now()
    return respond(
        PromotionOut(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            from_version=entry.from_version,
            to_version=entry.to_version,
            forced=entry.forced,
            reason=entry.reason,
            comparison=entry.comparison,
        )
    )


def _has_body() -> bool:
    return bool(request.get_data(cache=True).strip())
