"""What ranks a request in this process: the catalogue snapshot with its outcome history, the
ranker following the registry (and the challenger of an online comparison), and exploration.

``create_app`` calls ``init_app`` once; views, pages and the server's warm-up use the
accessors below. Everything here is per process: each gunicorn worker holds its own snapshot
arrays, history and loaded model, and keeps them current from the database (the catalogue
version and new referral events on every request, the registry's pointer once a second).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Flask, current_app, g, has_request_context

from casework.outcomes import REFERRAL_EVENTS
from lotse.pseudonyms import person_key
from lotse.settings import Settings
from matcher.engine import Exploration
from matcher.features import COMPATIBLE_SCHEMAS, FEATURE_NAMES, FEATURE_SCHEMA
from matcher.history import OutcomeHistory
from matcher.scoring import Ranker, RuleScoreRanker
from matcher.snapshot import SnapshotCache
from models.serving import ActiveRanker, Assignment

EXTENSION = "lotse_ranking"


class Ranking:
    """The process's ranking state (``app.extensions["lotse_ranking"]``)."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        lotse = app.extensions["lotse"]
        self.active = ActiveRanker(
            lotse.sessions,
            settings.data_dir,
            fallback=RuleScoreRanker(),
            schema_hash=FEATURE_SCHEMA,
            feature_names=FEATURE_NAMES,
            compatible=COMPATIBLE_SCHEMAS,
            check_interval=settings.model_check_seconds,
        )
        self.snapshots = SnapshotCache(
            REFERRAL_EVENTS, history=OutcomeHistory(settings.history_half_life_days)
        )
        self.exploration = (
            Exploration(
                share=settings.exploration_share,
                depth=settings.exploration_depth,
                tolerance=settings.exploration_tolerance,
            )
            if settings.exploration_share > 0
            else None
        )


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = Ranking(app, settings)


def ranking() -> Ranking:
    return current_app.extensions[EXTENSION]


def snapshot_cache() -> SnapshotCache:
    """This process's catalogue snapshot and outcome history."""
    return ranking().snapshots


def active_ranker() -> ActiveRanker:
    return ranking().active


class _Pinned:
    """A ranker fixed for the rest of a request, so that the version a response reports and
    the scores it was ordered by always belong together."""

    def __init__(self, ranker: Ranker) -> None:
        self.ranker = ranker
        self.version = ranker.version
        self.feature_names = tuple(ranker.feature_names)

    def score(self, features: np.ndarray) -> np.ndarray:
        return self.ranker.score(features)


def ranker_for(centre_id: str | None, person_ref: str | None) -> Assignment:
    """The ranker for this request's person, the arm of a running online comparison
    (``None`` when none runs or nobody is named) and, interleaved, the challenger to merge
    with. Pinned for the rest of the request."""
    if has_request_context() and "lotse_assignment" in g:
        return g.lotse_assignment
    key = person_key(centre_id or "", person_ref) if person_ref else None
    ranker, arm, rival = active_ranker().for_person(key)
    pinned = Assignment(_Pinned(ranker), arm, None if rival is None else _Pinned(rival))
    if has_request_context():
        g.lotse_assignment = pinned
    return pinned


def current_ranker() -> Ranker:
    """The active version for a request that names nobody (pinned per request)."""
    return ranker_for(None, None).ranker


def serving_options(centre_id: str | None, person_ref: str | None) -> dict[str, Any]:
    """What ``matcher.serving.serve_recommendations`` needs from this process for one
    person: ranker, arm, the challenger to interleave with, snapshot cache and
    exploration."""
    ranker, arm, rival = ranker_for(centre_id, person_ref)
    state = ranking()
    return {
        "ranker": ranker,
        "arm": arm,
        "rival": rival,
        "snapshots": state.snapshots,
        "exploration": state.exploration,
    }
