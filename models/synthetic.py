"""Synthetic training frames of any size, for benchmarks and tests of the machinery.

These are numbers with the right shape (columns, label mix, people, time, segments), not a
model of behaviour: ``models.simulation`` is the realistic one and goes through the engine.
A synthetic frame has a known signal (a fixed linear utility of the features plus one
interaction), so a learner that works must beat random order on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from models import columns as C

_LEVELS = np.array(["none", "A1", "A2", "B1", "B2", "C1"])
_GENDERS = np.array(["female", "male", "diverse", "unspecified"])
_STATUSES = np.array(["recognised_refugee", "asylum_seeker", "skilled_worker", "eu_citizen"])
_NEEDS = np.array(["language", "childcare", "work", "recognition", "counselling"])
_REFERRAL = {1: "accepted", 2: "enrolled", 3: "completed"}


def synthetic_frame(
    n_impressions: int,
    feature_names: Sequence[str],
    *,
    per_request: int = 10,
    n_offers: int = 2000,
    days: int = 365,
    seed: int = 0,
    missing: Sequence[str] = ("hours_per_week", "target_level", "level_gap"),
    categorical: Sequence[str] = ("category", "first_language"),
) -> pd.DataFrame:
    """A labelled impressions frame with ``n_impressions`` rows and the given features.

    Features are missing only where the engine's may be (``missing``: for about half the
    rows); ``categorical`` ones are whole category codes 0–19.
    """
    rng = np.random.default_rng(seed)
    n_req = max(1, n_impressions // per_request)
    n = n_req * per_request
    d = len(feature_names)
    X = rng.normal(size=(n, d)).astype(np.float64)
    for j, name in enumerate(feature_names):
        if name in categorical:
            X[:, j] = rng.integers(0, 20, n)
        if name in missing:
            X[rng.random(n) < 0.5, j] = np.nan
    weights = rng.normal(0, 1, d) * (rng.random(d) < 0.6)
    # category codes (0–19) enter the utility standardised, like every other column: raw,
    # a weight on one of them swamped the rest and the label mix (the share taken up, and
    # with it the outcome stage's rows) swung with the number of features
    Z = np.nan_to_num(X)
    for j, name in enumerate(feature_names):
        if name in categorical:
            Z[:, j] = (Z[:, j] - 9.5) / 5.77
    utility = Z @ weights / max(1.0, np.sqrt((weights**2).sum()))
    if d >= 2:
        utility += 0.5 * np.nan_to_num(X[:, 0] * X[:, 1])
    latent = utility + rng.logistic(0, 0.6, n) - 2.2
    label = np.digitize(latent, [0.0, 0.6, 1.2]).astype(np.int8)
    n_people = max(1, int(n_req * 0.8))
    person = rng.integers(0, n_people, n_req)
    base = pd.Timestamp("2026-01-01", tz="UTC")
    served = base + pd.to_timedelta(np.sort(rng.random(n_req)) * days, unit="D")
    frame = pd.DataFrame(X, columns=list(feature_names))
    frame[C.QUERY] = np.repeat([f"r{i}" for i in range(n_req)], per_request)
    frame[C.ITEM] = rng.integers(0, n_offers, n).astype(str)
    frame[C.PERSON] = np.repeat(person, per_request).astype(str)
    frame[C.TIME] = np.repeat(served, per_request)
    frame[C.POSITION] = np.tile(np.arange(1, per_request + 1), n_req)
    frame[C.LABEL] = label
    frame[C.STATUS] = pd.Series(label).map(_REFERRAL).to_numpy()
    frame[C.TAKEN_UP] = label > 0
    for col, values in (
        ("german_level", _LEVELS),
        ("gender", _GENDERS),
        ("residence_status", _STATUSES),
    ):
        frame[col] = np.repeat(values[person % len(values)], per_request)
    frame["municipality"] = np.repeat([f"Ort {p % 40}" for p in person], per_request)
    frame[C.NEED] = _NEEDS[rng.integers(0, len(_NEEDS), n)]
    return frame


def outcomes_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The referral outcomes a synthetic frame's labels stand for (``OUTCOME_COLUMNS``)."""
    taken = frame[frame[C.STATUS].notna()]
    return pd.DataFrame(
        {
            "request_id": taken[C.QUERY].to_numpy(),
            "offer_id": taken[C.ITEM].to_numpy(),
            "status": taken[C.STATUS].to_numpy(),
            "updated_at": taken[C.TIME].to_numpy(),
        }
    )
