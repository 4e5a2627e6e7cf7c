"""Serving switches versions without a restart, in every process, and keeps serving on refusal."""

from __future__ import annotations

import threading

import joblib
import numpy as np

from lotse.db import transaction
from models.registry import artifact_path, save_version, set_active
from models.serving import ActiveRanker
from models.tables import ModelVersion
from tests.models.artifacts import HASH, NAMES, _artifact, _card


class RuleScore:
    version = "rule-score"
    feature_names = NAMES

    def score(self, features):
        return features[:, 0]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _worker(sessions, data_dir, clock) -> ActiveRanker:
    return ActiveRanker(
        sessions,
        data_dir,
        fallback=RuleScore(),
        schema_hash=HASH,
        feature_names=NAMES,
        check_interval=1.0,
        clock=clock,
    )


def _save_and_promote(sessions, data_dir, seed=0, promote=True) -> str:
    with transaction(sessions) as s:
        v = save_version(s, data_dir, _artifact(seed), _card(), "analyst", None).version
        if promote:
            set_active(s, v, actor="analyst", action="promote")
    return v


def test_without_a_model_the_rule_score_serves(model_sessions, tmp_path):
    worker = _worker(model_sessions, tmp_path, Clock())
    assert worker.current().version == "rule-score"


def test_every_worker_switches_within_the_check_interval(model_sessions, tmp_path):
    clock = Clock()
    workers = [_worker(model_sessions, tmp_path, clock) for _ in range(3)]
    assert {w.current().version for w in workers} == {"rule-score"}
    v1 = _save_and_promote(model_sessions, tmp_path)
    clock.now = 0.5  # within the interval: no database read yet
    assert {w.current().version for w in workers} == {"rule-score"}
    clock.now = 1.01
    assert {w.current().version for w in workers} == {v1}
    scores = workers[0].current().score(np.array([[0.9, 0.1], [0.1, 0.1]]))
    assert scores[0] > scores[1]
    with transaction(model_sessions) as s:
        set_active(s, None, actor="analyst", action="rollback")
    clock.now = 2.02
    assert {w.current().version for w in workers} == {"rule-score"}


def test_a_tampered_artifact_is_refused_and_the_old_version_keeps_serving(
    model_sessions, tmp_path, caplog
):
    clock = Clock()
    worker = _worker(model_sessions, tmp_path, clock)
    v1 = _save_and_promote(model_sessions, tmp_path, seed=1)
    assert worker.current().version == v1
    v2 = _save_and_promote(model_sessions, tmp_path, seed=2, promote=False)
    with model_sessions() as s:
        joblib.dump(_artifact(seed=5), artifact_path(tmp_path, s.get(ModelVersion, v2)))
    with transaction(model_sessions) as s:
        set_active(s, v2, actor="analyst", action="promote")
    clock.now = 1.5
    with caplog.at_level("ERROR", logger="lotse.models"):
        assert worker.current().version == v1
    assert "SHA-256" in caplog.text and worker.last_error.startswith(v2)
    # a fresh worker (say, after a restart) has nothing older: it serves the rule score
    assert _worker(model_sessions, tmp_path, clock).current().version == "rule-score"


def test_requests_during_a_load_are_served_by_the_old_ranker(model_sessions, tmp_path):
    clock = Clock()
    worker = _worker(model_sessions, tmp_path, clock)
    assert worker.current().version == "rule-score"
    _save_and_promote(model_sessions, tmp_path)
    clock.now = 5
    worker._lock.acquire()  # another thread is loading right now
    try:
        seen = []
        t = threading.Thread(target=lambda: seen.append(worker.current().version))
        t.start()
        t.join(timeout=5)
        assert seen == ["rule-score"]  # did not wait, did not fail
    finally:
        worker._lock.release()
    assert worker.current().version == "v1"


def test_an_interleaved_comparison_gives_its_share_both_rankers(model_sessions, tmp_path):
    from types import SimpleNamespace

    from models.experiments import start_experiment, stop_experiment
    from models.serving import CONTROL, INTERLEAVED, arm_position

    clock = Clock()
    worker = _worker(model_sessions, tmp_path, clock)
    challenger = _save_and_promote(model_sessions, tmp_path, promote=False)
    ws = SimpleNamespace(sessions=model_sessions)
    start_experiment(ws, challenger, 0.5, actor="analyst", design="interleave")
    clock.now = 1.01
    keys = [f"person-{i}" for i in range(40)]
    for key in keys:
        ranker, arm, rival = worker.for_person(key)
        assert ranker.version == "rule-score"  # the active version always ranks
        if arm_position(key) < 0.5:
            assert arm == INTERLEAVED and rival is not None and rival.version == challenger
        else:
            assert arm == CONTROL and rival is None
        assert worker.for_person(key) == (ranker, arm, rival)  # stable per person
    assert {worker.for_person(k).arm for k in keys} == {INTERLEAVED, CONTROL}
    assert worker.for_person(None) == (worker.current(), None, None)
    stop_experiment(ws, actor="analyst")
    clock.now = 2.02
    assert {worker.for_person(k).rival for k in keys} == {None}
