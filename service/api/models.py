"""``/v1/models``: ranker versions with their cards; training, promotion and online
comparisons (analyst, admin).

The process's serving ranker lives in ``service.ranking``; this module only reads and moves
the registry through ``models.lifecycle`` and ``models.experiments``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field

from casework.outcomes import workspace
from models.experiments import (
    MATURED_DAYS,
    experiment_report,
    start_experiment,
    stop_experiment,
)
from models.lifecycle import (
    PromotionRefused,
    Workspace,
    describe_versions,
    promote_version,
    train_version,
)
from models.registry import get_version
from service.auth import current_principal, require
from service.db import state
from service.errors import problem
from service.io import parse_body, parse_query, respond
from service.openapi import operation
from service.ranking import active_ranker

bp = Blueprint("models", __name__, url_prefix="/v1/models")
ANALYSTS = ("analyst", "admin")


def _workspace() -> Workspace:
    return workspace(state().sessions, state().settings.data_dir)


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
    """Every version, the active one, what this process serves (and the challenger of a
    running online comparison), and the promotion log."""

    active: str | None
    serving: str
    challenger: str | None = None
    serving_error: str | None = None
    versions: list[ModelVersionOut]
    promotions: list[PromotionOut]


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(
        default=False, description="promote even if not shown better than the active one"
    )
    reason: str = Field(default="", max_length=500, description="kept in the promotion log")
    evidence: Literal["offline", "online"] = Field(
        default="offline",
        description="what decides: the counterfactual estimate on logged outcomes (offline) "
        "or this version's online comparison against the active one (online)",
    )
    matured_days: float = Field(
        default=MATURED_DAYS,
        ge=0,
        le=3650,
        description="with evidence=online: only requests at least this many days old count",
    )


class TrainIn(BaseModel):
    """What to train on; a negative control trains a version broken on purpose."""

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(None, description="first serving time of the window")
    until: datetime | None = Field(None, description="end of the window, exclusive")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    negative_control: str | None = Field(
        None,
        max_length=80,
        description="shuffled-labels, or flipped:FEATURE — to check that the gate refuses it",
    )


class ExperimentIn(BaseModel):
    """Start an online comparison: ``challenger`` serves ``share`` of people — alone
    (``split``, share ≤ 0.5) or interleaved with the active version (``interleave``, share
    ≤ 1: those people see one list merged from both, and each referral credits the version
    that placed the offer)."""

    model_config = ConfigDict(extra="forbid")

    challenger: str = Field(min_length=1, max_length=32)
    share: float = Field(0.2, gt=0, le=1)
    design: Literal["split", "interleave"] = "split"
    people: int | None = Field(
        None,
        ge=20,
        le=1_000_000,
        description="how many people the comparison is judged on: the gate decides once, on "
        "the first this many people, when all have matured requests (without it the "
        "comparison can be watched but not decided on)",
    )


class ExperimentOut(BaseModel):
    """An online comparison and its report: per arm the requests, people and mean take-up,
    success and gain per request (matured requests only); challenger − control with 95 %
    intervals over people. Interleaved, one arm (``interleaved``) with each team's mean
    credit per request and the requests each won; the differences are per request."""

    id: int
    challenger: str
    control: str
    share: float
    design: Literal["split", "interleave"] = "split"
    planned_people: int | None = None
    #: people with matured requests so far (the report shows them all; the gate judges the
    #: first ``planned_people``)
    people_in: int = 0
    started_at: datetime
    started_by: str
    stopped_at: datetime | None
    stopped_by: str | None
    running: bool
    matured_days: float
    matured_until: datetime | None
    arms: dict[str, Any]
    differences: dict[str, Any]
    note: str | None = None


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
            challenger=active.challenger,
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
        404: "no such version; or, with evidence=online, it has not been compared online",
        409: "not better than the active version beyond noise (the comparison inside), or "
        "another switch of the active version came first, or (evidence=online) its online "
        "comparison was against a version that no longer serves",
    },
)
@require(*ANALYSTS)
def promote_model(version: str):
    body = parse_body(PromoteIn) if _has_body() else PromoteIn()
    ws = _workspace()
    try:
        entry = promote_version(
            ws,
            version,
            actor=current_principal().actor,
            force=body.force,
            reason=body.reason,
            evidence=body.evidence,
            matured_days=body.matured_days,
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


@bp.post("/train")
@operation(
    "Train a ranker version on the logged impressions and outcomes",
    "models",
    body=TrainIn,
    responses={201: ModelVersionOut, 422: "no usable data in the window"},
)
@require(*ANALYSTS)
def train_model():
    body = parse_body(TrainIn) if _has_body() else TrainIn()
    row = train_version(
        _workspace(),
        since=body.since,
        until=body.until,
        seed=body.seed,
        actor=current_principal().actor,
        negative_control=body.negative_control,
    )
    with state().sessions() as session:
        active = describe_versions(state().sessions)["active"]
        saved = get_version(session, row.version)
        out = ModelVersionOut(
            version=saved.version,
            parent=saved.parent,
            created_at=saved.created_at,
            created_by=saved.created_by,
            status=saved.status,
            active=saved.version == active,
            sha256=saved.sha256,
            card=saved.card,
        )
    return respond(out, status=201)


def _experiment_out(report: dict[str, Any]) -> ExperimentOut:
    return ExperimentOut(**report)


@bp.post("/experiment")
@operation(
    "Start an online comparison: a challenger serves a share of people",
    "models",
    body=ExperimentIn,
    responses={201: ExperimentOut, 409: "one is already running"},
)
@require(*ANALYSTS)
def start_model_experiment():
    body = parse_body(ExperimentIn)
    ws = _workspace()
    experiment = start_experiment(
        ws,
        body.challenger,
        body.share,
        actor=current_principal().actor,
        design=body.design,
        people=body.people,
    )
    active_ranker().refresh_now()
    return respond(_experiment_out(experiment_report(ws, experiment.id)), status=201)


class ExperimentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matured_days: float = Field(
        MATURED_DAYS, ge=0, le=3650, description="how old a request must be to count"
    )


@bp.get("/experiment")
@operation(
    "The running (or latest) online comparison, compared on matured requests",
    "models",
    query=ExperimentQuery,
    responses={200: ExperimentOut, 404: "none has been run"},
)
@require(*ANALYSTS)
def read_model_experiment():
    query = parse_query(ExperimentQuery)
    report = experiment_report(_workspace(), matured_days=query.matured_days)
    return respond(_experiment_out(report))


@bp.delete("/experiment")
@operation(
    "Stop the running online comparison",
    "models",
    responses={200: ExperimentOut, 404: "none is running"},
)
@require(*ANALYSTS)
def stop_model_experiment():
    ws = _workspace()
    experiment = stop_experiment(ws, actor=current_principal().actor)
    active_ranker().refresh_now()
    return respond(_experiment_out(experiment_report(ws, experiment.id)))
