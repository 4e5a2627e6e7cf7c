"""Evaluation: a model against the baselines on the same held-out people, later in time.

Every evaluation scores the model *and* the baselines (rule score, popularity, seeded random
order, logistic regression) on the same test rows, so "better" always means better than
something concrete. Metrics (``models.metrics``): NDCG@5 and @10 with graded gains, recall@3/5
and MAP@10 with "enrolled or completed" as relevant, catalogue coverage@5, and for models with
a likelihood the Brier score and calibration curve of P(enrolled or better).

The report also breaks NDCG@10 down by segment (German level, municipality, gender, residence
status, need category), so a model that fails one group is seen even when it wins on average.
Segments with fewer than ``MIN_SEGMENT_PEOPLE`` people are suppressed: their numbers would be
noise, and small groups could identify people. It shows position bias (take-up by the rank
an offer was shown at) and permutation importance (the drop in NDCG@10 when one feature's
values are shuffled across the test rows).

Output: ``report.json``, ``report.md`` and PNGs (metric by model version, calibration curve,
permutation importance, position bias), drawn with matplotlib's object API on the Agg canvas
(no display, no global pyplot state, safe in a server thread).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models import columns as C
from models.counterfactual import (
    GATE_METRIC,
    NO_BIAS,
    PositionBias,
    counterfactual_estimates,
)
from models.metrics import (
    brier_score,
    calibration_curve,
    catalogue_coverage,
    map_at_k,
    ndcg_at_k,
    recall_at_k,
)
from models.ranker import FrameScorer, feature_matrix
from models.training import SUCCESS_FROM, Split

#: The naive headline metric (logged labels, biased toward the serving order).
PRIMARY_METRIC = "ndcg@10"
NAIVE_NOTE = (
    "naive: computed on labels logged under the serving order, so biased toward that order "
    "(people take up what is shown first); decisions use the counterfactual estimates"
)
MIN_SEGMENT_PEOPLE = 5
IMPORTANCE_REPEATS = 3
#: Permutation importance runs on a sample of this many test requests (whole requests, so
#: rankings stay intact); enough for stable estimates, cheap at any data size.
IMPORTANCE_MAX_REQUESTS = 4000


def ranking_metrics(
    frame: pd.DataFrame, scores: np.ndarray, *, catalogue_size: int | None = None
) -> dict[str, float | None]:
    """The headline metrics of one scoring of ``frame`` (each 0..1, higher is better; None
    where no request could say, e.g. none with a success).

    Offline, a model can only re-rank the offers that were shown (at most ``k`` per
    request, usually 10), so recall and coverage are taken at cut-offs below the list
    length, where they still say something: which successes reach the first 3 or 5 places,
    and how much of the catalogue reaches the first 5.
    """
    rel, q = frame[C.LABEL].to_numpy(), frame[C.QUERY].to_numpy()
    out = {
        "ndcg@5": ndcg_at_k(rel, scores, query=q, k=5),
        "ndcg@10": ndcg_at_k(rel, scores, query=q, k=10),
        "recall@3": recall_at_k(rel, scores, query=q, k=3, relevant_from=SUCCESS_FROM),
        "recall@5": recall_at_k(rel, scores, query=q, k=5, relevant_from=SUCCESS_FROM),
        "map@10": map_at_k(rel, scores, query=q, k=10, relevant_from=SUCCESS_FROM),
    }
    if catalogue_size:
        out["coverage@5"] = catalogue_coverage(
            frame[C.ITEM].to_numpy(), scores, query=q, k=5, catalogue_size=catalogue_size
        )
    return {k: _round(v) for k, v in out.items()}


def _round(value: float) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 4)


@dataclass
class Scored:
    """One model's scores (and likelihoods, if it has them) on the test rows."""

    name: str
    scores: np.ndarray
    likelihood: np.ndarray | None = None
    fit_seconds: float = 0.0


@dataclass
class Evaluation:
    """A model and its baselines scored on the same test rows: naive metrics on the logged
    labels (``metrics``) and counterfactual estimates (``counterfactual``)."""

    model: str
    test: pd.DataFrame
    scored: dict[str, Scored]
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    counterfactual: dict[str, Any] = field(default_factory=dict)

    def as_card_metrics(self) -> dict[str, Any]:
        return {
            "primary": GATE_METRIC,
            "naive_note": NAIVE_NOTE,
            "model": self.metrics[self.model],
            "baselines": {k: v for k, v in self.metrics.items() if k != self.model},
            "counterfactual": self.counterfactual,
            "test_rows": len(self.test),
            "test_requests": int(self.test[C.QUERY].nunique()),
            "test_people": int(self.test[C.PERSON].nunique()),
        }


def _likelihood(scorer: Any, frame: pd.DataFrame) -> np.ndarray | None:
    fn = getattr(scorer, "predict_likelihood", None)
    return fn(frame) if fn is not None else None


def score_models(
    split: Split,
    model: FrameScorer,
    baselines: Sequence[FrameScorer],
    *,
    fit_model: bool = True,
    catalogue_size: int | None = None,
    bias: PositionBias = NO_BIAS,
    seed: int = 0,
) -> Evaluation:
    """Fit the baselines (and the model, unless already fitted) on the training rows and
    score all on the test rows: naive metrics, and counterfactual estimates under ``bias``
    (each against the rule score when it is among the baselines)."""
    if split.test.empty:
        raise ValueError("the test split is empty: widen the window or lower the cutoff")
    scored: dict[str, Scored] = {}
    for scorer, fit in [(model, fit_model), *[(b, True) for b in baselines]]:
        started = time.perf_counter()
        if fit:
            scorer.fit(split.train)
        seconds = time.perf_counter() - started
        scored[scorer.name] = Scored(
            name=scorer.name,
            scores=np.asarray(scorer.score(split.test), dtype=float),
            likelihood=_likelihood(scorer, split.test),
            fit_seconds=round(seconds, 2),
        )
    evaluation = Evaluation(model=model.name, test=split.test, scored=scored)
    for name, s in scored.items():
        m: dict[str, float | None] = ranking_metrics(
            split.test, s.scores, catalogue_size=catalogue_size
        )
        if s.likelihood is not None:
            m["brier"] = _round(
                brier_score(split.test[C.LABEL].to_numpy() >= SUCCESS_FROM, s.likelihood)
            )
        evaluation.metrics[name] = m
    reference = "rule_score" if "rule_score" in scored else None
    evaluation.counterfactual = counterfactual_estimates(
        split.test,
        {name: s.scores for name, s in scored.items()},
        bias,
        reference=reference,
        seed=seed,
    )
    return evaluation


# --- breakdowns ------------------------------------------------------------------------


def segment_metrics(
    evaluation: Evaluation,
    segments: Sequence[str] = C.SEGMENTS,
    *,
    min_people: int = MIN_SEGMENT_PEOPLE,
) -> dict[str, Any]:
    """NDCG@10 of every model per segment value; values with fewer than ``min_people``
    distinct people are suppressed (counted, never shown).

    Person segments (German level, …) group whole requests. The need category groups the
    offers suggested for one need within a request, ranked among themselves.
    """
    test = evaluation.test
    out: dict[str, Any] = {}
    for segment in segments:
        if segment not in test.columns:
            continue
        value = test[segment].astype("string").fillna("unknown")
        seg_codes, seg_values = pd.factorize(value)
        q_codes = pd.factorize(test[C.QUERY])[0]
        key = q_codes.astype(np.int64) * max(len(seg_values), 1) + seg_codes
        rel = test[C.LABEL].to_numpy()
        per_key_seg = pd.Series(seg_codes, index=key).groupby(level=0).first()
        people = test.groupby(seg_codes)[C.PERSON].nunique()
        requests = test.groupby(seg_codes)[C.QUERY].nunique()
        rows: list[dict[str, Any]] = []
        suppressed = 0
        per_model = {}
        for name, s in evaluation.scored.items():
            pq = ndcg_at_k(rel, s.scores, query=key, k=10, per_query=True)
            per_model[name] = pq.groupby(per_key_seg.reindex(pq.index).to_numpy()).mean()
        for code, label in enumerate(seg_values):
            n_people = int(people.get(code, 0))
            if n_people < min_people:
                suppressed += 1
                continue
            row: dict[str, Any] = {
                "value": str(label),
                "people": n_people,
                "requests": int(requests.get(code, 0)),
            }
            for name, series in per_model.items():
                row[name] = _round(series.get(code, float("nan")))
            rows.append(row)
        rows.sort(key=lambda r: -r["people"])
        out[segment] = {"rows": rows, "suppressed_values": suppressed}
    return out


def position_bias(frame: pd.DataFrame, max_position: int = 20) -> list[dict[str, Any]]:
    """Take-up by the rank an offer was shown at: impressions, share taken up (label >= 1)
    and share succeeded (label >= 2). A steep fall with rank, for offers of similar fit, is
    position bias: people take what is shown first."""
    if C.POSITION not in frame.columns or frame.empty:
        return []
    pos = frame[C.POSITION].clip(upper=max_position)
    grouped = frame.assign(
        _pos=pos, _taken=frame[C.LABEL] >= 1, _success=frame[C.LABEL] >= SUCCESS_FROM
    ).groupby("_pos")
    table = grouped.agg(
        impressions=(C.LABEL, "size"), taken_up=("_taken", "mean"), success=("_success", "mean")
    )
    columns = (table.index, table["impressions"], table["taken_up"], table["success"])
    return [
        {
            "position": int(p),
            "impressions": int(n),
            "taken_up_rate": _round(taken),
            "success_rate": _round(success),
        }
        for p, n, taken, success in zip(*(c.tolist() for c in columns), strict=True)
    ]


def permutation_importance(
    score: Callable[[np.ndarray], np.ndarray],
    test: pd.DataFrame,
    feature_names: Sequence[str],
    *,
    n_repeats: int = IMPORTANCE_REPEATS,
    seed: int = 0,
    max_requests: int = IMPORTANCE_MAX_REQUESTS,
) -> list[dict[str, Any]]:
    """Mean drop in NDCG@10 when one feature's values are shuffled across the test rows
    (``n_repeats`` shuffles), best first. Near zero: the model does not rely on it."""
    rng = np.random.default_rng(seed)
    requests = test[C.QUERY].unique()
    if len(requests) > max_requests:
        keep = set(rng.choice(requests, size=max_requests, replace=False).tolist())
        test = test[test[C.QUERY].isin(keep)]
    X = feature_matrix(test, feature_names)
    rel, q = test[C.LABEL].to_numpy(), test[C.QUERY].to_numpy()
    base = ndcg_at_k(rel, score(X), query=q, k=10)
    rows: list[dict[str, Any]] = []
    for j, name in enumerate(feature_names):
        drops = []
        for _ in range(n_repeats):
            Xp = X.copy()
            Xp[:, j] = rng.permutation(Xp[:, j])
            drops.append(base - ndcg_at_k(rel, score(Xp), query=q, k=10))
        rows.append(
            {
                "feature": name,
                "ndcg@10_drop": _round(float(np.mean(drops))),
                "std": _round(float(np.std(drops))),
            }
        )
    rows.sort(key=lambda r: -(r["ndcg@10_drop"] or 0.0))
    return rows


def calibration(evaluation: Evaluation, n_bins: int = 10) -> dict[str, Any]:
    """Brier score and reliability table of every model that has a likelihood."""
    y = evaluation.test[C.LABEL].to_numpy() >= SUCCESS_FROM
    out: dict[str, Any] = {"outcome": f"label >= {SUCCESS_FROM} (enrolled or completed)"}
    for name, s in evaluation.scored.items():
        if s.likelihood is None:
            continue
        curve = calibration_curve(y, s.likelihood, n_bins=n_bins)
        out[name] = {
            "brier": _round(brier_score(y, s.likelihood)),
            "base_rate": _round(float(y.mean())),
            "curve": [
                {k: _round(v) if k != "count" else int(v) for k, v in row.items()}
                for row in curve.to_dict(orient="records")
            ],
        }
    return out


# --- the report ---------------------------------------------------------------------------


def build_report(
    evaluation: Evaluation,
    *,
    version: str,
    split: Split,
    score: Callable[[np.ndarray], np.ndarray],
    feature_names: Sequence[str],
    history: Sequence[dict[str, Any]] = (),
    seed: int = 0,
) -> dict[str, Any]:
    """Everything ``lotse ranker evaluate`` writes, as one JSON-able dict."""
    started = time.perf_counter()
    report = {
        "version": version,
        "primary_metric": PRIMARY_METRIC,
        "split": split.spec.as_dict(),
        "rows": {
            "train": len(split.train),
            "test": len(split.test),
            "test_requests": int(split.test[C.QUERY].nunique()),
            "test_people": int(split.test[C.PERSON].nunique()),
        },
        "metrics": evaluation.metrics,
        "naive_note": NAIVE_NOTE,
        "counterfactual": evaluation.counterfactual,
        "segments": segment_metrics(evaluation),
        "min_segment_people": MIN_SEGMENT_PEOPLE,
        "calibration": calibration(evaluation),
        "position_bias": position_bias(pd.concat([split.train, split.test])),
        "permutation_importance": permutation_importance(
            score, split.test, feature_names, seed=seed
        ),
        "history": list(history),
    }
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def report_markdown(report: dict[str, Any]) -> str:
    """A one-page summary for people: headline table, weak segments, calibration, bias."""
    version, metrics = report["version"], report["metrics"]
    names = list(metrics)
    cols = ["ndcg@5", "ndcg@10", "recall@3", "recall@5", "map@10", "coverage@5", "brier"]
    cols = [c for c in cols if any(c in m for m in metrics.values())]
    lines = [
        f"# Ranker evaluation: {version}",
        "",
        f"Test: {report['rows']['test']} impressions, {report['rows']['test_requests']} "
        f"requests of {report['rows']['test_people']} people never seen in training, served "
        f"after {report['split']['cutoff']}.",
        "",
        *counterfactual_markdown(report.get("counterfactual") or {}, version),
        "## Naive metrics (biased toward the serving order)",
        "",
        "Computed on the logged labels as they are: people take up what is shown first, so "
        "these favour whatever order served. Relevant for recall/MAP: enrolled or completed. "
        "Brier: lower is better.",
        "",
        "| model | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for name in names:
        label = f"**{name}**" if name == version else name
        lines.append(f"| {label} | " + " | ".join(_fmt(metrics[name].get(c)) for c in cols) + " |")
    rule = "rule_score" if "rule_score" in metrics else None
    lines += [
        "",
        f"## NDCG@10 by segment (fewer than {report['min_segment_people']} people: suppressed)",
        "",
    ]
    for segment, block in report["segments"].items():
        rows = block["rows"]
        lines.append(f"### {segment}")
        lines.append("")
        if not rows:
            lines.append(f"All {block['suppressed_values']} values suppressed.")
            lines.append("")
            continue
        lines.append("| value | people | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 2) + "|")
        for row in rows:
            flag = ""
            if rule and row.get(version) is not None and row.get(rule) is not None:
                flag = " ⚠" if row[version] < row[rule] else ""
            lines.append(
                f"| {row['value']}{flag} | {row['people']} | "
                + " | ".join(_fmt(row.get(n)) for n in names)
                + " |"
            )
        if block["suppressed_values"]:
            lines.append(f"\n{block['suppressed_values']} value(s) suppressed.")
        lines.append("")
    if rule:
        lines.append(f"⚠ marks segments where {version} ranks worse than the rule score.\n")
    cal = {k: v for k, v in report["calibration"].items() if isinstance(v, dict)}
    if cal:
        lines += ["## Calibration of P(enrolled or better)", ""]
        for name, block in cal.items():
            lines.append(
                f"- {name}: Brier {_fmt(block['brier'])} (base rate {_fmt(block['base_rate'])})"
            )
        lines.append("")
    if report["position_bias"]:
        lines += [
            "## Take-up by position shown",
            "",
            "| position | impressions | taken up | enrolled+ |",
            "|---|---|---|---|",
        ]
        for row in report["position_bias"]:
            lines.append(
                f"| {row['position']} | {row['impressions']} | {_fmt(row['taken_up_rate'])} | "
                f"{_fmt(row['success_rate'])} |"
            )
        lines.append("")
    lines += ["## Permutation importance (NDCG@10 drop)", ""]
    for row in report["permutation_importance"][:15]:
        lines.append(f"- {row['feature']}: {_fmt(row['ndcg@10_drop'])} ± {_fmt(row['std'])}")
    lines += [
        "",
        "![metric by version](metric_by_version.png) ![calibration](calibration.png)",
        "![importance](importance.png) ![position bias](position_bias.png)",
        "",
    ]
    return "\n".join(lines)


def counterfactual_markdown(cf: dict[str, Any], version: str) -> list[str]:
    """The counterfactual table: each model's estimate with its 95 % interval, and its
    difference to the reference."""
    models = cf.get("models") or {}
    if not models:
        return []
    bias = cf.get("position_bias") or {}
    theta = ", ".join(f"{t:.2f}" for t in (bias.get("theta") or [])[:10])
    lines = [
        "## Counterfactual estimates (what if this model had served)",
        "",
        f"Inverse-propensity weighted by position (θ from {bias.get('source', '?')}: {theta}); "
        f"95 % intervals ({(cf.get('intervals') or {}).get('variance', 'cluster-robust')} "
        f"variance: errors shared within people and within offers), {cf['people']} people. "
        "sndcg@k: weighted gain in the first k places per weighted gain shown (0–1).",
        "",
        "| model | sndcg@5 | sndcg@10 | snrecall@5 | difference in sndcg@5 to "
        f"{cf.get('reference') or '–'} |",
        "|---|---|---|---|---|",
    ]
    for name, m in models.items():
        label = f"**{name}**" if name in (version, "model") else name
        diff = (cf.get("differences") or {}).get(name, {}).get("sndcg@5")
        diff_text = (
            f"{diff['estimate']:+.3f} [{diff['ci'][0]:+.3f}, {diff['ci'][1]:+.3f}]"
            if diff and diff["estimate"] is not None
            else "–"
        )
        cells = [
            f"{_fmt(m[k]['estimate'])} [{_fmt(m[k]['ci'][0])}, {_fmt(m[k]['ci'][1])}]"
            for k in ("sndcg@5", "sndcg@10", "snrecall@5")
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {diff_text} |")
    lines.append("")
    return lines


def _figure(width: float = 6.4, height: float = 4.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


#: The metric chart's words; a page passes them in its own language.
METRIC_PLOT_TEXTS: dict[str, str] = {
    "title": "Metric by model version",
    "ylabel": "NDCG@10 (own test set)",
    "xlabel": "model version",
    "model": "model",
    "rule_score": "rule_score",
    "logistic_regression": "logistic_regression",
    "random": "random",
    "empty": "No version has metrics yet.",
}


def plot_metric_by_version(
    history: Sequence[dict[str, Any]], path: Path, texts: dict[str, str] | None = None
) -> None:
    """NDCG@10 of each version on its own test set, with the baselines on the same set;
    without any version a note instead of empty axes. ``texts``: ``METRIC_PLOT_TEXTS``'s
    keys in another language."""
    words = {**METRIC_PLOT_TEXTS, **(texts or {})}
    fig = _figure()
    ax = fig.add_subplot()
    if not history:
        ax.axis("off")
        ax.text(0.5, 0.5, words["empty"], ha="center", va="center", fontsize="large")
        fig.savefig(path)
        return
    versions = [h["version"] for h in history]
    x = np.arange(len(versions))
    model = [h.get("model", {}).get(PRIMARY_METRIC) for h in history]
    ax.plot(x, [np.nan if v is None else v for v in model], "o-", label=words["model"])
    for base, style in (("rule_score", "s--"), ("logistic_regression", "^:"), ("random", "x:")):
        vals = [h.get("baselines", {}).get(base, {}).get(PRIMARY_METRIC) for h in history]
        if any(v is not None for v in vals):
            ax.plot(x, [np.nan if v is None else v for v in vals], style, label=words[base])
    ax.set_xticks(x, versions, rotation=45 if len(versions) > 8 else 0)
    ax.set_ylabel(words["ylabel"], fontsize="large")
    ax.set_xlabel(words["xlabel"], fontsize="large")
    ax.set_title(words["title"], fontsize="x-large")
    ax.set_ylim(0, 1)
    ax.tick_params(labelsize="medium")
    ax.legend(loc="lower right", fontsize="medium")
    fig.tight_layout()
    fig.savefig(path)


def plot_calibration(cal: dict[str, Any], path: Path) -> None:
    fig = _figure(5, 5)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    for name, block in cal.items():
        if not isinstance(block, dict):
            continue
        xs = [r["mean_predicted"] for r in block["curve"]]
        ys = [r["fraction_positive"] for r in block["curve"]]
        ax.plot(xs, ys, "o-", label=f"{name} (Brier {_fmt(block['brier'])})")
    ax.set_xlabel("predicted P(enrolled or better)")
    ax.set_ylabel("observed share")
    ax.set_title("Calibration curve")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


def plot_importance(rows: Sequence[dict[str, Any]], path: Path, top: int = 20) -> None:
    rows = list(rows)[:top][::-1]
    fig = _figure(6.4, max(2.5, 0.3 * len(rows) + 1))
    ax = fig.add_subplot()
    ax.barh(
        [r["feature"] for r in rows],
        [r["ndcg@10_drop"] or 0 for r in rows],
        xerr=[r["std"] or 0 for r in rows],
    )
    ax.set_xlabel("drop in NDCG@10 when shuffled")
    ax.set_title("Permutation importance")
    fig.tight_layout()
    fig.savefig(path)


def plot_position_bias(rows: Sequence[dict[str, Any]], path: Path) -> None:
    fig = _figure()
    ax = fig.add_subplot()
    pos = [r["position"] for r in rows]
    ax.bar(pos, [r["taken_up_rate"] or 0 for r in rows], label="taken up (label ≥ 1)")
    ax.bar(pos, [r["success_rate"] or 0 for r in rows], label="enrolled or better", alpha=0.8)
    ax.set_xlabel("position shown")
    ax.set_ylabel("share of impressions")
    ax.set_title("Take-up by position")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and the PNGs into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "markdown": out_dir / "report.md",
        "metric_by_version": out_dir / "metric_by_version.png",
        "calibration": out_dir / "calibration.png",
        "importance": out_dir / "importance.png",
        "position_bias": out_dir / "position_bias.png",
    }
    paths["json"].write_text(json.dumps(report, indent=2, default=str) + "\n")
    paths["markdown"].write_text(report_markdown(report))
    plot_metric_by_version(report["history"], paths["metric_by_version"])
    plot_calibration(report["calibration"], paths["calibration"])
    plot_importance(report["permutation_importance"], paths["importance"])
    plot_position_bias(report["position_bias"], paths["position_bias"])
    return paths
