"""Monitoring and evaluation: aggregates of agreements and referrals, per municipality,
counselling centre or need category, per calendar quarter — and nothing finer.

What counts:

- agreements: only binding ones (signed or closed; anonymised ones included, so erasure does
  not change totals), by the date both sides signed; goals by their outcome at closing;
  obstacles named in their reviews — each obstacle once per person and group, however many
  reviews named it;
- referrals: the funnel proposed → accepted → enrolled → completed counts each referral at
  every stage it *reached* (from its status events, so a referral enrolled straight from
  ``proposed`` counts as accepted too), by the date it was made; days from referral to its
  first enrolment; reasons of declined, rejected and dropped referrals.

Periods: a report covers one calendar quarter (``2026-Q3``) that is over; the default is the
latest. Free date windows are not offered: two windows a day apart would differ by exactly
the agreements of that day; a quarter still running would do the same from one day to the
next; and months next to their quarter would give each other away by subtraction.

Groups: ``municipality`` is the agreement's own municipality (given by the counsellor, or the
place its recommendations were made for) and, for referrals, the offer's municipality — each
mapped to the official name of its municipality (``matcher.places.municipality_name``), never
shown as typed; ``centre`` is the owning centre; ``category`` is the parent need category
(``language``, ``childcare``, …) of a goal, or of the offer a referral went to.

Disclosure control, so that no number says something about fewer than ``MIN_GROUP_SIZE``
people:

1. Small groups lose their names: a group of fewer than ``MIN_GROUP_SIZE`` people, and every
   municipality that names no known place, is counted in one row ``OTHER``, which names none.
2. Each number (a *cell*) is shown only when 0 or at least ``MIN_GROUP_SIZE`` distinct people
   stand behind it — behind ``goals_reached`` the people with a reached goal, behind an
   obstacle the people who named it — not the group's people as a whole; a row whose
   ``people`` is withheld is withheld whole.
3. Withheld cells must not be recoverable by subtraction (secondary suppression): the total
   minus the shown groups of a column, ``goals`` minus its shown parts (reached, partly, not,
   open), and one funnel stage minus the next would each reveal them, so further cells are
   withheld (the smallest first) until every such remainder covers at least two withheld
   cells and ``MIN_GROUP_SIZE`` people, or is itself withheld.

Withheld numbers are ``None`` (empty in CSV, no bar in the chart) and named in the row's
``suppressed_cells``; ``suppressed`` is true when the whole row is withheld.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, get_args

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.lifecycle import STATUS_LABELS
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
from lotse.i18n import N_, TranslatorLike, as_translator
from matcher.places import municipality_or_none

GroupBy = Literal["municipality", "centre", "category"]
GROUPINGS: tuple[str, ...] = get_args(GroupBy)
MIN_GROUP_SIZE = 5
TOP_N = 5
UNKNOWN = "unknown"
#: The one row that holds small groups and unknown municipalities, without their names.
OTHER = "(other)"
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
#: The parts ``goals`` is the sum of.
GOAL_PARTS: tuple[str, ...] = (
    "goals_reached",
    "goals_partly_reached",
    "goals_not_reached",
    "goals_open",
)
STAGES: tuple[str, ...] = tuple(f"referrals_{s}" for s in FUNNEL)
#: Counts: cells that add up over groups (every cell but the median).
COUNTS: tuple[str, ...] = tuple(n for n in NUMBERS[:-3])
OBSTACLE, REASON = "obstacle:", "reason:"
ANALYSTS = ("analyst", "admin")
PERIOD_FORMAT = "YYYY-Qn, e.g. 2026-Q3"
_PERIOD = re.compile(r"^\s*(\d{4})-?[Qq]([1-4])\s*$")


# --- periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar quarter: agreements by signing date, referrals by creation date, within
    ``start`` … ``end`` (both included)."""

    year: int
    quarter: int

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.quarter}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        return self.next().start - timedelta(days=1)

    def next(self) -> Period:
        return Period(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    @classmethod
    def containing(cls, day: date) -> Period:
        return cls(day.year, (day.month - 1) // 3 + 1)


def latest_period(today: date | None = None) -> Period:
    """The latest quarter that is over."""
    return Period.containing(today or utcnow().date()).previous()


def recent_periods(today: date | None = None, n: int = 8) -> list[str]:
    """The ``n`` latest quarters that are over, newest first (for a choice on a page)."""
    out, period = [], latest_period(today)
    for _ in range(n):
        out.append(period.label)
        period = period.previous()
    return out


def parse_period(text: str | None, today: date | None = None) -> Period:
    """The quarter ``text`` names (``2026-Q3``; default: the latest that is over);
    ``InvalidInput`` on ``period`` for another form or a quarter not over yet."""
    if text is None or not text.strip():
        return latest_period(today)
    m = _PERIOD.match(text)
    if not m:
        raise InvalidInput(
            [FieldError("period", f"a calendar quarter, {PERIOD_FORMAT} (reports cover quarters)")]
        )
    period = Period(int(m.group(1)), int(m.group(2)))
    latest = latest_period(today)
    if (period.year, period.quarter) > (latest.year, latest.quarter):
        raise InvalidInput(
            [
                FieldError(
                    "period",
                    f"{period.label} is not over yet; the latest quarter to report on is "
                    f"{latest.label}",
                )
            ]
        )
    return period


def _parent(code: str | None) -> str:
    if code and taxonomy.is_known(code):
        return taxonomy.parent(code)
    return code or UNKNOWN


# --- loading -------------------------------------------------------------------------------


def _agreements(session: Session, period: Period) -> pd.DataFrame:
    stmt = select(
        Agreement.id,
        Agreement.centre_id,
        Agreement.person_key,
        Agreement.municipality,
        Agreement.signed_on,
    ).where(
        Agreement.status.in_(("signed", "closed")),
        Agreement.signed_on >= period.start,
        Agreement.signed_on <= period.end,
    )
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
    step_goal: dict[int, int | None] = dict(
        session.execute(
            select(AgreementStep.id, AgreementStep.goal).where(AgreementStep.agreement_id.in_(ids))
        )
        .tuples()
        .all()
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


def _referrals(session: Session, period: Period) -> pd.DataFrame:
    stmt = (
        select(
            Referral.id,
            Referral.centre_id,
            Referral.person_key,
            Referral.created_at,
            Offer.municipality,
            Offer.category,
        )
        .join(Offer, Offer.id == Referral.offer_id)
        .where(
            Referral.created_at >= datetime.combine(period.start, time.min),
            Referral.created_at < datetime.combine(period.next().start, time.min),
        )
    )
    cols = ["referral_id", "centre", "person_key", "created_at", "municipality", "category"]
    frame = pd.DataFrame(session.execute(stmt).all(), columns=cols)
    frame["category"] = [_parent(c) for c in frame["category"]]
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


# --- grouping ------------------------------------------------------------------------------


def _municipalities(values: Iterable[str]) -> dict[str, str]:
    """Each distinct stored municipality → its official name, or ``OTHER``."""
    return {v: municipality_or_none(v) or OTHER for v in values}


@dataclass
class Facts:
    """The period's rows, each with the ``group`` it counts in and the person behind it.

    ``agreements`` has one row per agreement and group (by category, an agreement counts in
    each of its goals' categories); ``obstacles`` one row per person, code and group."""

    agreements: pd.DataFrame
    goals: pd.DataFrame
    obstacles: pd.DataFrame
    referrals: pd.DataFrame
    reasons: pd.DataFrame

    def frames(self) -> tuple[pd.DataFrame, ...]:
        return (self.agreements, self.goals, self.obstacles, self.referrals, self.reasons)


def _grouped(
    by: str,
    agreements: pd.DataFrame,
    goals: pd.DataFrame,
    obstacles: pd.DataFrame,
    referrals: pd.DataFrame,
    reasons: pd.DataFrame,
) -> Facts:
    """The rows with their ``group``: municipalities by official name, small groups and
    unknown places merged into ``OTHER``."""
    agreements = agreements.copy()
    referrals = referrals.copy()
    if by == "municipality":
        names = _municipalities(set(agreements["municipality"]) | set(referrals["municipality"]))
        agreements["group"] = agreements["municipality"].map(names)
        referrals["group"] = referrals["municipality"].map(names)
    elif by == "centre":
        agreements["group"] = agreements["centre"]
        referrals["group"] = referrals["centre"]
    else:
        referrals["group"] = referrals["category"]
    keep = ["agreement_id", "person_key"]
    if by == "category":
        goals = goals.merge(agreements[keep]).assign(group=lambda f: f["category"])
        obstacles = obstacles.merge(agreements[keep]).assign(group=lambda f: f["category"])
        agreements = goals[[*keep, "group"]]
    else:
        goals = goals.merge(agreements[[*keep, "group"]])
        obstacles = obstacles.drop(columns="category").merge(agreements[[*keep, "group"]])
    reasons = reasons.merge(referrals[["referral_id", "person_key", "group"]])
    facts = Facts(agreements, goals, obstacles, referrals, reasons)
    # Small groups lose their names: their people counted together, in OTHER.
    people: dict[str, set[str]] = {}
    for frame in (facts.agreements, facts.referrals):
        for g, person in zip(frame["group"], frame["person_key"], strict=True):
            people.setdefault(g, set()).add(person)
    small = {g for g, who in people.items() if len(who) < MIN_GROUP_SIZE} | {UNKNOWN}
    for frame in facts.frames():
        if len(frame):
            frame["group"] = frame["group"].where(~frame["group"].isin(small), OTHER)
    facts.agreements = facts.agreements.drop_duplicates(["agreement_id", "group"])
    facts.obstacles = facts.obstacles.drop_duplicates(["person_key", "code", "group"])
    return facts


# --- cells ---------------------------------------------------------------------------------


@dataclass
class Cell:
    """One number and the people behind it; ``units`` (referral, person) for funnel stages."""

    value: float | None
    people: frozenset[str]
    units: frozenset[tuple[str, str]] = frozenset()
    hidden: bool = False


@dataclass
class Row:
    group: str
    cells: dict[str, Cell] = field(default_factory=dict)


def _count(frame: pd.DataFrame, unit: str) -> Cell:
    return Cell(int(frame[unit].nunique()), frozenset(frame["person_key"]))


def _cells(
    agreements: pd.DataFrame,
    goals: pd.DataFrame,
    obstacles: pd.DataFrame,
    referrals: pd.DataFrame,
    reasons: pd.DataFrame,
) -> dict[str, Cell]:
    """The cells of one group (or of all): ``NUMBERS`` but the lists, then one cell per
    obstacle code (its people) and per rejection reason (its referrals)."""
    outcome = goals["outcome"]
    cells = {
        "people": Cell(
            None, frozenset(agreements["person_key"]) | frozenset(referrals["person_key"])
        ),
        "agreements_signed": _count(agreements, "agreement_id"),
        "goals": Cell(len(goals), frozenset(goals["person_key"])),
        "goals_reached": _count_rows(goals[outcome == "reached"]),
        "goals_partly_reached": _count_rows(goals[outcome == "partly_reached"]),
        "goals_not_reached": _count_rows(goals[outcome == "not_reached"]),
        "goals_open": _count_rows(goals[outcome.isna()]),
    }
    cells["people"].value = len(cells["people"].people)
    for stage, name in zip(FUNNEL, STAGES, strict=True):
        reached = referrals[referrals[stage].astype(bool)] if len(referrals) else referrals
        units = frozenset(zip(reached["referral_id"], reached["person_key"], strict=True))
        cells[name] = Cell(len(reached), frozenset(reached["person_key"]), units)
    days = referrals.dropna(subset=["days_to_enrolment"]) if len(referrals) else referrals
    cells["median_days_to_enrolment"] = Cell(
        round(float(days["days_to_enrolment"].median()), 1) if len(days) else None,
        frozenset(days["person_key"]),
    )
    for code, rows in obstacles.groupby("code"):
        cells[OBSTACLE + str(code)] = Cell(len(rows), frozenset(rows["person_key"]))
    for (status, reason), rows in reasons.groupby(["to_status", "reason"]):
        cells[f"{REASON}{status}|{reason}"] = _count_rows(rows)
    return cells


def _count_rows(frame: pd.DataFrame) -> Cell:
    return Cell(len(frame), frozenset(frame["person_key"]))


# --- suppression ---------------------------------------------------------------------------


def _hide(cell: Cell) -> bool:
    if cell.hidden:
        return False
    cell.hidden = True
    return True


def _enough(cells: list[Cell]) -> bool:
    """Whether withheld ``cells`` can be summed up by subtraction without saying something
    about fewer than ``MIN_GROUP_SIZE`` people: at least two cells, of enough people
    together."""
    return len(cells) >= 2 and len(frozenset().union(*(c.people for c in cells))) >= MIN_GROUP_SIZE


def _smallest(cells: list[Cell]) -> Cell | None:
    shown = [c for c in cells if not c.hidden and c.people]
    return min(shown, key=lambda c: (len(c.people), c.value or 0)) if shown else None


def _protect_sum(whole: Cell, parts: list[Cell], *, follow: bool = False) -> bool:
    """Secondary suppression for ``whole`` = sum of ``parts``; True when it withheld one.
    ``follow``: the parts of a withheld whole are withheld too (a part shown as 0 would say
    something about the few people behind the whole)."""
    if follow and whole.hidden:
        return any([_hide(c) for c in parts])
    hidden = [c for c in parts if c.hidden]
    # withheld zeros (nobody behind them) leave nothing to recover
    if whole.hidden or not any(c.people for c in hidden) or _enough(hidden):
        return False
    extra = _smallest(parts)
    return _hide(extra if extra is not None else whole)


def _protect_chain(row: Row) -> bool:
    """Funnel stages are nested: a shown stage minus the next shown one (the referrals that
    went no further) must be 0 or about at least ``MIN_GROUP_SIZE`` people; the stages after
    a withheld one are withheld (they are about fewer people still)."""
    previous: Cell | None = None
    for i, name in enumerate(STAGES):
        cell = row.cells[name]
        if cell.hidden:
            return any([_hide(row.cells[later]) for later in STAGES[i + 1 :]])
        if previous is not None:
            gone = {person for _referral, person in previous.units - cell.units}
            if 0 < len(gone) < MIN_GROUP_SIZE:
                return _hide(cell)
        previous = cell
    return False


def _withhold_row(row: Row) -> None:
    for cell in row.cells.values():
        cell.hidden = True


def _apply_suppression(rows: list[Row], total: Row) -> None:
    """Primary and secondary suppression (see the module docstring), in place."""
    everything = [*rows, total]
    for row in everything:
        if len(row.cells["people"].people) < MIN_GROUP_SIZE:
            _withhold_row(row)
        for cell in row.cells.values():
            if 0 < len(cell.people) < MIN_GROUP_SIZE:
                cell.hidden = True
    columns = [*COUNTS, *sorted({k for r in everything for k in r.cells if ":" in k})]
    changed = True
    while changed:
        changed = False
        for row in everything:
            cells = row.cells
            if cells["agreements_signed"].hidden:
                changed |= _hide(cells["goals"])
            changed |= _protect_sum(cells["goals"], [cells[p] for p in GOAL_PARTS], follow=True)
            changed |= _protect_chain(row)
        for name in columns:
            for row in everything:  # a row without the item has it as a shown 0
                if name not in row.cells:
                    row.cells[name] = Cell(0, frozenset(), hidden=row.cells["people"].hidden)
            changed |= _protect_sum(total.cells[name], [r.cells[name] for r in rows])


def _top(cells: dict[str, Cell], prefix: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    items = [
        (k[len(prefix) :], c.value)
        for k, c in cells.items()
        if k.startswith(prefix) and not c.hidden and c.value
    ]
    items.sort(key=lambda kv: (-(kv[1] or 0), kv[0]))
    return [
        {**dict(zip(keys, k.split("|"), strict=True)), "count": int(v or 0)}
        for k, v in items[:TOP_N]
    ]


def _published(row: Row) -> dict[str, Any]:
    cells = row.cells
    suppressed = all(cells[n].hidden for n in COUNTS)
    out: dict[str, Any] = {"group": row.group, "suppressed": suppressed}
    for name in NUMBERS[:-2]:
        cell = cells[name]
        out[name] = None if cell.hidden else cell.value
    out["top_obstacles"] = None if suppressed else _top(cells, OBSTACLE, ("code",))
    out["top_rejection_reasons"] = None if suppressed else _top(cells, REASON, ("status", "reason"))
    out["suppressed_cells"] = [n for n in NUMBERS[:-2] if cells[n].hidden]
    return out


def monitoring_report(
    session: Session,
    actor: Principal,
    by: str = "municipality",
    *,
    period: str | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """The monitoring report of one calendar quarter (``period``, ``2026-Q3``; default the
    latest that is over): one row per group (``by``), at most one ``OTHER`` row, and a total,
    each with ``people``, ``agreements_signed``, goal outcomes, the referral funnel,
    ``median_days_to_enrolment`` (days, ≥ 0), the most frequent obstacles (people who named
    them) and rejection reasons — each number ``None`` where it is withheld (see the module
    docstring)."""
    if actor.role not in ANALYSTS:
        raise Forbidden("reports are for analysts and admin")
    if by not in GROUPINGS:
        raise InvalidInput([FieldError("by", "one of " + ", ".join(GROUPINGS))])
    quarter = parse_period(period, today)
    agreements = _agreements(session, quarter)
    ids = list(agreements["agreement_id"])
    goals = _goals(session, ids)
    obstacles = _obstacles(session, ids, goals)
    referrals = _referrals(session, quarter)
    events = _events(session, list(referrals["referral_id"]))
    referrals = _referral_outcomes(referrals, events)
    reasons = events[events["to_status"].isin(REASON_STATUSES) & events["reason"].notna()]

    facts = _grouped(by, agreements, goals, obstacles, referrals, reasons)
    names = sorted(
        set(facts.agreements["group"]) | set(facts.referrals["group"]),
        key=lambda g: (g == OTHER, g),
    )
    rows = [Row(name, _cells(*(f[f["group"] == name] for f in facts.frames()))) for name in names]
    everyone = goals.merge(agreements[["agreement_id", "person_key"]])
    named = obstacles.merge(agreements[["agreement_id", "person_key"]])
    total = Row(
        "total",
        _cells(
            agreements,
            everyone,
            named.drop_duplicates(["person_key", "code"]),
            referrals,
            reasons.merge(referrals[["referral_id", "person_key"]]),
        ),
    )
    _apply_suppression(rows, total)
    return {
        "by": by,
        "period": quarter.label,
        "period_start": quarter.start,
        "period_end": quarter.end,
        "generated_at": utcnow(),
        "min_group_size": MIN_GROUP_SIZE,
        "groups": [_published(r) for r in rows],
        "total": _published(total),
    }


# --- formats -------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(
            item
            if isinstance(item, str)
            else ":".join(str(v) for k, v in item.items() if k != "count") + f":{item['count']}"
            for item in value
        )
    if value is None:
        return ""
    return str(value)


def report_csv(report: dict[str, Any]) -> str:
    """The report as CSV: one row per group, then the total; withheld numbers are empty
    cells, named in the last column (``;``-separated)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "suppressed_cells"])
    for row in [*report["groups"], report["total"]]:
        cells = [_cell(row.get(c)) for c in CSV_COLUMNS]
        writer.writerow([neutralise(c) for c in [*cells, _cell(row.get("suppressed_cells"))]])
    return buffer.getvalue()


def chart_labels(report: dict[str, Any]) -> list[str]:
    """The chart's group labels: names of groups of ``MIN_GROUP_SIZE`` people or more,
    ``OTHER`` for the rest; "(suppressed)" where every number is withheld."""
    return [r["group"] + (" (suppressed)" if r["suppressed"] else "") for r in report["groups"]]


#: What the report groups by, as the chart's captions name it.
GROUPING_LABELS: dict[str, str] = {
    "municipality": N_("municipality"),
    "centre": N_("counselling centre"),
    "category": N_("need category"),
}


def report_chart(report: dict[str, Any], lang: TranslatorLike = "en") -> bytes:
    """The report as a PNG: the referral funnel per group, and signed agreements with goals
    reached or partly reached per group, captions in ``lang``. Withheld numbers get no bar;
    a report without any group is a note, not empty axes.

    Drawn on a ``Figure`` with the Agg canvas directly, never through ``pyplot``, so no
    global backend or figure state changes in the serving process.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = as_translator(lang)
    rows = report["groups"]
    labels = chart_labels(report)
    by = t.label(GROUPING_LABELS, report["by"])
    x = np.arange(len(rows))
    if not rows:
        fig = Figure(figsize=(6.0, 2.0), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.axis("off")
        empty = t.gettext("No referrals or agreements in %(period)s.", period=report["period"])
        ax.text(0.5, 0.5, empty, ha="center", va="center", fontsize=13)
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    fig = Figure(figsize=(max(6.0, 1.2 * len(rows) + 2), 7.5), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1)
    width = 0.8 / len(FUNNEL)
    for i, stage in enumerate(FUNNEL):
        values = [r[f"referrals_{stage}"] or 0 for r in rows]
        top.bar(x + (i - 1.5) * width, values, width, label=t.label(STATUS_LABELS, stage))
    top.set_title(
        t.gettext("Referral funnel by %(by)s, %(period)s", by=by, period=report["period"])
    )
    top.set_ylabel(t.gettext("referrals"))
    top.legend(fontsize="small")
    series = (
        ("agreements_signed", t.gettext("agreements signed")),
        ("goals_reached", t.gettext("goals reached")),
        ("goals_partly_reached", t.gettext("goals partly reached")),
    )
    width = 0.8 / len(series)
    for i, (name, label) in enumerate(series):
        values = [r[name] or 0 for r in rows]
        bottom.bar(x + (i - 1) * width, values, width, label=label)
    bottom.set_title(
        t.gettext("Agreements and goals by %(by)s, %(period)s", by=by, period=report["period"])
    )
    bottom.set_ylabel(t.gettext("count"))
    bottom.legend(fontsize="small")
    for axis in (top, bottom):
        axis.set_xticks(x, labels, rotation=30, ha="right", fontsize="small")
    fig.text(
        0.01,
        0.005,
        t.gettext(
            "Numbers about fewer than %(n)s people are withheld (no bar); "
            "small groups are counted in %(other)s.",
            n=report["min_group_size"],
            other=OTHER,
        ),
        fontsize="x-small",
    )
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
