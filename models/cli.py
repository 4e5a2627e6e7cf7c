"""``lotse ranker …`` (train, evaluate, promote, rollback, list) and ``lotse demo simulate``.

The commands are built by factories that take a ``Workspace`` maker: referrals (the source of
outcomes) live in ``casework``, which models may not import, so the service, which sees every
package, hands in a workspace wired to them. Long work reports its steps on stderr, so the
output itself stays pipeable.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from lotse.cli_support import fail, progress
from lotse.errors import LotseError
from models.experiments import MATURED_DAYS
from models.lifecycle import (
    EVIDENCE,
    PromotionRefused,
    Workspace,
    default_actor,
    describe_versions,
    evaluate_version,
    promote_version,
    rollback,
    train_version,
)

WorkspaceMaker = Callable[[], Workspace]


class _Steps:
    """Numbered steps with elapsed time on stderr: progress for work without a row count."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.n = 0

    def __call__(self, message: str) -> None:
        self.n += 1
        elapsed = time.perf_counter() - self.started
        click.echo(f"[{self.n}] {elapsed:6.1f}s  {message}…", err=True)


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _metric_line(card: dict[str, Any]) -> str:
    """The counterfactual sndcg@5 with its interval, the rule score's, and the naive NDCG."""
    m = card.get("metrics") or {}
    cf = (m.get("counterfactual") or {}).get("models") or {}
    naive = (m.get("model") or {}).get("ndcg@10")
    parts = []
    model, rule = cf.get("model", {}).get("sndcg@5"), cf.get("rule_score", {}).get("sndcg@5")
    if model and model["estimate"] is not None:
        lo, hi = model["ci"]
        parts.append(f"sndcg@5 {model['estimate']:.3f} [{lo:.3f}, {hi:.3f}]")
        if rule and rule["estimate"] is not None:
            parts.append(f"rule score {rule['estimate']:.3f}")
    if naive is not None:
        parts.append(f"naive ndcg@10 {naive:.3f} (biased toward the serving order)")
    return "; ".join(parts)


def build_ranker_group(workspace: WorkspaceMaker) -> click.Group:
    """The ``ranker`` command group, working in the workspace ``workspace()`` makes."""

    @click.group("ranker")
    def ranker_group() -> None:
        """Ranker versions: train, evaluate, promote, roll back, list (analysts)."""

    @ranker_group.command("train")
    @click.option("--since", help="first serving date of the training window (YYYY-MM-DD)")
    @click.option("--until", help="end of the window, exclusive (default: now)")
    @click.option("--seed", default=0, show_default=True, type=int)
    @click.option(
        "--promote", is_flag=True, help="promote the new version if it is better beyond noise"
    )
    @click.option(
        "--negative-control",
        help="train a version broken on purpose, to check that the gate refuses it: "
        "shuffled-labels, or flipped:FEATURE (e.g. flipped:distance_km)",
    )
    def train(
        since: str | None, until: str | None, seed: int, promote: bool, negative_control: str | None
    ) -> None:
        """Train a new version on impressions and outcomes and register it with its card."""
        ws = workspace()
        try:
            row = train_version(
                ws,
                since=_date(since),
                until=_date(until),
                seed=seed,
                actor=default_actor(),
                negative_control=negative_control,
                step=_Steps(),
            )
        except LotseError as exc:
            raise fail(exc) from None
        click.echo(f"trained {row.version}: {_metric_line(row.card)}")
        if promote:
            _promote(ws, row.version, force=False, reason="trained with --promote")

    @ranker_group.command("evaluate")
    @click.argument("version")
    @click.option("--out", type=click.Path(file_okay=False), help="report folder")
    def evaluate(version: str, out: str | None) -> None:
        """Write the full evaluation report of VERSION (JSON, Markdown, PNGs)."""
        from pathlib import Path

        try:
            report, paths = evaluate_version(
                workspace(), version, out_dir=Path(out) if out else None, step=_Steps()
            )
        except LotseError as exc:
            raise fail(exc) from None
        cf = report["counterfactual"]["models"]
        click.echo(
            "counterfactual (what if it had served), 95% intervals (errors shared within "
            "people and within offers):"
        )
        for name, m in cf.items():
            e = m["sndcg@5"]
            if e["estimate"] is not None:
                click.echo(
                    f"  {name:<22} sndcg@5 {e['estimate']:.3f} [{e['ci'][0]:.3f}, {e['ci'][1]:.3f}]"
                )
        click.echo("naive, on logged labels (biased toward the serving order):")
        for name, m in report["metrics"].items():
            click.echo(f"  {name:<22} ndcg@5 {m['ndcg@5']:.3f}  ndcg@10 {m['ndcg@10']:.3f}")
        click.echo(f"report: {paths['markdown']}")

    @ranker_group.command("promote")
    @click.argument("version")
    @click.option("--force", is_flag=True, help="promote even if not shown better")
    @click.option("--reason", default="", help="why (kept in the promotion log)")
    @click.option(
        "--evidence",
        type=click.Choice(EVIDENCE),
        default="offline",
        show_default=True,
        help="offline: the counterfactual estimate on logged outcomes; online: VERSION's "
        "online comparison against the active version",
    )
    @click.option(
        "--matured-days",
        type=click.FloatRange(0, 3650),
        default=MATURED_DAYS,
        show_default=True,
        help="with --evidence online: only requests at least this many days old count",
    )
    def promote(version: str, force: bool, reason: str, evidence: str, matured_days: float) -> None:
        """Serve VERSION when it is better than the active one beyond noise (by default the
        counterfactual estimate on the same test data; --evidence online: its online
        comparison)."""
        _promote(
            workspace(),
            version,
            force=force,
            reason=reason,
            evidence=evidence,
            matured_days=matured_days,
        )

    @ranker_group.command("rollback")
    @click.option("--reason", default="", help="why (kept in the promotion log)")
    def rollback_cmd(reason: str) -> None:
        """Serve the version that served before the active one (or the rule score)."""
        try:
            entry = rollback(workspace(), actor=default_actor(), reason=reason)
        except LotseError as exc:
            raise fail(exc) from None
        click.echo(
            f"rolled back from {entry.from_version} to {entry.to_version or 'the rule score'}"
        )

    @ranker_group.command("list")
    @click.option("--json", "as_json", is_flag=True, help="cards and log as JSON")
    def list_cmd(as_json: bool) -> None:
        """Every version, which one is active, and the promotion log."""
        info = describe_versions(workspace().sessions)
        if as_json:
            click.echo(json.dumps(info, indent=2, default=str))
            return
        if not info["versions"]:
            click.echo("no versions yet; the rule score serves (lotse ranker train)")
            return
        for v in info["versions"]:
            mark = "*" if v["active"] else " "
            click.echo(
                f"{mark} {v['version']:<6} {v['status']:<9} {v['created_at']:%Y-%m-%d %H:%M}  "
                f"parent {v['parent'] or '-':<6} {_metric_line(v['card'])}"
            )
        if info["active"] is None:
            click.echo("  (no version active: the rule score serves)")
        for e in info["promotions"][:5]:
            click.echo(
                f"  {e['at']:%Y-%m-%d %H:%M} {e['actor']}: {e['action']} "
                f"{e['from_version'] or 'rule score'} → {e['to_version'] or 'rule score'}"
                + (" (forced)" if e["forced"] else "")
            )

    return ranker_group


def _promote(
    ws: Workspace,
    version: str,
    *,
    force: bool,
    reason: str,
    evidence: str = "offline",
    matured_days: float = MATURED_DAYS,
) -> None:
    try:
        entry = promote_version(
            ws,
            version,
            actor=default_actor(),
            force=force,
            reason=reason,
            evidence=evidence,
            matured_days=matured_days,
        )
    except PromotionRefused as exc:
        raise click.ClickException(exc.detail) from None
    except LotseError as exc:
        raise fail(exc) from None
    c = entry.comparison or {}
    why = f": {c['why']}" if c.get("why") else ""
    click.echo(
        f"promoted {version}, replacing {entry.from_version or 'the rule score'}{why}"
        + (" — forced" if entry.forced else "")
    )


def build_simulate_command(workspace: WorkspaceMaker, record_referrals: Any) -> click.Command:
    """``demo simulate``: a simulated outcome history for the demo catalogue."""
    from models.simulation import DAYS_DEFAULT, PEOPLE_DEFAULT, simulate_history

    @click.command("simulate")
    @click.option("--people", default=PEOPLE_DEFAULT, show_default=True, type=int)
    @click.option("--seed", default=0, show_default=True, type=int)
    @click.option("--days", default=DAYS_DEFAULT, show_default=True, type=int)
    def simulate_command(people: int, seed: int, days: int) -> None:
        """Simulate people asking for recommendations over the last DAYS days and what they
        did with the offers shown (documented behaviour: models/simulation.py)."""
        ws = workspace()
        try:
            summary = simulate_history(
                ws.sessions,
                record_referrals,
                people=people,
                seed=seed,
                days=days,
                progress=lambda it, n: progress(it, total=n, desc="simulated people"),
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"simulated {summary['requests']} requests, {summary['impressions']} impressions, "
            f"{summary['referrals']} referrals: "
            + ", ".join(f"{k} {v}" for k, v in summary["statuses"].items()),
            file=sys.stdout,
        )

    return simulate_command
