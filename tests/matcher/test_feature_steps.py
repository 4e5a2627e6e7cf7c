"""The two steps of the feature matrix: the engine shortlists on the first (the rule
score's columns) and completes only the shortlist, which must change nothing it serves."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.demo import generate_catalogue
from matcher.engine import rank_offers
from matcher.features import (
    FEATURE_NAMES,
    RULE_FEATURES,
    add_context_features,
    feature_matrix,
    rule_features,
)
from matcher.rules import screen
from matcher.scoring import WEIGHTS, prescore
from matcher.snapshot import Snapshot
from tests.matcher.catalogue import TODAY, resolved


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    offers = [o for _agency, o in generate_catalogue(3_000, seed=11, today=TODAY)]
    return Snapshot.from_records([{**o, "id": str(i)} for i, o in enumerate(offers)])


def test_the_rule_score_reads_only_what_the_first_step_fills():
    assert set(WEIGHTS) <= set(RULE_FEATURES) <= set(FEATURE_NAMES)


def test_the_two_steps_make_the_whole_matrix(snapshot):
    p = resolved()
    rows = screen(snapshot, p).eligible
    assert len(rows) > 10
    whole = feature_matrix(snapshot, rows, p)
    first = rule_features(snapshot, rows, p)
    rule_cols = [FEATURE_NAMES.index(n) for n in RULE_FEATURES]
    other = [i for i in range(len(FEATURE_NAMES)) if i not in rule_cols]
    np.testing.assert_array_equal(first[:, rule_cols], whole[:, rule_cols])
    assert np.isnan(first[:, other]).all()  # nothing else is computed in the first step
    np.testing.assert_array_equal(prescore(first), prescore(whole))
    add_context_features(first, snapshot, rows, p)
    np.testing.assert_array_equal(first, whole)


def test_every_served_offer_carries_its_whole_feature_row(snapshot):
    """The shortlist's rows are completed: what is served (and logged for training) equals
    ``feature_matrix`` of the same offers."""
    p = resolved()
    rec = rank_offers(snapshot, p, k=10, cap=3)  # a cap that cuts: some rows stay rule-only
    assert rec.results
    index = {str(i): n for n, i in enumerate(snapshot.ids)}
    for suggestion in [*rec.results, *rec.waitlist]:
        row = np.array([index[suggestion.offer_id]])
        expected = feature_matrix(snapshot, row, p)[0]
        np.testing.assert_array_equal(suggestion.features, expected)
