"""Analyst pages: model versions with their metrics and plots, promotion and rollback behind
a confirmation step, and the monitoring report with its charts.

Promotion and rollback call ``models.lifecycle`` through the same workspace as
``/v1/models``; this process's serving ranker is refreshed at once (other workers follow the
registry's pointer within a second).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from casework import monitoring
from casework.outcomes import workspace
from lotse.errors import Conflict, InvalidInput, LotseError, NotFound
from models.evaluation import plot_metric_by_version
from models.experiments import (
    MATURED_DAYS,
    experiment_report,
    online_comparison,
    start_experiment,
    stop_experiment,
)
from models.lifecycle import (
    EVIDENCE,
    PromotionRefused,
    compare_with_active,
    describe_versions,
    promote_version,
    rollback,
)
from models.registry import models_root, rollback_target
from service.db import request_session, state
from service.ranking import active_ranker
from service.web import page_errors
from service.web.access import current_person, page_blueprint
from service.web.i18n import page_translator

bp = page_blueprint("analyst", __name__, "/analyst", roles=("analyst", "admin"))

#: Naive metrics shown beside the counterfactual ones (labelled as biased).
HEADLINE = ("ndcg@10", "ndcg@5")
REPORT_PLOTS = ("metric_by_version", "calibration", "importance", "position_bias")


def _workspace():
    return workspace(state().sessions, state().settings.data_dir)


def _report_plots(version: str) -> list[str]:
    folder = models_root(state().settings.data_dir) / version / "report"
    return [name for name in REPORT_PLOTS if (folder / f"{name}.png").is_file()]


@bp.get("/")
def start() -> Any:
    info = describe_versions(state().sessions)
    return render_template("analyst/start.html", info=info, serving=active_ranker().serving)


def _gate_for(version: str, generation: int) -> dict[str, Any]:
    """The gate's comparison of ``version`` with what serves now, kept per process until
    the registry moves (it reads every logged impression of the version's window)."""
    cache = current_app.extensions.setdefault("lotse_gate_cache", {})
    key = (version, generation)
    if key not in cache:
        cache.clear()
        try:
            cache[key] = compare_with_active(_workspace(), version)
        except LotseError as exc:
            cache[key] = {"decision": "noise", "why": exc.detail}
    return cache[key]


def _matured_days(values: Any) -> float:
    """``matured_days`` from a query or form (the default when missing or not a number),
    clamped to 0–3650."""
    try:
        days = float(str(values.get("matured_days", MATURED_DAYS)).replace(",", "."))
    except ValueError:
        days = MATURED_DAYS
    return min(max(days, 0.0), 3650.0) if days == days else MATURED_DAYS


def _experiment() -> dict[str, Any] | None:
    try:
        return experiment_report(_workspace(), matured_days=_matured_days(request.args))
    except NotFound:
        return None


def _online_gate_for(version: str, matured_days: float) -> dict[str, Any]:
    """The decision promotion on ``version``'s online comparison would make now."""
    try:
        return online_comparison(_workspace(), version, matured_days=matured_days)
    except LotseError as exc:
        return {"evidence": "online comparison", "decision": "noise", "why": exc.detail}


@bp.get("/models")
def models() -> Any:
    info = describe_versions(state().sessions)
    ranker = active_ranker()
    ranker.current()
    plots = {v["version"]: _report_plots(v["version"]) for v in info["versions"]}
    newest = info["versions"][-1] if info["versions"] else None
    gate = None
    if newest is not None and not newest["active"]:
        gate = _gate_for(newest["version"], info["generation"])
    active = next((v for v in info["versions"] if v["active"]), None)
    return render_template(
        "analyst/models.html",
        comparison=_side_by_side(newest, active)
        if newest and active and newest is not active
        else None,
        baselines=_baselines(info["versions"]),
        info=info,
        serving=ranker.serving,
        challenger=ranker.challenger,
        serving_error=ranker.last_error,
        headline=HEADLINE,
        plots=plots,
        newest=newest,
        gate=gate,
        experiment=_experiment(),
        matured_days=request.args.get("matured_days", MATURED_DAYS),
    )


#: Baselines the evaluation scores, in the chart's order, with their labels.
BASELINES = ("rule_score", "logistic_regression", "random")


def _baselines(versions: list[dict]) -> list[str]:
    """The baselines some version's card has a value for (the chart draws the same)."""
    return [
        b
        for b in BASELINES
        if any(
            v["card"].get("metrics", {}).get("baselines", {}).get(b, {}).get("ndcg@10") is not None
            for v in versions
        )
    ]


def _side_by_side(candidate: dict, active: dict) -> list[tuple[str, Any, Any]]:
    """Rows ``(label, candidate's value, active version's value)``: every metric either
    card has, the training window and the row counts."""
    cards = (candidate["card"], active["card"])
    rows: list[tuple[str, Any, Any]] = []
    names = sorted(
        {
            k
            for c in cards
            for k, v in c.get("metrics", {}).get("model", {}).items()
            if v is not None
        }
    )
    for name in names:
        rows.append(
            (
                _("naive %(metric)s", metric=name),
                *(c.get("metrics", {}).get("model", {}).get(name) for c in cards),
            )
        )
    for name in ("sndcg@5", "snrecall@5"):
        values = [
            c.get("metrics", {})
            .get("counterfactual", {})
            .get("models", {})
            .get("model", {})
            .get(name)
            for c in cards
        ]
        if any(v is not None for v in values):
            rows.append((_("counterfactual %(metric)s", metric=name), *values))
    for key, label in (("since", _("training window from")), ("until", _("training window to"))):
        rows.append((label, *((c.get("training_window") or {}).get(key) for c in cards)))
    for part, label in (("train", _("training rows")), ("test", _("test rows"))):
        rows.append((label, *((c.get("rows") or {}).get(part, {}).get("rows") for c in cards)))
    rows.append((_("test people"), *(c.get("metrics", {}).get("test_people") for c in cards)))
    return rows


@bp.post("/experiment")
def start_comparison() -> Any:
    version = (request.form.get("challenger") or "").strip()[:32]
    design = request.form.get("design") or "split"
    try:
        share = float((request.form.get("share") or "0").replace(",", "."))
        people = int(request.form.get("people") or "0")
        start_experiment(
            _workspace(),
            version,
            share,
            actor=current_person().actor,
            design=design[:16],
            people=people,
        )
    except ValueError:
        flash(
            _("The share must be a number between 0 and 1, the people a whole number."),
            "error",
        )
        return redirect(url_for(".models"))
    except (InvalidInput, Conflict, NotFound) as exc:
        flash(page_errors.why(exc), "error")
        return redirect(url_for(".models"))
    active_ranker().refresh_now()
    flash(_("%(v)s now serves a share of the people.", v=version), "success")
    return redirect(url_for(".models"))


@bp.post("/experiment/stop")
def stop_comparison() -> Any:
    try:
        stop_experiment(_workspace(), actor=current_person().actor)
    except NotFound as exc:
        flash(page_errors.why(exc), "info")
        return redirect(url_for(".models"))
    active_ranker().refresh_now()
    flash(_("The online comparison has ended; everyone gets the active version."), "success")
    return redirect(url_for(".models"))


@bp.get("/models/metric-by-version.png")
def metric_plot() -> Any:
    info = describe_versions(state().sessions)
    history = [
        {"version": v["version"], **v["card"]["metrics"]}
        for v in info["versions"]
        if "metrics" in v["card"]
    ]
    buffer = io.BytesIO()
    texts = {
        "title": _("NDCG@10 by model version"),
        "ylabel": _("NDCG@10 (on each version's test set)"),
        "xlabel": _("model version"),
        "model": _("model"),
        "rule_score": _("rule score"),
        "logistic_regression": _("logistic regression"),
        "random": _("random order"),
        "empty": _("No version has metrics yet."),
    }
    plot_metric_by_version(history, buffer, texts=texts)  # type: ignore[arg-type]
    buffer.seek(0)
    return send_file(buffer, mimetype="image/png", max_age=0)


@bp.get("/models/<version>/report/<name>.png")
def report_plot(version: str, name: str) -> Any:
    if name not in REPORT_PLOTS or not version.replace("v", "", 1).isdigit():
        abort(404)
    path = models_root(state().settings.data_dir) / version / "report" / f"{name}.png"
    if not path.is_file():
        abort(404)
    return send_file(Path(path).resolve(), mimetype="image/png", max_age=0)


def _version_info(version: str) -> dict[str, Any]:
    info = describe_versions(state().sessions)
    for v in info["versions"]:
        if v["version"] == version:
            return {"info": info, "version": v}
    abort(404)


@bp.route("/models/<version>/promote", methods=["GET", "POST"])
def promote(version: str) -> Any:
    """Promote on the offline gate (default) or, with ``evidence=online``, on the version's
    online comparison with requests at least ``matured_days`` old."""
    context = _version_info(version)
    values = request.args if request.method == "GET" else request.form
    evidence = values.get("evidence", "offline")
    if evidence not in EVIDENCE:
        abort(422)
    days = _matured_days(values)
    context.update(evidence=evidence, matured_days=days)
    if request.method == "GET":
        if evidence == "online":
            gate = _online_gate_for(version, days)
        else:
            gate = _gate_for(version, context["info"]["generation"])
        return render_template(
            "analyst/promote.html", refused=None, headline=HEADLINE, gate=gate, **context
        )
    if request.form.get("confirm") != "1":
        flash(_("Tick the confirmation box to promote."), "error")
        return render_template(
            "analyst/promote.html", refused=None, headline=HEADLINE, gate=None, **context
        ), 422
    force = request.form.get("force") == "1"
    reason = (request.form.get("reason") or "").strip()[:500]
    try:
        promote_version(
            _workspace(),
            version,
            actor=current_person().actor,
            force=force,
            reason=reason,
            evidence=evidence,
            matured_days=days,
        )
    except PromotionRefused as exc:
        return render_template(
            "analyst/promote.html",
            refused=exc,
            headline=HEADLINE,
            gate=exc.comparison,
            reason=reason,
            **context,
        ), 409
    except Conflict as exc:
        flash(page_errors.why(exc), "error")
        return redirect(url_for(".models"))
    active_ranker().refresh_now()
    flash(_("%(version)s now serves the suggestions.", version=version), "success")
    return redirect(url_for(".models"))


@bp.route("/models/rollback", methods=["GET", "POST"])
def roll_back() -> Any:
    info = describe_versions(state().sessions)
    try:
        target = rollback_target(request_session())
    except Conflict:
        flash(_("No model is active, so there is nothing to roll back."), "info")
        return redirect(url_for(".models"))
    if request.method == "GET":
        return render_template("analyst/rollback.html", info=info, target=target)
    if request.form.get("confirm") != "1":
        flash(_("Tick the confirmation box to roll back."), "error")
        return render_template("analyst/rollback.html", info=info, target=target), 422
    reason = (request.form.get("reason") or "").strip()[:500]
    rollback(_workspace(), actor=current_person().actor, reason=reason)
    active_ranker().refresh_now()
    flash(
        _(
            "Rolled back: %(target)s serves the suggestions now.",
            target=target or _("the rule score"),
        ),
        "success",
    )
    return redirect(url_for(".models"))


def _report() -> dict[str, Any]:
    by = request.args.get("by", "municipality")
    if by not in monitoring.GROUPINGS:
        by = "municipality"
    return monitoring.monitoring_report(
        request_session(), current_person(), by, period=request.args.get("period") or None
    )


@bp.get("/monitoring", endpoint="monitoring")
def monitoring_page() -> Any:
    report = _report()
    request_session().commit()
    periods = monitoring.recent_periods(n=8)
    if report["period"] not in periods:
        periods.append(report["period"])
    return render_template(
        "analyst/monitoring.html",
        report=report,
        groupings=monitoring.GROUPINGS,
        funnel=monitoring.FUNNEL,
        periods=periods,
        other=monitoring.OTHER,
    )


@bp.get("/monitoring/chart.png")
def monitoring_chart() -> Any:
    return Response(monitoring.report_chart(_report(), page_translator()), mimetype="image/png")


@bp.get("/monitoring/report.csv")
def monitoring_csv() -> Any:
    report = _report()
    name = f"monitoring-{report['by']}-{report['period']}.csv"
    return Response(
        monitoring.report_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
