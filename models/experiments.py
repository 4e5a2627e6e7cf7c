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

An *interleaved* comparison (``design="interleave"``) compares within requests instead: the
share of people it covers see one list merged from both versions by team draft
(``matcher.interleaving``), and each referral credits the team that placed the offer. Per
request the difference challenger − control in referrals (take-up), in referrals that led to
an enrolment or better (success) and in their summed gain, with the same intervals over
people. Because both versions face the same person at the same moment, the differences
between people that swamp a split comparison cancel out.

**One look, planned in advance.** A 95 % test asked again and again while people come in
promotes a version no better than the active one far more often than 5 % of the time (it
only has to look better once). So a comparison is started with the number of people it will
be judged on (``people``), and the gate decides on exactly those — the first ``people``
people with matured requests, in the order they were first served — once they are all in:
before, it cannot tell yet; after, asking again gives the same answer. The running report
shows everyone so far, for watching, not for deciding.
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
from models.serving import CHALLENGER, CONTROL, DESIGNS, INTERLEAVE, INTERLEAVED, SPLIT
from models.tables import ModelExperiment
from models.training import LABELS, SUCCESS_FROM

MIN_ARM_PEOPLE = 5
#: What both kinds of comparison report per request: referrals (take-up), referrals that led
#: to an enrolment or better (success), and gain ``2**label - 1``.
METRICS = ("taken_up", "success", "gain")
MATURED_DAYS = 28
DRAWS = 1000


#: The largest share of people a comparison may cover, by design: a split one lets the
#: challenger alone serve at most half; an interleaved one may cover everyone, since every
#: list keeps half of the active version's picks.
MAX_SHARE = {SPLIT: 0.5, INTERLEAVE: 1.0}


#: The fewest and most people a comparison may plan to be judged on.
MIN_PLANNED, MAX_PLANNED = 20, 1_000_000


def start_experiment(
    ws: Any,
    challenger: str,
    share: float,
    *,
    actor: str,
    design: str = SPLIT,
    people: int | None = None,
) -> ModelExperiment:
    """Let ``challenger`` serve ``share`` of people from now on: alone (``split``, 0 < share
    ≤ 0.5) or interleaved with the active version (``interleave``, 0 < share ≤ 1), to be
    judged on the first ``people`` people (``None``: watched only, never decided on)."""
    if people is not None and not MIN_PLANNED <= people <= MAX_PLANNED:
        raise InvalidInput([FieldError("people", N_("between 20 and 1000000"))])
    if design not in DESIGNS:
        raise InvalidInput([FieldError("design", N_("one of split, interleave"))])
    if not 0 < share <= MAX_SHARE[design]:
        limit = (
            N_("between 0 (exclusive) and 0.5")
            if design == SPLIT
            else N_("between 0 (exclusive) and 1")
        )
        raise InvalidInput([FieldError("share", limit)])
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
            design=design,
            planned_people=people,
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
        raise NotFound(N_("no online comparison is running"))
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
        raise NotFound(N_("no online comparison has been run"))
    return found


def _named_requests(session: Any, start: datetime, end: datetime) -> list[Any]:
    """Requests served in ``[start, end)`` that name a person: id, person, time, context."""
    from matcher.tables import RecommendationRequest as R

    return list(
        session.execute(
            select(R.request_id, R.person_key, R.served_at, R.context).where(
                R.served_at >= start, R.served_at < end, R.person_key.is_not(None)
            )
        ).all()
    )


def arm_requests(session: Any, start: datetime, end: datetime) -> pd.DataFrame:
    """Requests served in ``[start, end)`` with an arm: request, person, time, arm."""
    records = [
        (rid, key, served, (ctx or {}).get("arm"))
        for rid, key, served, ctx in _named_requests(session, start, end)
        if (ctx or {}).get("arm") in (CONTROL, CHALLENGER)
    ]
    return pd.DataFrame(records, columns=["request_id", "person_key", "served_at", "arm"])


#: The team of a result both versions put in the same place of a common beginning
#: (``matcher.interleaving.shared_prefix``): credited to neither.
SHARED = "shared"


def interleaved_impressions(session: Any, start: datetime, end: datetime) -> pd.DataFrame:
    """Results of interleaved requests served in ``[start, end)``: request, person, time,
    offer and the team that placed it (from the request's policy record; ``SHARED`` for the
    common beginning of both versions' lists, whose owner was a coin flip, and for the one
    row of a request that showed nothing)."""
    from matcher.tables import Impression as I

    teams: dict[str, tuple[str, datetime, list[str], int]] = {}
    records: list[tuple[str, str, datetime, str | None, str]] = []
    for rid, key, served, ctx in _named_requests(session, start, end):
        ctx = ctx or {}
        if ctx.get("arm") != INTERLEAVED:
            continue
        record = (ctx.get("policy") or {}).get("interleaved") or {}
        if record.get("teams"):
            teams[rid] = (key, served, list(record["teams"]), int(record.get("shared") or 0))
        else:  # nothing eligible was shown: a request all the same, credited to neither
            records.append((rid, key, served, None, SHARED))
    for ids in _chunks(list(teams), 500):
        shown = session.execute(
            select(I.request_id, I.offer_id, I.position).where(
                I.request_id.in_(ids), I.shown_in == "results"
            )
        ).all()
        for rid, offer_id, position in shown:
            key, served, by_rank, shared = teams[rid]
            if 1 <= position <= len(by_rank):
                team = SHARED if position <= shared else by_rank[position - 1]
                records.append((rid, key, served, offer_id, team))
    columns = ["request_id", "person_key", "served_at", "offer_id", "team"]
    return pd.DataFrame(records, columns=columns)


def first_people(frame: pd.DataFrame, people: int) -> pd.DataFrame:
    """The rows of the first ``people`` people, in the order they were first served (ties
    by key): the planned people a comparison is judged on."""
    if frame.empty:
        return frame
    first = frame.groupby("person_key")["served_at"].min().reset_index()
    first = first.sort_values(["served_at", "person_key"], kind="stable")
    return frame[frame["person_key"].isin(set(first["person_key"].iloc[:people]))]


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def credit_teams(shown: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per interleaved request and person: each team's referrals (``taken_up``), referrals
    that led to an enrolment or better (``success``) and their summed gain, and the
    differences challenger − control (``*_diff``). ``SHARED`` results count for neither
    team (a request whose referrals are all there differs by 0)."""
    best = _labelled(outcomes).groupby(["request_id", "offer_id"])["label"].max()
    frame = _with_metrics(shown, shown.join(best, on=["request_id", "offer_id"])["label"])
    per_team = (
        frame.pivot_table(
            index=["request_id", "person_key"],
            columns="team",
            values=list(METRICS),
            aggfunc="sum",
            fill_value=0.0,
        )
        if len(frame)
        else pd.DataFrame()
    )
    out = pd.DataFrame(
        {"person_key": per_team.index.get_level_values("person_key")}
        if len(per_team)
        else {"person_key": pd.Series(dtype=object)}
    )
    for metric in METRICS:
        for team in (CONTROL, CHALLENGER):
            column = (metric, team)
            out[f"{metric}_{team}"] = (
                per_team[column].to_numpy() if column in per_team.columns else 0.0
            )
        out[f"{metric}_diff"] = out[f"{metric}_{CHALLENGER}"] - out[f"{metric}_{CONTROL}"]
    return out


#: At most this many bootstrap weights exist at once (8 bytes each): a comparison of a
#: million people is resampled in chunks of draws instead of one draws × people matrix.
BOOTSTRAP_CELLS = 4_000_000


def resampled_sums(columns: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson bootstrap over people: ``draws`` times, the rows of ``columns`` (one per
    person) summed with a Poisson(1) weight each; shape (draws, columns). Drawn a chunk of
    draws at a time (``BOOTSTRAP_CELLS``), the same numbers as in one go."""
    n = len(columns)
    step = max(1, BOOTSTRAP_CELLS // max(n, 1))
    out = np.empty((draws, columns.shape[1]))
    for lo in range(0, draws, step):
        hi = min(draws, lo + step)
        out[lo:hi] = rng.poisson(1.0, size=(hi - lo, n)) @ columns
    return out


def compare_teams(frame: pd.DataFrame, *, draws: int = DRAWS, seed: int = 0) -> dict[str, Any]:
    """The interleaved comparison: per team the mean credit per request, the requests each
    team won (more gain credited), and challenger − control per request with 95 %
    intervals from a bootstrap over people (counts only below ``MIN_ARM_PEOPLE`` people)."""
    people = int(frame["person_key"].nunique())
    info: dict[str, Any] = {"requests": len(frame), "people": people}
    out: dict[str, Any] = {"arms": {INTERLEAVED: info}, "differences": {}}
    if people < MIN_ARM_PEOPLE:
        info["suppressed"] = f"fewer than {MIN_ARM_PEOPLE} people"
        return out
    for team in (CONTROL, CHALLENGER):
        info[team] = {
            metric: round(float(frame[f"{metric}_{team}"].mean()), 4) for metric in METRICS
        }
    info["wins"] = {
        CHALLENGER: int((frame["gain_diff"] > 0).sum()),
        CONTROL: int((frame["gain_diff"] < 0).sum()),
        "ties": int((frame["gain_diff"] == 0).sum()),
    }
    sums = frame.groupby("person_key").agg(
        **{f"{m}_diff": (f"{m}_diff", "sum") for m in METRICS},
        requests=("gain_diff", "count"),
    )
    totals = resampled_sums(
        sums[["requests", *(f"{m}_diff" for m in METRICS)]].to_numpy(dtype=np.float64),
        draws,
        np.random.default_rng(seed),
    )
    for at, metric in enumerate(METRICS, start=1):
        with np.errstate(invalid="ignore", divide="ignore"):
            means = totals[:, at] / totals[:, 0]
        means = means[np.isfinite(means)]
        lo, below, above, hi = np.percentile(means, [2.5, 5, 95, 97.5])
        out["differences"][metric] = {
            "estimate": round(float(frame[f"{metric}_diff"].mean()), 4),
            "ci": [round(float(lo), 4), round(float(hi), 4)],
            "one_sided": [round(float(below), 4), round(float(above), 4)],
        }
    return out


def _per_request_outcomes(requests: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    best = _labelled(outcomes).groupby("request_id")["label"].max()
    return _with_metrics(requests, requests["request_id"].map(best))


def _labelled(outcomes: pd.DataFrame) -> pd.DataFrame:
    return outcomes.assign(label=outcomes["status"].map(LABELS).fillna(0))


def _with_metrics(frame: pd.DataFrame, label: pd.Series) -> pd.DataFrame:
    """``frame`` with ``METRICS`` from each row's best label (NaN: nothing referred)."""
    out = frame.copy()
    out["taken_up"] = label.notna().to_numpy(dtype=float)
    out["success"] = (label >= SUCCESS_FROM).to_numpy(dtype=float)
    out["gain"] = (np.exp2(label.fillna(0)) - 1.0).where(label.notna(), 0.0).to_numpy()
    return out


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
            for metric in METRICS:
                info[metric] = round(float(part[metric].mean()), 4)
        else:
            info["suppressed"] = f"fewer than {MIN_ARM_PEOPLE} people"
        arms[arm] = info
        sums[arm] = part.groupby("person_key")[list(METRICS)].agg(["sum", "count"])
    out: dict[str, Any] = {"arms": arms, "differences": {}}
    if any(arms[a]["people"] < MIN_ARM_PEOPLE for a in arms):
        return out
    rng = np.random.default_rng(seed)
    # per arm, resampled over its people: the requests (column 0) and each metric's total
    boot = {
        a: resampled_sums(
            np.column_stack(
                [table[("gain", "count")].to_numpy(), *(table[(m, "sum")] for m in METRICS)]
            ).astype(np.float64),
            draws,
            rng,
        )
        for a, table in sums.items()
    }
    for at, metric in enumerate(METRICS, start=1):
        means = {}
        for a, totals in boot.items():
            with np.errstate(invalid="ignore", divide="ignore"):
                means[a] = totals[:, at] / totals[:, 0]
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
    planned_only: bool = False,
) -> dict[str, Any]:
    """The comparison of the running (or latest, or given) experiment's arms on requests
    served at least ``matured_days`` ago: of everyone so far, or (``planned_only``) of the
    first planned people only, as the gate judges it. ``people_in`` counts everyone."""
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
            "design": experiment.design,
            "planned_people": experiment.planned_people,
            "started_at": experiment.started_at,
            "started_by": experiment.started_by,
            "stopped_at": experiment.stopped_at,
            "stopped_by": experiment.stopped_by,
            "running": experiment.stopped_at is None,
            "matured_days": matured_days,
            "matured_until": end if end > start else None,
        }
        if end <= start:
            return {
                **info,
                "people_in": 0,
                "arms": {},
                "differences": {},
                "note": N_("no matured requests yet"),
            }
        outcomes = ws.outcomes(session, start, None)
        if experiment.design == INTERLEAVE:
            frame = interleaved_impressions(session, start, end)
        else:
            frame = arm_requests(session, start, end)
    info["people_in"] = int(frame["person_key"].nunique())
    if planned_only and experiment.planned_people is not None:
        frame = first_people(frame, experiment.planned_people)
    if experiment.design == INTERLEAVE:
        return {**info, **compare_teams(credit_teams(frame, outcomes))}
    return {**info, **compare_arms(_per_request_outcomes(frame, outcomes))}


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
    report = experiment_report(
        ws, experiment.id, matured_days=matured_days, now=now, planned_only=True
    )
    decision, why = _online_decision(report, version)
    return {
        "evidence": "online comparison",
        "metric": ONLINE_METRIC,
        "candidate": version,
        "active": report["control"],
        "experiment": {
            "id": report["id"],
            "design": report["design"],
            "share": report["share"],
            "planned_people": report["planned_people"],
            "people_in": report["people_in"],
            "started_at": report["started_at"].isoformat(),  # kept as JSON in the log
            "matured_days": report["matured_days"],
        },
        "arms": report.get("arms", {}),
        "differences": report.get("differences", {}),
        "decision": decision,
        "why": why,
    }


def _online_decision(report: dict[str, Any], version: str) -> tuple[str, str]:
    planned, people_in = report.get("planned_people"), report.get("people_in") or 0
    if planned is None:
        return "noise", N_(
            "the online comparison was started without a planned number of people, so it "
            "can be watched but not decided on; start one with people"
        )
    if people_in < planned:
        return "noise", (
            f"the online comparison cannot tell yet ({people_in} of its {planned} planned "
            "people have matured requests)"
        )
    diff = (report.get("differences") or {}).get(ONLINE_METRIC)
    if not diff:
        missing = report.get("note") or f"an arm has fewer than {MIN_ARM_PEOPLE} people"
        return "noise", f"the online comparison cannot tell yet ({missing})"
    below, above = diff["one_sided"]
    arms = report["arms"]
    interval = f"95% interval {diff['ci'][0]:+.4f} to {diff['ci'][1]:+.4f}"
    matured = f"outcomes matured {report['matured_days']:g} days"
    if report.get("design") == INTERLEAVE:
        what = (
            f"{version} vs {report['control']} interleaved: gain credited per request "
            f"{diff['estimate']:+.4f} ({interval}; {arms[INTERLEAVED]['requests']} requests "
            f"of {arms[INTERLEAVED]['people']} people, {matured})"
        )
    else:
        what = (
            f"{version} vs {report['control']} online: mean gain per request "
            f"{diff['estimate']:+.4f} ({interval}; {arms[CHALLENGER]['people']} and "
            f"{arms[CONTROL]['people']} people, {matured})"
        )
    return decide((below, above), what, report["control"], ci=diff["ci"])
