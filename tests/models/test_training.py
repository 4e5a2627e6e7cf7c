"""Training data: labels from referral outcomes, the join, the window, and the split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import columns as C
from models.synthetic import synthetic_frame
from models.training import (
    LABELS,
    build_training_frame,
    held_out_people,
    label_statuses,
    rebuild_split,
    split_by_person_and_time,
)


def _impressions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.QUERY: ["r1", "r1", "r1", "r2", "r2", "r3"],
            C.ITEM: ["a", "b", "c", "a", "d", "a"],
            C.PERSON: ["p1", "p1", "p1", "p2", "p2", "p3"],
            C.TIME: pd.to_datetime(
                [
                    "2026-03-01",
                    "2026-03-01",
                    "2026-03-01",
                    "2026-04-01",
                    "2026-04-01",
                    "2026-06-01",
                ],
                utc=True,
            ),
            C.POSITION: [1, 2, 3, 1, 2, 1],
            "f1": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )


def test_every_status_has_the_documented_label():
    assert LABELS == {
        "proposed": 0,
        "declined": 0,
        "rejected_by_provider": 0,
        "accepted": 1,
        "dropped": 1,
        "enrolled": 2,
        "completed": 3,
    }
    labels = label_statuses(pd.Series(["completed", None, "declined", "enrolled"]))
    assert labels.tolist() == [3, 0, 0, 2]
    with pytest.raises(ValueError, match="unknown referral status"):
        label_statuses(pd.Series(["teleported"]))


def test_join_labels_shown_offers_and_keeps_the_best_of_several_referrals():
    outcomes = pd.DataFrame(
        {
            "request_id": ["r1", "r1", "r1", "r2", None, "r9"],
            "offer_id": ["a", "a", "c", "d", "b", "a"],
            "status": ["declined", "enrolled", "dropped", "completed", "completed", "completed"],
            "updated_at": pd.Timestamp("2026-07-01", tz="UTC"),
        }
    )
    frame = build_training_frame(_impressions(), outcomes)
    got = dict(zip(zip(frame[C.QUERY], frame[C.ITEM], strict=True), frame[C.LABEL], strict=True))
    assert got == {
        ("r1", "a"): 2,  # enrolled beats the earlier declined referral
        ("r1", "b"): 0,  # a referral without a request cannot be attributed
        ("r1", "c"): 1,
        ("r2", "a"): 0,
        ("r2", "d"): 3,
        ("r3", "a"): 0,  # r9 was never served
    }
    assert len(frame) == 6 and frame["f1"].tolist() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]


def test_window_selects_impressions_by_serving_time():
    empty = pd.DataFrame(columns=["request_id", "offer_id", "status", "updated_at"])
    frame = build_training_frame(_impressions(), empty, since="2026-03-15", until="2026-06-01")
    assert frame[C.QUERY].unique().tolist() == ["r2"]


def test_split_keeps_people_and_time_apart():
    frame = synthetic_frame(20_000, ["f1", "f2"], seed=1)
    split = split_by_person_and_time(frame, seed=3, test_share=0.3, holdout_fraction=0.2)
    assert split.train[C.TIME].max() < split.test[C.TIME].min()
    assert not set(split.train[C.PERSON]) & set(split.test[C.PERSON])
    assert len(split.test) > 0.1 * len(frame) and len(split.train) > 0.5 * len(frame)
    # whole requests stay on one side
    assert not set(split.train[C.QUERY]) & set(split.test[C.QUERY])
    again = rebuild_split(frame.sample(frac=1.0, random_state=0), split.spec.as_dict())
    assert set(again.test[C.QUERY]) == set(split.test[C.QUERY])


def test_held_out_people_are_stable_and_about_the_asked_share():
    persons = pd.Series([f"p{i}" for i in range(20_000)])
    a = held_out_people(persons, 0.2, seed=5)
    assert a.tolist() == held_out_people(persons[::-1], 0.2, seed=5)[::-1].tolist()
    assert 0.18 < a.mean() < 0.22
    assert (a != held_out_people(persons, 0.2, seed=6)).any()
    assert np.isclose(held_out_people(persons, 0.0, seed=5).mean(), 0.0)


def test_the_synthetic_label_mix_does_not_swing_with_the_number_of_features():
    """The training benchmark's frame: the share taken up (and with it the rows the outcome
    stage fits on) must not depend on how many features the engine has; a weight on a raw
    category code once made it 8 % with 37 features and 21 % with 40."""
    from matcher.features import FEATURE_NAMES

    shares = [
        float(synthetic_frame(20_000, FEATURE_NAMES[:d], seed=seed)[C.TAKEN_UP].mean())
        for d in (12, 37, len(FEATURE_NAMES))
        for seed in (0, 1, 2)
    ]
    assert all(0.04 < s < 0.13 for s in shares), shares
