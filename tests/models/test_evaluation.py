"""Evaluation on a synthetic frame: baselines beside the model, segments, report files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models import columns as C
from models.evaluation import (
    build_report,
    position_bias,
    score_models,
    segment_metrics,
    write_report,
)
from models.ranker import baselines, gradient_boosted_scorer
from models.synthetic import synthetic_frame
from models.training import split_by_person_and_time

FEATURES = tuple(f"f{i}" for i in range(6))


def _rule(X):
    return np.nan_to_num(X[:, 0], nan=-10.0)


@pytest.fixture(scope="module")
def evaluated():
    frame = synthetic_frame(30_000, FEATURES, seed=2)
    split = split_by_person_and_time(frame, seed=0)
    model = gradient_boosted_scorer(FEATURES, max_iter=60)
    evaluation = score_models(
        split, model, baselines(FEATURES, rule=_rule, seed=0), catalogue_size=2000
    )
    return split, model, evaluation


def test_model_and_every_baseline_are_scored_on_the_same_rows(evaluated):
    _, _, evaluation = evaluated
    assert set(evaluation.metrics) == {
        "gradient_boosted",
        "rule_score",
        "popularity",
        "random",
        "logistic_regression",
    }
    m = evaluation.metrics
    assert m["gradient_boosted"]["ndcg@10"] > m["random"]["ndcg@10"] + 0.1
    assert m["gradient_boosted"]["brier"] is not None and "brier" not in m["random"]
    assert 0 < m["random"]["coverage@5"] <= 1
    card = evaluation.as_card_metrics()
    assert card["primary"] == "sndcg@5" and set(card["baselines"]) == set(m) - {"gradient_boosted"}


def test_small_segments_are_suppressed(evaluated):
    _, _, evaluation = evaluated
    test = evaluation.test.copy()
    # one German level held by only three people
    few = test[C.PERSON].drop_duplicates().head(3)
    test.loc[test[C.PERSON].isin(few), "german_level"] = "C2"
    evaluation.test = test
    try:
        seg = segment_metrics(evaluation, segments=("german_level",), min_people=5)
    finally:
        evaluation.test = evaluated[2].test
    values = [r["value"] for r in seg["german_level"]["rows"]]
    assert "C2" not in values and seg["german_level"]["suppressed_values"] == 1
    assert all(r["people"] >= 5 for r in seg["german_level"]["rows"])


def test_need_segment_ranks_within_the_need(evaluated):
    _, _, evaluation = evaluated
    seg = segment_metrics(evaluation, segments=(C.NEED,))
    assert {r["value"] for r in seg[C.NEED]["rows"]} <= {
        "language",
        "childcare",
        "work",
        "recognition",
        "counselling",
    }


def test_position_bias_table():
    frame = pd.DataFrame({C.POSITION: [1, 1, 2, 2], C.LABEL: [2, 1, 0, 1]})
    rows = position_bias(frame)
    assert rows[0] == {"position": 1, "impressions": 2, "taken_up_rate": 1.0, "success_rate": 0.5}
    assert rows[1]["taken_up_rate"] == 0.5


def test_report_files(evaluated, tmp_path):
    split, model, evaluation = evaluated
    history = [
        {"version": "v1", **evaluation.as_card_metrics()},
        {"version": "v2", **evaluation.as_card_metrics()},
    ]
    report = build_report(
        evaluation,
        version="gradient_boosted",
        split=split,
        score=model.fitted_.predict,
        feature_names=FEATURES,
        history=history,
    )
    paths = write_report(report, tmp_path)
    for key in (
        "json",
        "markdown",
        "metric_by_version",
        "calibration",
        "importance",
        "position_bias",
    ):
        assert paths[key].stat().st_size > 200
    assert paths["metric_by_version"].read_bytes()[:4] == b"\x89PNG"
    stored = json.loads(paths["json"].read_text())
    assert stored["permutation_importance"][0]["feature"] in ("f0", "f1", "f2", "f3", "f4", "f5")
    text = paths["markdown"].read_text()
    assert "| **gradient_boosted** |" in text and "rule_score" in text
