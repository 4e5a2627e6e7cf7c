"""Training data and training: impressions ⨝ outcomes → graded labels → a registered version.

**Training data.** One row per impression: an offer shown in a served recommendation, with the
feature values exactly as the engine computed them when it served (stored by the matcher with
the impression), so training and serving can never drift apart. Outcomes come from referrals
(``request_id``, ``offer_id``, ``status``, ``updated_at``; see ``OUTCOME_COLUMNS``) and are
joined on the served request and offer. The training window selects impressions by the time
they were served; an outcome counts whenever it was recorded.

**Labels** (graded; gains ``2**label - 1`` = 0, 1, 3, 7 in NDCG):

====================  =====  ==============================================================
referral status       label  why
====================  =====  ==============================================================
(no referral)         0      shown, not taken up
proposed              0      referred, but nothing has happened yet: no evidence of success
declined              0      the person said no after all: negative evidence, the floor
rejected_by_provider  0      the offer could not take the person (not eligible, no place):
                             the suggestion did not help, whatever the reason
accepted              1      accepted, not (yet) enrolled
dropped               1      got as far as acceptance or enrolment, then broke off: more
                             interest than an offer never taken up, but it must never earn
                             an enrolment's or completion's gain
enrolled              2      enrolled
completed             3      completed
====================  =====  ==============================================================

Gains cannot go below zero without breaking NDCG, so the negative outcomes share the floor
with "not taken up"; what makes them negative evidence is that they do *not* get the gain
their furthest step would otherwise have earned. When one request and offer have several
referrals, the best label counts. Recent impressions whose referrals are still ``proposed``
pull labels down, so train with ``--until`` some weeks back when outcomes take time to settle;
the card records how many rows were still pending.

**Position** (the rank the offer was shown at) is kept in the frame so that position bias can
be studied (``models.evaluation.position_bias``); it is *not* a feature, since it is unknown
when the ranker scores.
"""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, overload

import joblib
import numpy as np
import pandas as pd
import sklearn
from sqlalchemy.orm import Session

from matcher.history import OUTCOME_GRADES
from models import columns as C

#: Referral status → graded label (see the module docstring for why). One definition, in
#: the matcher, whose outcome history uses the same grades.
LABELS: dict[str, int] = OUTCOME_GRADES
NOT_TAKEN_UP = 0
#: Label from which an outcome counts as a success (recall, MAP, likelihood, calibration).
SUCCESS_FROM = 2

LABEL_DEFINITION: dict[str, Any] = {
    "labels": {"not_taken_up": 0, **LABELS},
    "gain": "2**label - 1",
    "success": f"label >= {SUCCESS_FROM} (enrolled or completed)",
    "several_referrals": "the best label of one request and offer counts",
}

#: What an outcome source returns: one row per referral.
OUTCOME_COLUMNS: tuple[str, ...] = ("request_id", "offer_id", "status", "updated_at")

#: ``(session, since, until) -> outcomes frame``; implemented where referrals live (casework)
#: and handed in by the service, so that models never imports casework.
OutcomeSource = Callable[[Session, datetime | None, datetime | None], pd.DataFrame]


@overload
def _utc(value: None) -> None: ...
@overload
def _utc(value: datetime | str | pd.Timestamp) -> pd.Timestamp: ...
def _utc(value: datetime | str | pd.Timestamp | None) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def in_window(
    times: pd.Series, since: datetime | str | None = None, until: datetime | str | None = None
) -> np.ndarray:
    """Which of ``times`` fall in ``[since, until)``; bounds without a time zone are UTC."""
    times = pd.to_datetime(times, utc=True)
    mask = np.ones(len(times), dtype=bool)
    lo, hi = _utc(since or None), _utc(until or None)
    if lo is not None:
        mask &= (times >= lo).to_numpy()
    if hi is not None:
        mask &= (times < hi).to_numpy()
    return mask


def label_statuses(status: pd.Series) -> np.ndarray:
    """Graded labels for referral statuses; missing (no referral) is 0."""
    unknown = set(status.dropna().unique()) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown referral status(es): {', '.join(sorted(unknown))}")
    return status.map(LABELS).fillna(NOT_TAKEN_UP).to_numpy(dtype=np.int8)


def build_training_frame(
    impressions: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> pd.DataFrame:
    """Join served impressions with referral outcomes and label every row.

    ``impressions`` needs ``request_id, offer_id, person_key, served_at, position`` and the
    feature columns; ``outcomes`` needs ``OUTCOME_COLUMNS``. Rows served in
    ``[since, until)`` are kept. The result adds ``status`` (the best one) and ``label``.
    """
    for name in (C.QUERY, C.ITEM, C.PERSON, C.TIME, C.POSITION):
        if name not in impressions.columns:
            raise KeyError(f"impressions lack the column '{name}'")
    missing = [c for c in OUTCOME_COLUMNS if c not in outcomes.columns]
    if missing:
        raise KeyError(f"outcomes lack the column(s) {', '.join(missing)}")
    frame = impressions.copy()
    frame[C.TIME] = pd.to_datetime(frame[C.TIME], utc=True)
    frame = frame[in_window(frame[C.TIME], since, until)]
    best = outcomes.loc[outcomes["request_id"].notna(), ["request_id", "offer_id", "status"]]
    best = best.assign(_label=label_statuses(best["status"]))
    best = (
        best.sort_values("_label", ascending=False, kind="stable")
        .drop_duplicates(["request_id", "offer_id"])
        .rename(columns={"request_id": C.QUERY, "offer_id": C.ITEM, "status": C.STATUS})
    )
    frame = frame.drop(columns=[c for c in (C.STATUS, C.LABEL) if c in frame.columns])
    frame = frame.merge(best, on=[C.QUERY, C.ITEM], how="left", validate="many_to_one")
    frame[C.TAKEN_UP] = frame["_label"].notna()
    frame[C.LABEL] = frame.pop("_label").fillna(NOT_TAKEN_UP).astype(np.int8)
    return frame.reset_index(drop=True)


# --- splitting: by person and out of time ------------------------------------------------


#: Share of requests (the latest) on the test side of the cutoff.
TEST_SHARE = 0.25
#: Share of people never used for training, whenever they came.
HOLDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class SplitSpec:
    """How a frame was split, kept on the card so the same split can be rebuilt later."""

    cutoff: str  # ISO timestamp: train is served before it, test at or after it
    holdout_fraction: float  # share of people never used for training
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff, "holdout_fraction": self.holdout_fraction, "seed": self.seed}


@dataclass
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    spec: SplitSpec


def held_out_people(persons: pd.Series, holdout_fraction: float, seed: int) -> np.ndarray:
    """True for people the seed keeps out of training: a salted hash, so the choice is
    stable across runs and machines and independent of row order."""
    key = f"lotse-split-{seed}".ljust(16, "0")[:16]
    hashed = pd.util.hash_array(persons.astype(str).to_numpy(dtype=object), hash_key=key)
    return (hashed % np.uint64(10_000)) < np.uint64(round(holdout_fraction * 10_000))


def split_by_person_and_time(
    frame: pd.DataFrame,
    *,
    seed: int = 0,
    test_share: float = TEST_SHARE,
    holdout_fraction: float = HOLDOUT_FRACTION,
    cutoff: str | datetime | None = None,
) -> Split:
    """Train on earlier requests of some people, test on later requests of *other* people.

    The cutoff is the time before which ``1 - test_share`` of the requests were served (or the
    given one). Train: served before the cutoff, people not held out. Test: served at or after
    the cutoff, people who have no training row (held-out people, and people who first came
    after the cutoff). So the test set is both unseen in time and unseen in people, as the
    next real person will be. Held-out people's early rows are used by neither.
    """
    if frame.empty:
        raise ValueError("no impressions to split")
    times = pd.to_datetime(frame[C.TIME], utc=True)
    if cutoff is None:
        per_request = times.groupby(frame[C.QUERY]).min()
        # pandas-stubs declare Series.quantile for numbers only (np.floating); on datetimes
        # pandas returns a Timestamp
        cut: pd.Timestamp = per_request.quantile(1 - test_share)  # type: ignore[misc, assignment]
    else:
        cut = _utc(cutoff)
    holdout = held_out_people(frame[C.PERSON], holdout_fraction, seed)
    early = (times < cut).to_numpy()
    train_mask = early & ~holdout
    train_people = pd.unique(frame.loc[train_mask, C.PERSON])
    test_mask = ~early & ~frame[C.PERSON].isin(train_people).to_numpy()
    spec = SplitSpec(
        cutoff=pd.Timestamp(cut).isoformat(), holdout_fraction=holdout_fraction, seed=seed
    )
    return Split(
        train=frame.loc[train_mask].reset_index(drop=True),
        test=frame.loc[test_mask].reset_index(drop=True),
        spec=spec,
    )


#: Cross-fitting for the promotion gate: folds by person, and up to how many rows it pays
#: (above, the held-out split alone is big enough, and the extra fits cost minutes).
CROSSFIT_FOLDS = 5
CROSSFIT_MAX_ROWS = 200_000


def person_folds(persons: pd.Series, folds: int, seed: int) -> np.ndarray:
    """The fold (0 … ``folds`` − 1) of each row's person: a salted hash, stable across runs,
    so a person's rows are always in one fold."""
    key = f"lotse-fold-{seed}".ljust(16, "0")[:16]
    hashed = pd.util.hash_array(persons.astype(str).to_numpy(dtype=object), hash_key=key)
    return (hashed % np.uint64(folds)).astype(np.int64)


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit key per (request, offer): how stored per-row scores find their rows again."""
    text = (frame[C.QUERY].astype(str) + "|" + frame[C.ITEM].astype(str)).to_numpy(dtype=object)
    return pd.util.hash_array(text, hash_key="lotse-row-keys00")


def rebuild_split(frame: pd.DataFrame, spec: dict[str, Any]) -> Split:
    """The split a card describes, rebuilt on ``frame`` (same cutoff, people and seed)."""
    return split_by_person_and_time(
        frame,
        seed=int(spec["seed"]),
        holdout_fraction=float(spec["holdout_fraction"]),
        cutoff=spec["cutoff"],
    )


# --- what a card records about its making -------------------------------------------------


def code_revision() -> str:
    """The git commit the code came from, or ``LOTSE_CODE_REVISION`` when set (deployments
    without a checkout). Read with ``rev-parse`` only: commands that check for uncommitted
    changes may rewrite the index, and training must not touch the checkout."""
    from lotse.settings import current

    if current().code_revision:
        return current().code_revision
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


def row_counts(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, requests, people and label counts of a frame (for the card)."""
    statuses = frame[C.STATUS].fillna("not_taken_up") if C.STATUS in frame else pd.Series()
    return {
        "rows": len(frame),
        "requests": int(frame[C.QUERY].nunique()),
        "people": int(frame[C.PERSON].nunique()),
        "labels": {str(k): int(v) for k, v in frame[C.LABEL].value_counts().sort_index().items()},
        "statuses": {str(k): int(v) for k, v in statuses.value_counts().items()},
    }


def window_of(frame: pd.DataFrame) -> dict[str, str | None]:
    if frame.empty:
        return {"first_served": None, "last_served": None}
    times = pd.to_datetime(frame[C.TIME], utc=True)
    return {"first_served": times.min().isoformat(), "last_served": times.max().isoformat()}


def load_impressions(
    session: Session,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    *,
    schema_hash: str | None = None,
    also: Sequence[str] = (),
) -> pd.DataFrame:
    """The logged impressions of served results in ``[since, until)``, one row each, with
    the served feature values as columns and the request's pseudonymous segments.

    Waitlist impressions are left out: they are full offers shown apart, whose positions
    belong to another list. With ``schema_hash``, only requests served under that feature
    schema (or one of the schemas in ``also``: earlier ones it only added features to) are
    read, since other schemas' columns mean something else. Requests and their
    impressions are read apart and joined here, so each request's context is parsed once.
    """
    from sqlalchemy import ColumnElement, Text, cast, select

    from matcher.tables import Impression, RecommendationRequest

    R = RecommendationRequest
    wanted: list[ColumnElement[bool]] = [R.person_key.is_not(None)]
    lo, hi = _utc(since), _utc(until)
    if lo is not None:
        wanted.append(R.served_at >= lo.to_pydatetime())
    if hi is not None:
        wanted.append(R.served_at < hi.to_pydatetime())
    if schema_hash is not None:
        wanted.append(R.feature_schema.in_([schema_hash, *also]))
    requests = session.execute(
        select(R.request_id, R.person_key, R.served_at, R.model_version, R.context).where(*wanted)
    ).all()
    shown = session.execute(
        select(
            Impression.request_id,
            Impression.offer_id,
            Impression.position,
            Impression.need,
            Impression.propensity,
            # as text, parsed below in one go: a million json.loads calls cost more than the
            # rest of reading together
            cast(Impression.features, Text),
        )
        .join(R, R.request_id == Impression.request_id)
        .where(Impression.shown_in == "results", *wanted)
    ).all()
    return impressions_frame_of(requests, shown)


def impressions_frame_of(requests: Sequence[Any], shown: Sequence[Any]) -> pd.DataFrame:
    """Request rows ``(request_id, person_key, served_at, model_version, context)`` and
    impression rows ``(request_id, offer_id, position, need, propensity, features as JSON
    text)`` → the frame (feature columns as float64, NaN where the engine served None;
    propensity 1 where none was recorded; ``policy`` the request's exploration record)."""
    from catalog import taxonomy

    columns = [
        C.QUERY, C.ITEM, C.PERSON, C.TIME, C.POSITION, C.SERVED_BY, C.NEED, C.NEED_CODE,
        C.PROPENSITY, C.POLICY,
    ]  # fmt: skip
    if not shown:
        return pd.DataFrame(columns=columns + list(C.PERSON_SEGMENTS))
    request_id, offer_id, position, need, propensity, features = zip(*shown, strict=True)
    parsed = json.loads("[" + ",".join(features) + "]")
    frame = pd.DataFrame.from_records(parsed).astype(np.float64)
    frame[C.QUERY] = request_id
    frame[C.ITEM] = offer_id
    frame[C.POSITION] = np.asarray(position, dtype=np.int32)
    parents = {n: taxonomy.parent(n) if taxonomy.is_known(n) else n for n in set(need)}
    frame[C.NEED] = [parents[n] for n in need]
    frame[C.NEED_CODE] = list(need)
    frame[C.PROPENSITY] = np.array([1.0 if p is None else p for p in propensity], dtype=np.float64)
    rid, person, served, version, context = zip(*requests, strict=True)
    ctx = pd.DataFrame.from_records(list(context))
    per_request = pd.DataFrame(
        {
            C.QUERY: rid,
            C.PERSON: person,
            C.TIME: pd.to_datetime(list(served), utc=True),
            C.SERVED_BY: version,
            C.POLICY: [c.get("policy") for c in context],
            C.ARM: [c.get("arm") for c in context],
            **{name: (ctx[name].to_numpy() if name in ctx else None) for name in C.PERSON_SEGMENTS},
        }
    )
    return frame.merge(per_request, on=C.QUERY, how="inner", validate="many_to_one")
