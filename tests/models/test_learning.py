"""Proof that the ranker learns: on held-out simulated people, later in time, the trained
ranker beats the rule score by a clear margin, and a ranker trained on shuffled labels does not.

The simulated people go through the real engine over a demo catalogue; their behaviour is
documented in ``models.simulation``. Everything is seeded, so the numbers are reproducible.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from catalog.demo import generate_catalogue
from matcher.features import FEATURE_NAMES
from matcher.scoring import RuleScoreRanker
from matcher.snapshot import Snapshot
from models import columns as C
from models.evaluation import score_models
from models.ranker import baselines, gradient_boosted_scorer
from models.simulation import (
    impressions_frame,
    outcomes_frame,
    places_from_offers,
    simulate_requests,
)
from models.training import Split, build_training_frame, split_by_person_and_time

#: NDCG points by which the learnt ranker must beat the rule score. Over simulation seeds
#: 11-20 the margin at NDCG@10 was 0.024-0.087 (mean 0.053), at NDCG@5 0.047 or more: this
#: bound holds for every seed tried, not only for the one used here.
CLEAR_MARGIN = 0.02


@pytest.fixture(scope="module")
def simulated_split() -> Split:
    offers = [
        dict(o, id=str(uuid.UUID(int=i + 1)))
        for i, (_, o) in enumerate(generate_catalogue(1500, seed=7))
    ]
    snapshot = Snapshot.from_records(offers)
    served = list(simulate_requests(snapshot, places_from_offers(offers), people=4000, seed=11))
    frame = build_training_frame(impressions_frame(served, lambda ref: ref), outcomes_frame(served))
    return split_by_person_and_time(frame, seed=0)


def _evaluate(split: Split, with_baselines: bool = True):
    return score_models(
        split,
        gradient_boosted_scorer(FEATURE_NAMES, random_state=0),
        baselines(FEATURE_NAMES, RuleScoreRanker().score, seed=0) if with_baselines else [],
    ).metrics


@pytest.fixture(scope="module")
def real(simulated_split):
    return _evaluate(simulated_split)


def test_the_simulation_looks_like_outcome_data(simulated_split):
    frame = simulated_split.train
    labels = frame[C.LABEL].value_counts(normalize=True)
    assert 0.85 < labels[0] < 0.99  # most shown offers are not taken up
    assert set(frame[C.STATUS].dropna()) >= {"completed", "dropped", "declined", "enrolled"}
    take_up = frame.groupby(C.POSITION)[C.LABEL].apply(lambda s: (s > 0).mean())
    assert take_up.loc[1] > 2 * take_up.loc[8]  # people take what is shown first


def test_trained_ranker_beats_the_rule_score_on_held_out_people(real):
    m = real
    model, rule = m["gradient_boosted"]["ndcg@10"], m["rule_score"]["ndcg@10"]
    assert model >= rule + CLEAR_MARGIN, m
    assert m["gradient_boosted"]["ndcg@5"] >= m["rule_score"]["ndcg@5"] + CLEAR_MARGIN
    assert model > m["popularity"]["ndcg@10"] and model > m["random"]["ndcg@10"] + 0.15


def test_ranker_trained_on_shuffled_labels_does_not(simulated_split, real):
    """Shuffled labels keep the label mix but cut every link to the features. Such a model's
    order follows whatever feature its noise splits on, so single runs swing around random;
    the mean of three shuffles must stay below the rule score and far below the real model."""
    shuffled = []
    for seed in range(3):
        train = simulated_split.train.copy()
        train[C.LABEL] = np.random.default_rng(seed).permutation(train[C.LABEL].to_numpy())
        m = _evaluate(Split(train, simulated_split.test, simulated_split.spec), False)
        shuffled.append(m["gradient_boosted"]["ndcg@10"])
    mean = float(np.mean(shuffled))
    assert mean < real["rule_score"]["ndcg@10"] - CLEAR_MARGIN, (shuffled, real)
    assert mean < real["gradient_boosted"]["ndcg@10"] - 0.1, (shuffled, real)
