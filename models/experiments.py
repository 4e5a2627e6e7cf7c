"""Online comparison: a challenger version serves a share of people beside the active one,
and the matured outcomes of the two arms are compared.

Offline estimates can only re-order the offers that were shown; an online comparison sees
everything a model changes (which offers make the list at all) and real people's answers.
People, not requests, are split — by a salted hash of their key (``models.serving.
arm_position``) — so one person always sees one arm on every server, and arms are
independent of anything about them. The request log records which arm served each request.

The report compares arms on requests old enough for outcomes to have come in
(``matured_days``): per request, whether any shown offer was referred (take-up), whether one
led to an enrolment or better (success), and the best gain ``2**label - 1``. Differences
(challenger − control) carry 95 % bootstrap intervals over people; an arm with fewer than
``MIN_ARM_PEOPLE`` people shows counts only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from lotse.db import transaction, utcnow
from lotse.errors import Conflict, FieldError, InvalidInput, NotFound
from lotse.i18n import N_
from models.counterfactual import decide
from models.registry import get_version, serving_pointer, set_experiment
from models.serving import CHALLENGER, CONTROL
from models.tables import ModelExperiment
from models.training import LABELS, SUCCESS_FROM

MIN_ARM_PEOPLE = 5
MATURED_DAYS = 28
DRAWS = 1000


def start_experiment(ws: Any, challenger: str, share: float, *, actor: str) -> ModelExperiment:
    """Let ``challenger`` serve ``share`` (0 < share ≤ 0.5) of people from now on."""
    if not 0 < share <= 0.5:
        raise InvalidInput([FieldError("share", N_("between 0 (exclusive) and 0.5"))])
    with transaction(ws.sessions) as session:
        get_version(session, challenger)
        pointer = serving_pointer(session)
        if pointer.experiment_id is not None:
            raise Conflict(
                f"an online comparison is already running ({pointer.challenger}); stop it first"
            )
        if pointer.active == challenger:
            raise Conflict(f"{challenger} is the active version; compare another one")
        experiment = ModelExperiment(
            challenger=challenger,
            control=pointer.active,
            share=share,
            started_at=utcnow(),
            started_by=actor,
        )
        session.add(experiment)
        session.flush()
        set_experiment(session, experiment)
        return experiment


def stop_experiment(ws: Any, *, actor: str) -> ModelExperiment:
    """End the running comparison: everyone gets the active version again."""
    with transaction(ws.sessions) as session:
        return end_experiment(session, actor=actor)


def end_experiment(session: Any, *, actor: str) -> ModelExperiment:
    """``stop_experiment`` in the caller's transaction (a promotion of the challenger ends
    its comparison in the same one)."""
    pointer = serving_pointer(session)
    if pointer.experiment_id is None:
        raise NotFound("no online comparison is running")
    experiment = session.get(ModelExperiment, pointer.experiment_id)
    assert experiment is not None
    experiment.stopped_at = utcnow()
    experiment.stopped_by = actor
    set_experiment(session, None)
    return experiment


def _latest(session: Any, experiment_id: int | None) -> ModelExperiment:
    if experiment_id is not None:
        found = session.get(ModelExperiment, experiment_id)
    else:
        found = session.scalar(select(ModelExperiment).order_by(ModelExperiment.id.desc()).limit(1))
    if found is None:
        raise NotFound("no online comparison has been run")
    return found


def arm_requests(session: Any, start: datetime, end: datetime) -> pd.DataFrame:
    """Requests served in ``[start, end)`` with an arm: request, person, time, arm."""
    from matcher.tables import RecommendationRequest as R

    rows = session.execute(
        select(R.request_id, R.person_key, R.served_at, R.context).where(
            R.served_at >= start, R.served_at < end, R.person_key.is_not(None)
        )
    ).all()
    records = [
        (rid, key, served, (ctx or {}).get("arm"))
        for rid, key, served, ctx in rows
        if (ctx or {}).get("arm") in (CONTROL, CHALLENGER)
    ]
    return pd.DataFrame(records, columns=["request_id", "person_key", "served_at", "arm"])


def _per_request_outcomes(requests: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    labelled = outcomes.assign(label=outcomes["status"].map(LABELS).fillna(0))
    best = labelled.groupby("request_id")["label"].max()
    frame = requests.copy()
    frame["taken_up"] = frame["request_id"].isin(best.index).astype(float)
    label = frame["request_id"].map(best)
    frame["success"] = (label >= SUCCESS_FROM).fillna(False).astype(float)
    frame["gain"] = (np.exp2(label.fillna(0)) - 1.0).where(label.notna(), 0.0)
    return frame


def compare_arms(frame: pd.DataFrame, *, draws: int = DRAWS, seed: int = 0) -> dict[str, Any]:
    """Per arm: requests, people and the means of take-up, success and gain per request; and
    challenger − control with 95 % intervals from a bootstrap over people."""
    arms: dict[str, Any] = {}
    sums: dict[str, pd.DataFrame] = {}
    for arm in (CONTROL, CHALLENGER):
        part = frame[frame["arm"] == arm]
        people = int(part["person_key"].nunique())
        info: dict[str, Any] = {"requests": len(part), "people": people}
        if people >= MIN_ARM_PEOPLE:
            for metric in ("taken_up", "success", "gain"):
                info[metric] = round(float(part[metric].mean()), 4)
        else:
            info["suppressed"] = f"fewer than {MIN_ARM_PEOPLE} people"
        arms[arm] = info
        sums[arm] = part.groupby("person_key")[["taken_up", "success", "gain"]].agg(
            ["sum", "count"]
        )
    out: dict[str, Any] = {"arms": arms, "differences": {}}
    if any(arms[a]["people"] < MIN_ARM_PEOPLE for a in arms):
        return out
    rng = np.random.default_rng(seed)
    boot = {a: rng.poisson(1.0, size=(draws, len(sums[a]))).astype(float) for a in sums}
    for metric in ("taken_up", "success", "gain"):
        means = {}
        for a, table in sums.items():
            total = table[(metric, "sum")].to_numpy()
            count = table[(metric, "count")].to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                means[a] = (boot[a] @ total) / (boot[a] @ count)
        diff = means[CHALLENGER] - means[CONTROL]
        diff = diff[np.isfinite(diff)]
        estimate = arms[CHALLENGER][metric] - arms[CONTROL][metric]
        lo, below, above, hi = (
            np.percentile(diff, [2.5, 5, 95, 97.5]) if len(diff) else (np.nan,) * 4
        )
        out["differences"][metric] = {
            "estimate": round(float(estimate), 4),
            "ci": [round(float(lo), 4), round(float(hi), 4)],
            "one_sided": [round(float(below), 4), round(float(above), 4)],
        }
    return out


def experiment_report(
    ws: Any,
    experiment_id: int | None = None,
    *,
    matured_days: float = MATURED_DAYS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The comparison of the running (or latest, or given) experiment's arms on requests
    served at least ``matured_days`` ago."""
    now = now or utcnow()
    with ws.sessions() as session:
        experiment = _latest(session, experiment_id)
        start = experiment.started_at
        end = min(experiment.stopped_at or now, now - timedelta(days=matured_days))
        info = {
            "id": experiment.id,
            "challenger": experiment.challenger,
            "control": experiment.control or ws.rule_version,
            "share": experiment.share,
            "started_at": experiment.started_at,
            "started_by": experiment.started_by,
            "stopped_at": experiment.stopped_at,
            "stopped_by": experiment.stopped_by,
            "running": experiment.stopped_at is None,
            "matured_days": matured_days,
            "matured_until": end if end > start else None,
        }
        if end <= start:
            return {**info, "arms": {}, "differences": {}, "note": N_("no matured requests yet")}
        requests = arm_requests(session, start, end)
        outcomes = ws.outcomes(session, start, None)
    frame = _per_request_outcomes(requests, outcomes)
    return {**info, **compare_arms(frame)}


#: What promotion on the online comparison decides on: the mean best gain per request.
ONLINE_METRIC = "gain"


def online_comparison(
    ws: Any, version: str, *, matured_days: float = MATURED_DAYS, now: datetime | None = None
) -> dict[str, Any]:
    """The promotion decision for ``version`` from its online comparison against what
    serves now: ``decision`` promote / worse / noise with ``why``, like the offline gate,
    on the challenger − control difference in mean gain per matured request (promote when
    its one-sided 95 % bound is above 0, worse when below 0).

    The comparison must be ``version``'s latest and against the version that serves now
    (``Conflict`` otherwise: what it was compared with no longer serves)."""
    with ws.sessions() as session:
        experiment = session.scalar(
            select(ModelExperiment)
            .where(ModelExperiment.challenger == version)
            .order_by(ModelExperiment.id.desc())
            .limit(1)
        )
        if experiment is None:
            raise NotFound(
                f"{version} has not been compared online; start a comparison "
                "(POST /v1/models/experiment) and let its outcomes mature"
            )
        active = serving_pointer(session).active
        if experiment.control != active:
            raise Conflict(
                f"the online comparison of {version} was against "
                f"{experiment.control or ws.rule_version}, but {active or ws.rule_version} "
                "serves now; start a new comparison"
            )
    report = experiment_report(ws, experiment.id, matured_days=matured_days, now=now)
    decision, why = _online_decision(report, version)
    return {
        "evidence": "online comparison",
        "metric": ONLINE_METRIC,
        "candidate": version,
        "active": report["control"],
        "experiment": {
            "id": report["id"],
            "share": report["share"],
            "started_at": report["started_at"].isoformat(),  # kept as JSON in the log
            "matured_days": report["matured_days"],
        },
        "arms": report.get("arms", {}),
        "differences": report.get("differences", {}),
        "decision": decision,
        "why": why,
    }


def _online_decision(report: dict[str, Any], version: str) -> tuple[str, str]:
    diff = (report.get("differences") or {}).get(ONLINE_METRIC)
    if not diff:
        missing = report.get("note") or f"an arm has fewer than {MIN_ARM_PEOPLE} people"
        return "noise", f"the online comparison cannot tell yet ({missing})"
    below, above = diff["one_sided"]
    arms = report["arms"]
    what = (
        f"{version} vs {report['control']} online: mean gain per request "
        f"{diff['estimate']:+.4f} (95% interval {diff['ci'][0]:+.4f} to {diff['ci'][1]:+.4f}; "
        f"{arms[CHALLENGER]['people']} and {arms[CONTROL]['people']} people, outcomes matured "
        f"{report['matured_days']:g} days)"
    )
    return decide((below, above), what, report["control"])
