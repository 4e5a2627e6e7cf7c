"""``/v1/models``: ranker versions with their cards, and promotion (analyst, admin).

This module also wires the ranker lifecycle into the app, since only the service sees every
package:

- each process gets one ``models.serving.ActiveRanker`` (``app.extensions["lotse_models"]``),
  which follows the registry's active pointer; ``app.extensions["lotse_ranker"]`` is a proxy
  that pins, per request, the ranker the request started with, so a switch in the middle of a
  request cannot mix two versions (the recommendations view reads that extension);
- referrals (``casework``) become the outcome source that training reads, the writer that the
  demo simulation records into, and the completion rates the catalogue snapshot carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from flask import Blueprint, Flask, current_app, g, has_request_context, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from casework.tables import Referral, ReferralEvent
from catalog.tables import Offer
from models.lifecycle import PromotionRefused, Workspace, describe_versions, promote_version
from models.serving import ActiveRanker
from models.simulation import SIM_ACTOR, SimulatedReferral
from service.auth import current_principal, require
from service.db import state
from service.errors import problem
from service.io import parse_body, respond
from service.openapi import operation

bp = Blueprint("models", __name__, url_prefix="/v1/models")
ANALYSTS = ("analyst", "admin")
#: Closed referrals an offer needs before its completion rate is shown to the ranker: fewer
#: would be noise (and could say something about a single person).
MIN_CLOSED_REFERRALS = 5


# --- adapters between casework's referrals and the ranker lifecycle ---------------------


def referral_outcomes(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Outcomes for training: every referral made from a served request (``since`` bounds
    the referral's creation, as referrals follow the requests they came from)."""
    stmt = select(Referral.request_id, Referral.offer_id, Referral.status, Referral.updated_at)
    stmt = stmt.where(Referral.request_id.is_not(None))
    if since is not None:
        stmt = stmt.where(Referral.created_at >= since)
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=["request_id", "offer_id", "status", "updated_at"])


def record_simulated_referrals(session: Session, referrals: Sequence[SimulatedReferral]) -> int:
    """Write simulated referrals and their status events with their backdated times.

    A historical record, not live casework: enrolments here take no place from the offers'
    current capacity, and the actor is ``demo:simulate``.
    """
    if not referrals:
        return 0
    offer_ids = {r.offer_id for r in referrals}
    agency = dict(
        session.execute(select(Offer.id, Offer.agency_id).where(Offer.id.in_(offer_ids))).all()
    )
    rows, events = [], []
    for r in referrals:
        first, last = r.history[0], r.history[-1]
        rid = f"sim-{r.request_id[:18]}-{r.offer_id[:13]}"
        rows.append(
            {
                "id": rid[:36],
                "request_id": r.request_id,
                "offer_id": r.offer_id,
                "agency_id": agency[r.offer_id],
                "centre_id": r.centre_id,
                "person_key": r.person_key,
                "status": last.status,
                "consent_at": first.at,
                "created_at": first.at,
                "updated_at": last.at,
                "created_by": SIM_ACTOR,
            }
        )
        previous = None
        for step in r.history:
            events.append(
                {
                    "referral_id": rid[:36],
                    "from_status": previous,
                    "to_status": step.status,
                    "at": step.at,
                    "actor": SIM_ACTOR,
                    "reason": step.reason,
                }
            )
            previous = step.status
    session.execute(insert(Referral), rows)
    session.execute(insert(ReferralEvent), events)
    return len(rows)


def completion_rates(session: Session, offer_ids: Sequence[str]) -> np.ndarray:
    """Per offer: completed / closed referrals (completed, dropped, declined, rejected), NaN
    with fewer than ``MIN_CLOSED_REFERRALS`` closed ones (the matcher's ``completion_rate``)."""
    closed = ("completed", "dropped", "declined", "rejected_by_provider")
    rows = session.execute(
        select(Referral.offer_id, Referral.status, func.count())
        .where(Referral.status.in_(closed))
        .group_by(Referral.offer_id, Referral.status)
    ).all()
    frame = pd.DataFrame(rows, columns=["offer_id", "status", "n"])
    total = frame.groupby("offer_id")["n"].sum()
    done = frame[frame["status"] == "completed"].groupby("offer_id")["n"].sum()
    rate = (done.reindex(total.index).fillna(0) / total).where(total >= MIN_CLOSED_REFERRALS)
    return rate.reindex(list(offer_ids)).to_numpy(dtype=np.float64)


def workspace(sessions: sessionmaker[Session], data_dir: Path | str) -> Workspace:
    """The lifecycle workspace over this database and data folder, with referral outcomes."""
    return Workspace(sessions=sessions, data_dir=Path(data_dir), outcomes=referral_outcomes)


def cli_workspace() -> Workspace:
    """The workspace of a ``lotse`` command (database and folder from ``LOTSE_*``)."""
    from lotse.cli_support import sessions
    from lotse.config import Config

    return workspace(sessions(), Config.from_env().data_dir)


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
        lotse.config.data_dir,
        fallback=RuleScoreRanker(),
        schema_hash=FEATURE_SCHEMA,
        feature_names=FEATURE_NAMES,
        check_interval=float(app.config.get("LOTSE_MODEL_CHECK_SECONDS", 1.0)),
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
    responses={200: PromotionOut, 409: "scores worse than the active version (numbers inside)"},
)
@require(*ANALYSTS)
def promote_model(version: str):
    body = parse_body(PromoteIn) if _has_body() else PromoteIn()
    ws = workspace(state().sessions, state().config.data_dir)
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

