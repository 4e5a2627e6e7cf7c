"""The feature schema's identity, and which earlier schemas still count: models trained on
them serve and their impressions train (``tests/service/test_models_api.py`` goes through
an upgrade end to end)."""

from __future__ import annotations

from matcher.features import (
    ADDED_IN,
    COMPATIBLE_SCHEMAS,
    FEATURE_NAMES,
    FEATURE_SCHEMA,
    FEATURES_VERSION,
    schema_of,
)

#: The schema every installation served under until the completion rates were added: its
#: hash is stored with every request and model of that time, so it must never change.
VERSION_2 = "b255de2457479778"


def test_the_schema_before_the_completion_rates_is_still_compatible():
    assert COMPATIBLE_SCHEMAS[VERSION_2] == FEATURE_NAMES[: len(FEATURE_NAMES) - len(ADDED_IN[3])]
    assert len(COMPATIBLE_SCHEMAS[VERSION_2]) == 37


def test_added_features_come_last_and_every_earlier_schema_is_a_prefix():
    assert schema_of(FEATURES_VERSION, FEATURE_NAMES) == FEATURE_SCHEMA
    assert FEATURE_SCHEMA not in COMPATIBLE_SCHEMAS
    assert set(ADDED_IN) == set(range(3, FEATURES_VERSION + 1))
    assert FEATURE_NAMES[-len(ADDED_IN[FEATURES_VERSION]) :] == ADDED_IN[FEATURES_VERSION]
    for names in COMPATIBLE_SCHEMAS.values():
        assert FEATURE_NAMES[: len(names)] == names
