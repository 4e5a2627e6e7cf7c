"""Registry: versions with hashes and cards, verified loading, the active pointer and its log."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest
from sqlalchemy import select

from lotse.db import transaction
from lotse.errors import Conflict, NotFound
from models.registry import (
    ArtifactTampered,
    FeatureSchemaMismatch,
    LibraryVersionMismatch,
    active_pointer,
    artifact_path,
    list_versions,
    load_verified,
    promotion_log,
    rollback_target,
    save_version,
    set_active,
)
from models.tables import ModelVersion
from tests.models.artifacts import HASH, NAMES, _artifact, _card
from tests.races import ROUNDS, failures, race, successes


def _save(sessions, data_dir, parent=None, seed=0) -> str:
    with transaction(sessions) as s:
        return save_version(s, data_dir, _artifact(seed), _card(), "analyst", parent).version


def _load(sessions, data_dir, version, schema_hash=HASH, names=NAMES):
    with sessions() as s:
        return load_verified(s, data_dir, version, schema_hash=schema_hash, feature_names=names)


def test_saved_version_has_hash_card_and_loads(model_sessions, tmp_path):
    v1 = _save(model_sessions, tmp_path)
    v2 = _save(model_sessions, tmp_path, parent=v1)
    assert (v1, v2) == ("v1", "v2")
    with model_sessions() as s:
        rows = list_versions(s)
        assert [r.version for r in rows] == ["v1", "v2"] and rows[1].parent == "v1"
        card = json.loads((tmp_path / "models" / "v2" / "card.json").read_text())
        assert card["artifact_sha256"] == rows[1].sha256 and card["parent"] == "v1"
        assert rows[0].status == "candidate"
    art = _load(model_sessions, tmp_path, "v2")
    assert art.score(np.array([[0.9, 0.1], [0.1, 0.1]])).argmax() == 0
    assert not list((tmp_path / "models").glob(".tmp-*"))


def test_changed_artifact_is_refused(model_sessions, tmp_path):
    v = _save(model_sessions, tmp_path)
    with model_sessions() as s:
        path = artifact_path(tmp_path, s.get(ModelVersion, v))
    joblib.dump(_artifact(seed=9), path)  # a valid artifact, but not the recorded one
    with pytest.raises(ArtifactTampered, match="SHA-256"):
        _load(model_sessions, tmp_path, v)


def test_other_feature_schema_is_refused_naming_the_difference(model_sessions, tmp_path):
    v = _save(model_sessions, tmp_path)
    with pytest.raises(FeatureSchemaMismatch, match="also computes c"):
        _load(model_sessions, tmp_path, v, schema_hash="schema-2", names=("a", "b", "c"))


def test_other_scikit_learn_version_is_refused_before_unpickling(model_sessions, tmp_path):
    v = _save(model_sessions, tmp_path)
    with transaction(model_sessions) as s:
        row = s.get(ModelVersion, v)
        row.card = {**row.card, "libraries": {"scikit-learn": "0.24.2"}}
    with pytest.raises(LibraryVersionMismatch, match=r"0\.24\.2"):
        _load(model_sessions, tmp_path, v)


def test_unknown_version_is_not_found(model_sessions, tmp_path):
    with pytest.raises(NotFound):
        _load(model_sessions, tmp_path, "v42")


def test_active_pointer_log_and_rollback_walk_back(model_sessions, tmp_path):
    v1, v2, v3 = (_save(model_sessions, tmp_path, seed=i) for i in range(3))
    with model_sessions() as s:
        assert active_pointer(s) == (None, 0)
    for v in (v1, v2, v3):
        with transaction(model_sessions) as s:
            set_active(s, v, actor="analyst", action="promote", reason=f"try {v}")
    with model_sessions() as s:
        assert active_pointer(s) == (v3, 3)
        statuses = {r.version: r.status for r in s.scalars(select(ModelVersion))}
        assert statuses == {v1: "retired", v2: "retired", v3: "active"}
    for expected in (v2, v1, None):
        with transaction(model_sessions) as s:
            target = rollback_target(s)
            assert target == expected
            set_active(s, target, actor="admin", action="rollback")
    with model_sessions() as s:
        log = promotion_log(s)
        assert [(e.action, e.from_version, e.to_version) for e in log[:3]] == [
            ("rollback", v1, None),
            ("rollback", v2, v1),
            ("rollback", v3, v2),
        ]
        assert log[-1].actor == "analyst" and log[-1].reason == "try v1"
        with pytest.raises(Conflict, match="nothing to roll back"):
            rollback_target(s)


def _switch(sessions, version, **expected):
    def action():
        with transaction(sessions) as s:
            entry = set_active(s, version, actor="analyst", action="promote", **expected)
            return entry.to_version

    return action


def _statuses(sessions) -> dict[str, str]:
    with sessions() as s:
        return {r.version: r.status for r in s.scalars(select(ModelVersion))}


def test_two_promotions_decided_on_one_generation_one_wins(model_sessions, tmp_path):
    # each promotion compared its candidate with what served at the generation it read; the
    # one that finds the pointer moved on was decided on a state that no longer holds
    versions = [_save(model_sessions, tmp_path, seed=i) for i in range(2 * ROUNDS)]
    for r in range(ROUNDS):
        with model_sessions() as s:
            before, generation = active_pointer(s)
        pair = versions[2 * r : 2 * r + 2]
        outcomes = race(*(_switch(model_sessions, v, expected_generation=generation) for v in pair))
        [won] = successes(outcomes)
        assert [type(e) for e in failures(outcomes)] == [Conflict]
        assert "changed" in failures(outcomes)[0].detail
        with model_sessions() as s:
            assert active_pointer(s) == (won, generation + 1)
            assert len(promotion_log(s)) == r + 1
        statuses = _statuses(model_sessions)
        assert [v for v, st in statuses.items() if st == "active"] == [won]
        assert before is None or statuses[before] == "retired"


def test_promotions_at_once_each_move_the_generation(model_sessions, tmp_path):
    # without a generation read beforehand, two switches either run one after the other or
    # the second is refused; never do both land on one generation, which would leave the
    # workers that loaded the first serving it for ever
    versions = [_save(model_sessions, tmp_path, seed=i) for i in range(2 * ROUNDS)]
    for r in range(ROUNDS):
        with model_sessions() as s:
            _, generation = active_pointer(s)
            logged = len(promotion_log(s))
        outcomes = race(*(_switch(model_sessions, v) for v in versions[2 * r : 2 * r + 2]))
        assert all(isinstance(e, Conflict) for e in failures(outcomes)), outcomes
        with model_sessions() as s:
            active, now = active_pointer(s)
            assert now == generation + len(successes(outcomes))
            assert len(promotion_log(s)) == logged + len(successes(outcomes))
            assert active in successes(outcomes)
        assert [v for v, st in _statuses(model_sessions).items() if st == "active"] == [active]
