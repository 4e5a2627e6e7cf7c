"""Monitoring and evaluation: aggregates of agreements and referrals, per municipality,
counselling centre or need category — and nothing finer.

What counts:

- agreements: only binding ones (signed or closed; anonymised ones included, so erasure does
  not change totals), by the date both sides signed; goals by their outcome at closing;
  obstacles named in their reviews;
- referrals: the funnel proposed → accepted → enrolled → completed counts each referral at
  every stage it *reached* (from its status events, so a referral enrolled straight from
  ``proposed`` counts as accepted too), by the date it was made; days from referral to its
  first enrolment; reasons of declined, rejected and dropped referrals.

Groups: ``municipality`` is the agreement's own municipality (given by the counsellor, or
the place its recommendations were made for) and, for referrals, the offer's municipality;
``centre`` is the owning centre; ``category`` is the parent need category (``language``,
``childcare``, …) of a goal, or of the offer a referral went to — parents, not leaves, so
groups stay large enough to be shown.

Disclosure control: a group with fewer than ``MIN_GROUP_SIZE`` distinct people has every
number replaced by ``None`` and ``suppressed: true``. Because the total row minus the shown
groups would reveal a lone suppressed group, further groups (smallest first) are suppressed
until the suppressed ones together hold at least ``MIN_GROUP_SIZE`` people and are at least
two ("secondary suppression").
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal, get_args

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.tables import (
    Agreement,
    AgreementGoal,
    AgreementReview,
    AgreementStep,
    Referral,
    ReferralEvent,
)
from catalog import taxonomy
from catalog.tables import Offer
from lotse.accounts import Principal
from lotse.csvsafe import neutralise
from lotse.db import utcnow
from lotse.errors import FieldError, Forbidden, InvalidInput

GroupBy = Literal["municipality", "centre", "category"]
GROUPINGS: tuple[str, ...] = get_args(GroupBy)
MIN_GROUP_SIZE = 5
TOP_N = 5
UNKNOWN = "unknown"
FUNNEL: tuple[str, ...] = ("proposed", "accepted", "enrolled", "completed")
#: A referral reached a funnel stage when it ever had one of these statuses.
REACHED: dict[str, frozenset[str]] = {
    "proposed": frozenset({"proposed", "accepted", "enrolled", "completed"}),
    "accepted": frozenset({"accepted", "enrolled", "completed"}),
    "enrolled": frozenset({"enrolled", "completed"}),
    "completed": frozenset({"completed"}),
}
REASON_STATUSES: tuple[str, ...] = ("declined", "rejected_by_provider", "dropped")
#: Report rows as CSV: one column per number, lists as ``code:count`` joined by ``;``.
CSV_COLUMNS: tuple[str, ...] = (
    "group",
    "suppressed",
    "people",
    "agreements_signed",
    "goals",
    "goals_reached",
    "goals_partly_reached",
    "goals_not_reached",
    "goals_open",
    "referrals_proposed",
    "referrals_accepted",
    "referrals_enrolled",
    "referrals_completed",
    "median_days_to_enrolment",
    "top_obstacles",
    "top_rejection_reasons",
)
NUMBERS: tuple[str, ...] = CSV_COLUMNS[2:]
ANALYSTS = ("analyst", "admin")


@dataclass(frozen=True)
class Window:
    """Agreements by signing date, referrals by creation date, in ``[since, until]``."""

    since: date | None = None
    until: date | None = None


def _parent(code: str | None) -> str:
    if code and taxonomy.is_known(code):
        return taxonomy.parent(code)
    return code or UNKNOWN


# --- loading -------------------------------------------------------------------------------


def _agreements(session: Session, window: Window) -> pd.DataFrame:
    stmt = select(
        Agreement.id,
        Agreement.centre_id,
        Agreement.person_key,
        Agreement.municipality,
        Agreement.signed_on,
    ).where(Agreement.status.in_(("signed", "closed")))
    if window.since:
        stmt = stmt.where(Agreement.signed_on >= window.since)
    if window.until:
        stmt = stmt.where(Agreement.signed_on <= window.until)
    cols = ["agreement_id", "centre", "person_key", "municipality", "signed_on"]
    frame = pd.DataFrame(session.execute(stmt).all(), columns=cols)
    frame["municipality"] = frame["municipality"].fillna(UNKNOWN)
    return frame


def _goals(session: Session, ids: list[str]) -> pd.DataFrame:
    rows = (
        session.execute(
            select(
                AgreementGoal.agreement_id,
                AgreementGoal.position,
                AgreementGoal.category,
                AgreementGoal.outcome,
            ).where(AgreementGoal.agreement_id.in_(ids))
        ).all()
        if ids
        else []
    )
    frame = pd.DataFrame(rows, columns=["agreement_id", "goal", "category", "outcome"])
    frame["category"] = [_parent(c) for c in frame["category"]]
    return frame


def _obstacles(session: Session, ids: list[str], goals: pd.DataFrame) -> pd.DataFrame:
    """One row per obstacle named in a review, with the category it belongs to: its step's
    goal's, else one row for each category of the agreement's goals."""
    if not ids:
        return pd.DataFrame(columns=["agreement_id", "code", "category"])
    step_goal = dict(
        session.execute(
            select(AgreementStep.id, AgreementStep.goal).where(AgreementStep.agreement_id.in_(ids))
        ).all()
    )
    goal_cat = {
        (a, g): c for a, g, c in goals[["agreement_id", "goal", "category"]].itertuples(index=False)
    }
    cats_of: dict[str, list[str]] = {}
    for a, c in goals[["agreement_id", "category"]].drop_duplicates().itertuples(index=False):
        cats_of.setdefault(a, []).append(c)
    rows = []
    reviews = session.execute(
        select(AgreementReview.agreement_id, AgreementReview.obstacles).where(
            AgreementReview.agreement_id.in_(ids)
        )
    ).all()
    for agreement_id, obstacles in reviews:
        for o in obstacles or []:
            goal = step_goal.get(o.get("step_id"))
            cat = goal_cat.get((agreement_id, goal)) if goal is not None else None
            for c in [cat] if cat else cats_of.get(agreement_id) or [UNKNOWN]:
                rows.append((agreement_id, o.get("code") or "other", c))
    return pd.DataFrame(rows, columns=["agreement_id", "code", "category"])


def _referrals(session: Session, window: Window) -> pd.DataFrame:
    stmt = select(
        Referral.id,
        Referral.centre_id,
        Referral.person_key,
        Referral.created_at,
        Offer.municipality,
        Offer.category,
    ).join(Offer, Offer.id == Referral.offer_id)
    if window.since:
        stmt = stmt.where(Referral.created_at >= datetime.combine(window.since, time.min))
    if window.until:
        stmt = stmt.where(Referral.created_at <= datetime.combine(window.until, time.max))
    cols = ["referral_id", "centre", "person_key", "created_at", "municipality", "category"]
    frame = pd.DataFrame(session.execute(stmt).all(), columns=cols)
    frame["category"] = [_parent(c) for c in frame["category"]]
    frame["municipality"] = frame["municipality"].fillna(UNKNOWN)
    return frame


def _events(session: Session, ids: list[str]) -> pd.DataFrame:
    cols = ["referral_id", "to_status", "at", "reason"]
    if not ids:
        return pd.DataFrame(columns=cols)
    rows: list[Any] = []
    # Chunked IN lists: a database may limit bound parameters per statement.
    for start in range(0, len(ids), 5000):
        rows.extend(
            session.execute(
                select(
                    ReferralEvent.referral_id,
                    ReferralEvent.to_status,
                    ReferralEvent.at,
                    ReferralEvent.reason,
                ).where(ReferralEvent.referral_id.in_(ids[start : start + 5000]))
            ).all()
        )
    return pd.DataFrame(rows, columns=cols)


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps as UTC (SQLite returns naive ones, PostgreSQL aware ones)."""
    stamps = pd.to_datetime(values)
    if getattr(stamps.dt, "tz", None) is None:
        return stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC")


def _referral_outcomes(referrals: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Per referral: the funnel stages it reached and the days to its first enrolment."""
    out = referrals.copy()
    reached = events.groupby("referral_id")["to_status"].agg(set) if len(events) else pd.Series()
    statuses = out["referral_id"].map(reached)
    for stage in FUNNEL:
        out[stage] = [
            bool(s & REACHED[stage]) if isinstance(s, set) else stage == "proposed"
            for s in statuses
        ]
    enrolled = events[events["to_status"] == "enrolled"]
    if len(enrolled):
        first = enrolled.assign(at=_utc(enrolled["at"])).groupby("referral_id")["at"].min()
        start = _utc(out["created_at"])
        days = (out["referral_id"].map(first) - start).dt.total_seconds() / 86400
        out["days_to_enrolment"] = days.clip(lower=0)
    else:
        out["days_to_enrolment"] = float("nan")
    return out


# --- aggregating ---------------------------------------------------------------------------


def _top(counter: Counter, key: str) -> list[dict[str, Any]]:
    return [
        {**dict(zip(key.split("|"), k.split("|"), strict=True)), "count": n}
        for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
    ]


def _metrics(
    agreements: pd.DataFrame,
    goals: pd.DataFrame,
    obstacles: pd.DataFrame,
    referrals: pd.DataFrame,
    reasons: pd.DataFrame,
) -> dict[str, Any]:
    """The numbers of one group (or of all); ``people`` is the distinct persons behind them."""
    people = set(agreements["person_key"]) | set(referrals["person_key"])
    outcome = goals["outcome"]
    days = referrals["days_to_enrolment"].dropna() if len(referrals) else pd.Series(dtype=float)
    return {
        "people": len(people),
        "agreements_signed": int(agreements["agreement_id"].nunique()),
        "goals": len(goals),
        "goals_reached": int((outcome == "reached").sum()),
        "goals_partly_reached": int((outcome == "partly_reached").sum()),
        "goals_not_reached": int((outcome == "not_reached").sum()),
        "goals_open": int(outcome.isna().sum()),
        **{f"referrals_{s}": int(referrals[s].sum()) if len(referrals) else 0 for s in FUNNEL},
        "median_days_to_enrolment": round(float(days.median()), 1) if len(days) else None,
        "top_obstacles": _top(Counter(obstacles["code"]), "code"),
        "top_rejection_reasons": _top(
            Counter(
                f"{s}|{r}" for s, r in zip(reasons["to_status"], reasons["reason"], strict=True)
            ),
            "status|reason",
        ),
        "_people": people,
    }


def _suppress(row: dict[str, Any]) -> dict[str, Any]:
    return {"group": row["group"], "suppressed": True, **dict.fromkeys(NUMBERS)}


def _apply_suppression(rows: list[dict[str, Any]], total: dict[str, Any]) -> None:
    """Primary (below ``MIN_GROUP_SIZE`` people) and secondary suppression, in place."""
    hidden = {i for i, r in enumerate(rows) if r["people"] < MIN_GROUP_SIZE}
    if hidden and total["people"] >= MIN_GROUP_SIZE:
        while True:
            union = set().union(*(rows[i]["_people"] for i in hidden))
            if len(union) >= MIN_GROUP_SIZE and len(hidden) >= 2:
                break
            shown = [i for i in range(len(rows)) if i not in hidden]
            if not shown:
                break
            hidden.add(min(shown, key=lambda i: (rows[i]["people"], rows[i]["group"])))
    for i in hidden:
        rows[i] = _suppress(rows[i])
    for r in rows:
        r.pop("_people", None)
    if total["people"] < MIN_GROUP_SIZE:
        total.clear()
        total.update(_suppress({"group": "total"}))
    total.pop("_people", None)


def monitoring_report(
    session: Session,
    actor: Principal,
    by: str = "municipality",
    *,
    since: date | None = None,
    until: date | None = None,
) -> dict[str, Any]:
    """The monitoring report: one row per group (``by``) and a total, each with
    ``people``, ``agreements_signed``, goal outcomes, the referral funnel,
    ``median_days_to_enrolment`` (days, ≥ 0), the most frequent obstacles and rejection
    reasons — or ``suppressed: true`` and nulls (see the module docstring)."""
    if actor.role not in ANALYSTS:
        raise Forbidden("reports are for analysts and admin")
    if by not in GROUPINGS:
        raise InvalidInput([FieldError("by", "one of " + ", ".join(GROUPINGS))])
    window = Window(since, until)
    agreements = _agreements(session, window)
    ids = list(agreements["agreement_id"])
    goals = _goals(session, ids)
    obstacles = _obstacles(session, ids, goals)
    referrals = _referrals(session, window)
    events = _events(session, list(referrals["referral_id"]))
    referrals = _referral_outcomes(referrals, events)
    reasons = events[events["to_status"].isin(REASON_STATUSES) & events["reason"].notna()]
    reasons = reasons.merge(referrals[["referral_id", "centre", "municipality", "category"]])

    goals = goals.merge(agreements[["agreement_id", "centre", "municipality", "person_key"]])
    obstacles = obstacles.merge(agreements[["agreement_id", "centre", "municipality"]])
    key = {"municipality": "municipality", "centre": "centre", "category": "category"}[by]
    if by == "category":
        # An agreement belongs to every category one of its goals is in.
        agreement_groups = goals[["agreement_id", "category", "person_key"]].drop_duplicates()
        agreement_groups = agreement_groups.rename(columns={"category": "group"})
    else:
        agreement_groups = agreements.assign(group=agreements[key])

    groups = sorted(set(agreement_groups["group"]) | set(referrals[key] if len(referrals) else []))
    rows = []
    for name in groups:
        a = agreement_groups[agreement_groups["group"] == name]
        rows.append(
            {
                "group": name,
                "suppressed": False,
                **_metrics(
                    a,
                    goals[goals[key] == name],
                    obstacles[obstacles[key] == name],
                    referrals[referrals[key] == name],
                    reasons[reasons[key] == name],
                ),
            }
        )
    total = {
        "group": "total",
        "suppressed": False,
        **_metrics(agreements, goals, obstacles, referrals, reasons),
    }
    _apply_suppression(rows, total)
    return {
        "by": by,
        "since": since,
        "until": until,
        "generated_at": utcnow(),
        "min_group_size": MIN_GROUP_SIZE,
        "groups": rows,
        "total": total,
    }


# --- formats -------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(
            ":".join(str(v) for k, v in item.items() if k != "count") + f":{item['count']}"
            for item in value
        )
    if value is None:
        return ""
    return value


def report_csv(report: dict[str, Any]) -> str:
    """The report as CSV: one row per group, then the total; suppressed numbers are empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in [*report["groups"], report["total"]]:
        writer.writerow({c: neutralise(str(_cell(row.get(c)))) for c in CSV_COLUMNS})
    return buffer.getvalue()


def report_chart(report: dict[str, Any]) -> bytes:
    """The report as a PNG: the referral funnel per group, and signed agreements with goals
    reached or partly reached per group. Suppressed groups are labelled, with no bars.

    Drawn on a ``Figure`` with the Agg canvas directly, never through ``pyplot``, so no
    global backend or figure state changes in the serving process.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = report["groups"]
    labels = [r["group"] + (" (suppressed)" if r["suppressed"] else "") for r in rows]
    x = np.arange(len(rows))
    fig = Figure(figsize=(max(6.0, 1.2 * len(rows) + 2), 7.5), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1)
    width = 0.8 / len(FUNNEL)
    for i, stage in enumerate(FUNNEL):
        values = [r[f"referrals_{stage}"] or 0 for r in rows]
        top.bar(x + (i - 1.5) * width, values, width, label=stage)
    top.set_title(f"Referral funnel by {report['by']}")
    top.set_ylabel("referrals")
    top.legend(fontsize="small")
    series = (
        ("agreements_signed", "agreements signed"),
        ("goals_reached", "goals reached"),
        ("goals_partly_reached", "goals partly reached"),
    )
    width = 0.8 / len(series)
    for i, (name, label) in enumerate(series):
        values = [r[name] or 0 for r in rows]
        bottom.bar(x + (i - 1) * width, values, width, label=label)
    bottom.set_title(f"Agreements and goals by {report['by']}")
    bottom.set_ylabel("count")
    bottom.legend(fontsize="small")
    for axis in (top, bottom):
        axis.set_xticks(x, labels, rotation=30, ha="right", fontsize="small")
    fig.text(
        0.01,
        0.005,
        f"Groups of fewer than {report['min_group_size']} people are suppressed.",
        fontsize="x-small",
    )
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
