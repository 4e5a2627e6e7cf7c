"""The analyst's operations on rankers: train, evaluate, promote, roll back, list.

The command line (``lotse ranker …``) and the API (``/v1/models``) call these and nothing
else. A ``Workspace`` carries what they need: the database, the artifact folder, where outcomes
come from (referrals live in ``casework``, which models may not import, so the service hands
in a reader), and the engine's feature schema and rule score.

Train: build the training frame for a window, split it by person and out of time, fit the
take-up × outcome ranker on the training part (the *held-out copy*), score it *and the
baselines* on the test part — naive metrics and counterfactual estimates with intervals —
then refit the same configuration on every row (the *served copy*) and register both with
the card. The card's metrics and the gate judge the held-out copy, never rows it saw.

Promote: estimate, counterfactually, how the candidate's held-out copy and what serves now
(the active version's held-out copy, or the rule score) would have done on the candidate's
test data, leaving out the people the active version was trained on; promote when the
candidate is better beyond noise (the 95 % interval of the difference above 0), refuse
otherwise and say whether it was worse or indistinguishable. ``force`` overrides. Every
switch is logged.

Negative controls (``negative_control``): a candidate trained on shuffled labels, or with one
feature's sign flipped, is broken on purpose; the gate must refuse it. They are how an
analyst checks that the gate still discriminates.

Online comparison: a challenger serves a share of people (split by a stable hash of the
person key) beside the active version; ``experiment_report`` compares matured outcomes of the
two arms with intervals.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from lotse.db import transaction, utcnow
from lotse.errors import Conflict, FieldError, InvalidInput
from lotse.i18n import N_
from models import columns as C
from models.counterfactual import (
    GATE_METRIC,
    NO_BIAS,
    PositionBias,
    counterfactual_estimates,
    gate,
    position_bias_from_swaps,
)
from models.evaluation import (
    NAIVE_NOTE,
    build_report,
    ranking_metrics,
    score_models,
    write_report,
)
from models.experiments import MATURED_DAYS, end_experiment, online_comparison
from models.ranker import baselines, feature_matrix, take_up_outcome_scorer
from models.registry import (
    ArtifactRefused,
    RankerArtifact,
    active_pointer,
    get_version,
    list_versions,
    load_crossfit,
    load_verified,
    models_root,
    rollback_target,
    save_version,
    serving_pointer,
    set_active,
)
from models.tables import ModelPromotion, ModelVersion
from models.training import (
    CROSSFIT_FOLDS,
    CROSSFIT_MAX_ROWS,
    LABEL_DEFINITION,
    SUCCESS_FROM,
    TEST_SHARE,
    OutcomeSource,
    build_training_frame,
    code_revision,
    in_window,
    library_versions,
    person_folds,
    rebuild_split,
    row_counts,
    row_keys,
    split_by_person_and_time,
    window_of,
)

#: ``(session, since, until) -> impressions frame`` (see ``models.training``).
ImpressionSource = Callable[[Session, datetime | None, datetime | None], pd.DataFrame]


class PromotionRefused(Conflict):
    """The candidate is not shown to be better than the active version on the same test
    data (worse, or within noise)."""

    title = "Promotion refused"

    def __init__(self, detail: str, comparison: dict[str, Any]) -> None:
        super().__init__(detail)
        self.comparison = comparison


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _engine_defaults() -> dict[str, Any]:
    from matcher.features import (
        CATEGORICAL_FEATURES,
        COMPATIBLE_SCHEMAS,
        FEATURE_NAMES,
        FEATURE_SCHEMA,
        MONOTONE,
    )
    from matcher.scoring import RuleScoreRanker

    rule = RuleScoreRanker()
    return {
        "feature_names": tuple(FEATURE_NAMES),
        "schema_hash": FEATURE_SCHEMA,
        "compatible_schemas": dict(COMPATIBLE_SCHEMAS),
        "rule": rule.score,
        "rule_version": rule.version,
        "categorical": tuple(CATEGORICAL_FEATURES),
        "monotone": dict(MONOTONE),
    }


@dataclass
class Workspace:
    """What the lifecycle operations work with. Engine facts default to the matcher's."""

    sessions: sessionmaker[Session]
    data_dir: Path
    outcomes: OutcomeSource
    impressions: ImpressionSource | None = None
    feature_names: tuple[str, ...] = ()
    schema_hash: str = ""
    #: earlier schemas the current one only added features to (``matcher.features``): their
    #: impressions train, their models load
    compatible_schemas: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rule: Callable[[np.ndarray], np.ndarray] | None = None
    rule_version: str = "rules"
    catalogue_size: Callable[[Session], int] | None = None
    categorical: tuple[str, ...] = ()
    monotone: dict[str, int] | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.feature_names:
            for key, value in _engine_defaults().items():
                setattr(self, key, value)
        if self.impressions is None:
            from models.training import load_impressions

            self.impressions = functools.partial(
                load_impressions,
                schema_hash=self.schema_hash,
                also=tuple(self.compatible_schemas),
            )
        if self.catalogue_size is None:
            from catalog.store import count_offers

            self.catalogue_size = count_offers

    def frame(self, since: Any = None, until: Any = None) -> pd.DataFrame:
        """The labelled training frame of impressions served in ``[since, until)``."""
        with self.sessions() as session:
            assert self.impressions is not None  # __post_init__ supplies the default
            impressions = self.impressions(session, since, until)
            outcomes = self.outcomes(session, since, None)
        # impressions of an earlier, compatible schema lack the features added since
        for name in self.feature_names:
            if name not in impressions.columns and len(impressions):
                impressions[name] = np.nan
        return build_training_frame(impressions, outcomes, since=since, until=until)

    def n_offers(self) -> int | None:
        with self.sessions() as session:
            return self.catalogue_size(session) if self.catalogue_size else None


def _iso(value: Any) -> str | None:
    return None if value is None else pd.Timestamp(value).isoformat()


#: What may decide a promotion (``promote_version``).
EVIDENCE = ("offline", "online")

#: ``negative_control`` values: labels shuffled across the training rows, or one feature's
#: sign flipped at scoring (``flipped:distance_km``).
NEGATIVE_CONTROLS = ("shuffled-labels", "flipped:<feature>")


def _check_negative_control(ws: Workspace, control: str | None) -> tuple[bool, tuple[str, ...]]:
    """``(shuffle labels?, features to flip)`` for a negative control (``InvalidInput`` for
    an unknown one)."""
    if not control:
        return False, ()
    if control == "shuffled-labels":
        return True, ()
    if control.startswith("flipped:"):
        name = control.split(":", 1)[1]
        if name in ws.feature_names:
            return False, (name,)
        raise InvalidInput([FieldError("negative_control", f"unknown feature '{name}' to flip")])
    raise InvalidInput(
        [
            FieldError(
                "negative_control",
                f"unknown negative control '{control}'; one of {', '.join(NEGATIVE_CONTROLS)}",
            )
        ]
    )


def _shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The frame with outcomes (label, take-up, status) permuted across rows."""
    order = np.random.default_rng(seed + 7919).permutation(len(frame))
    out = frame.copy()
    for col in (C.LABEL, C.TAKEN_UP, C.STATUS):
        if col in out:
            out[col] = out[col].to_numpy()[order]
    return out


def _bias_for(ws: Workspace, frame: pd.DataFrame, learnt: Any) -> PositionBias:
    """The examination curve: from randomised swaps when there are enough, else the one the
    take-up model learnt (``position_bias_``), else none."""
    swaps = position_bias_from_swaps(frame)
    if swaps is not None:
        return swaps
    curve = getattr(learnt, "position_bias_", None)
    if curve is not None:
        return PositionBias(tuple(float(t) for t in curve), "take-up model")
    return NO_BIAS


def train_version(
    ws: Workspace,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    seed: int = 0,
    actor: str = "",
    params: dict[str, Any] | None = None,
    negative_control: str | None = None,
    step: Callable[[str], None] = lambda _msg: None,
) -> ModelVersion:
    """Train a new version on impressions served in ``[since, until)`` and register it.

    ``step`` is told what happens next (the CLI shows it as progress).
    """
    shuffle, flipped = _check_negative_control(ws, negative_control)
    step("loading impressions and outcomes")
    frame = ws.frame(since, until)
    if frame.empty:
        raise InvalidInput([FieldError("window", N_("no impressions were served in this window"))])
    if not (frame[C.LABEL] >= SUCCESS_FROM).any():
        raise InvalidInput(
            [FieldError("window", N_("no impression in this window led to an enrolment yet"))]
        )
    step(f"splitting {len(frame)} impressions by person and time")
    split = split_by_person_and_time(frame, seed=seed)
    if split.train.empty or split.test.empty:
        raise InvalidInput(
            [FieldError("window", N_("too little data to keep people and time apart; widen it"))]
        )
    if shuffle:
        split.train = _shuffled(split.train, seed)

    def new_scorer() -> Any:
        return take_up_outcome_scorer(
            ws.feature_names,
            categorical=ws.categorical,
            monotone=ws.monotone,
            random_state=seed,
            **(params or {}),
        )

    step(f"fitting the held-out copy on {len(split.train)} rows")
    scorer = new_scorer().fit(split.train)
    heldout = RankerArtifact(
        estimator=scorer.fitted_,
        feature_names=ws.feature_names,
        schema_hash=ws.schema_hash,
        flipped=flipped,
    )
    bias = _bias_for(ws, split.train, scorer.fitted_)
    step(f"scoring it and the baselines on {len(split.test)} test rows")
    evaluation = score_models(
        split,
        _ArtifactScorer("model", heldout),
        baselines(ws.feature_names, ws.rule, seed=seed),
        fit_model=False,
        catalogue_size=ws.n_offers(),
        bias=bias,
        seed=seed,
    )
    everything = _shuffled(frame, seed) if shuffle else frame
    crossfit = None
    if len(frame) <= CROSSFIT_MAX_ROWS:
        step(f"cross-fitting {CROSSFIT_FOLDS} folds by person for the promotion gate")
        crossfit = _cross_fit(everything, frame, new_scorer, ws, flipped, seed)
    step(f"refitting the served copy on all {len(frame)} rows")
    served_fit = new_scorer().fit(everything).fitted_
    artifact = RankerArtifact(
        estimator=served_fit,
        feature_names=ws.feature_names,
        schema_hash=ws.schema_hash,
        flipped=flipped,
    )
    created_by = actor or default_actor()
    card = {
        "created_at": utcnow().isoformat(),
        "created_by": created_by,
        "code_revision": code_revision(),
        "training_window": {"since": _iso(since), "until": _iso(until), **window_of(frame)},
        "split": {**split.spec.as_dict(), "test_share": TEST_SHARE},
        "rows": {
            "all": row_counts(frame),
            "train": row_counts(split.train),
            "test": row_counts(split.test),
        },
        "label_definition": LABEL_DEFINITION,
        "features": {"names": list(ws.feature_names), "schema_hash": ws.schema_hash},
        "libraries": library_versions(),
        "estimator": {
            "class": f"{type(served_fit).__module__}.{type(served_fit).__name__}",
            "hyperparameters": served_fit.get_params(),
            "boosting_rounds": int(served_fit.n_iter_),
        },
        "artifacts": {
            "served": f"refitted on all {len(frame)} rows of the window",
            "heldout": f"fitted on the {len(split.train)} training rows; judged by the metrics "
            "and the promotion gate",
        },
        "position_bias": bias.as_dict(),
        "crossfit": (
            {"folds": CROSSFIT_FOLDS, "by": "person", "rows": len(frame)}
            if crossfit is not None
            else None
        ),
        "negative_control": negative_control,
        "seed": seed,
        "rule_score_version": ws.rule_version,
        "metrics": evaluation.as_card_metrics(),
    }
    step("saving the artifacts and their card")
    with transaction(ws.sessions) as session:
        parent, _ = active_pointer(session)
        row = save_version(
            session,
            ws.data_dir,
            artifact,
            card,
            created_by,
            parent,
            heldout=heldout,
            crossfit=crossfit,
        )
    return row


def _cross_fit(
    fit_on: pd.DataFrame,
    frame: pd.DataFrame,
    new_scorer: Callable[[], Any],
    ws: Workspace,
    flipped: tuple[str, ...],
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every row scored by a model fitted on the other folds' people (``fit_on``: the rows
    with the outcomes to learn from, ``frame``: as served). With few people, the test split
    alone leaves the gate too few to tell a better model from noise; cross-fitting lets it
    judge on every person, each by a model that never saw them."""
    folds = person_folds(frame[C.PERSON], CROSSFIT_FOLDS, seed)
    scores = np.full(len(frame), np.nan)
    for k in range(CROSSFIT_FOLDS):
        out = folds == k
        if not out.any() or out.all():
            continue
        fitted = new_scorer().fit(fit_on[~out]).fitted_
        model = RankerArtifact(fitted, ws.feature_names, ws.schema_hash, flipped=flipped)
        scores[out] = model.score(feature_matrix(frame[out], ws.feature_names))
    return row_keys(frame), scores


class _ArtifactScorer:
    """A registered, already fitted version as a frame scorer (``fit`` learns nothing)."""

    def __init__(self, name: str, artifact: RankerArtifact) -> None:
        self.name = name
        self.artifact = artifact

    def fit(self, frame: pd.DataFrame) -> _ArtifactScorer:
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.artifact.score(feature_matrix(frame, self.artifact.feature_names))

    def predict_likelihood(self, frame: pd.DataFrame) -> np.ndarray | None:
        fn = getattr(self.artifact.estimator, "predict_likelihood", None)
        if fn is None:
            return None
        return fn(feature_matrix(frame, self.artifact.feature_names))


def _load(ws: Workspace, version: str, *, heldout: bool = False) -> RankerArtifact:
    with ws.sessions() as session:
        return load_verified(
            session,
            ws.data_dir,
            version,
            schema_hash=ws.schema_hash,
            feature_names=ws.feature_names,
            heldout=heldout,
            compatible=ws.compatible_schemas,
        )


def _card_frame(ws: Workspace, card: dict[str, Any]) -> pd.DataFrame:
    window = card.get("training_window") or {}
    return ws.frame(window.get("since"), window.get("until"))


def evaluate_version(
    ws: Workspace,
    version: str,
    *,
    out_dir: Path | None = None,
    step: Callable[[str], None] = lambda _msg: None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The full report of one version on its own test split (rebuilt from its card): metrics
    against the baselines, segments, calibration, position bias, permutation importance, and
    every version's headline metric; written as JSON, Markdown and PNGs."""
    step(f"verifying {version}")
    artifact = _load(ws, version, heldout=True)
    with ws.sessions() as session:
        card = get_version(session, version).card
        history = [
            {"version": r.version, "created_at": r.created_at.isoformat(), **r.card["metrics"]}
            for r in list_versions(session)
            if "metrics" in r.card
        ]
    step("loading impressions and outcomes")
    frame = _card_frame(ws, card)
    split = rebuild_split(frame, card["split"])
    seed = int(card.get("seed", 0))
    step(f"scoring {version} and the baselines on {len(split.test)} test rows")
    evaluation = score_models(
        split,
        _ArtifactScorer(version, artifact),
        baselines(ws.feature_names, ws.rule, seed=seed),
        fit_model=False,
        catalogue_size=ws.n_offers(),
        bias=_card_bias(card, split.train),
        seed=seed,
    )
    step("segments, calibration, permutation importance")
    report = build_report(
        evaluation,
        version=version,
        split=split,
        score=artifact.score,
        feature_names=artifact.feature_names,
        history=history,
        seed=seed,
    )
    step("writing the report")
    paths = write_report(report, out_dir or models_root(ws.data_dir) / version / "report")
    return report, paths


def _in_window(frame: pd.DataFrame, card: dict[str, Any]) -> np.ndarray:
    """The rows served in the training window a version's card records."""
    window = card.get("training_window") or {}
    return in_window(frame[C.TIME], window.get("since"), window.get("until"))


def _trained_people(frame: pd.DataFrame, card: dict[str, Any]) -> Iterable[str]:
    """The people a version's training rows came from (its split, rebuilt from its card)."""
    window = frame[_in_window(frame, card)]
    if window.empty:
        return []
    return pd.unique(rebuild_split(window, card["split"]).train[C.PERSON])


def _card_bias(card: dict[str, Any], frame: pd.DataFrame) -> PositionBias:
    """The examination curve for judging a version: randomised swaps when the logs have
    enough, else the curve recorded on its card, else none."""
    return (
        position_bias_from_swaps(frame)
        or PositionBias.from_dict(card.get("position_bias"))
        or NO_BIAS
    )


def unseen_scores(
    ws: Workspace, version: str, card: dict[str, Any], frame: pd.DataFrame
) -> np.ndarray:
    """``version``'s scores of ``frame``'s rows from models that never saw the row's person:
    its cross-fitted scores where it has them, else its held-out copy for people outside
    its training split; NaN where neither can judge fairly."""
    with ws.sessions() as session:
        stored = load_crossfit(session, ws.data_dir, version)
    scores = np.full(len(frame), np.nan)
    if stored is not None:
        keys, values = stored
        lookup = pd.Series(values, index=pd.Index(keys))
        lookup = lookup[~lookup.index.duplicated()]
        # a copy: pandas may hand out a read-only view, and the rows the stored scores
        # miss (served after training) are filled in below
        scores = lookup.reindex(row_keys(frame)).to_numpy(dtype=np.float64, copy=True)
    rest = np.isnan(scores)
    if rest.any():
        seen = set(_trained_people(frame, card))
        usable = rest & ~frame[C.PERSON].isin(seen).to_numpy()
        if usable.any():
            heldout = _load(ws, version, heldout=True)
            scores[usable] = heldout.score(feature_matrix(frame[usable], heldout.feature_names))
    return scores


def compare_with_active(ws: Workspace, version: str) -> dict[str, Any]:
    """Estimate how ``version`` and what serves now would each have done on the same rows,
    with intervals, and decide (``decision``: promote, worse or noise; ``why``).

    The rows: the candidate's training window, each judged only by models that never saw
    its person — cross-fitted scores (or the held-out copy on the test split) for the
    candidate; for an active version likewise (people its held-out copy was trained on
    are left out), the rule score everywhere."""
    # both copies verified before anything is judged: the served one is what would serve
    _load(ws, version)
    _load(ws, version, heldout=True)
    with ws.sessions() as session:
        card = get_version(session, version).card
        active, _ = active_pointer(session)
        active_card = get_version(session, active).card if active else None
    everything = ws.frame()
    frame = everything[_in_window(everything, card)].reset_index(drop=True)
    split = rebuild_split(frame, card["split"])
    note = ""
    cand_scores = unseen_scores(ws, version, card, frame)
    active_label = ws.rule_version
    act_scores: np.ndarray | None = None
    if active is not None and active_card is not None:
        try:
            act_scores = unseen_scores(ws, active, active_card, frame)
            active_label = active
        except ArtifactRefused as exc:
            note = (
                f"the active {active} cannot be loaded ({exc.detail}); compared with the rule score"
            )
    if act_scores is None:
        assert ws.rule is not None
        act_scores = np.asarray(ws.rule(feature_matrix(frame, ws.feature_names)), dtype=float)
    usable = np.isfinite(cand_scores) & np.isfinite(act_scores)
    test = frame[usable]
    comparison: dict[str, Any] = {
        "metric": GATE_METRIC,
        "candidate": version,
        "active": active_label,
        "rows": "cross-fitted" if card.get("crossfit") else "held-out split",
        "test_rows": int(usable.sum()),
        "test_requests": int(test[C.QUERY].nunique()) if len(test) else 0,
        "naive_note": NAIVE_NOTE,
    }
    if note:
        comparison["note"] = note
    if test.empty or not test[C.TAKEN_UP].any():
        comparison["candidate_metrics"] = comparison["active_metrics"] = None
        comparison["decision"], comparison["why"] = (
            "noise",
            f"{version} and {active_label} share no test data with outcomes, so it cannot be "
            "shown that the candidate is better",
        )
        return comparison
    comparison["candidate_metrics"] = ranking_metrics(test, cand_scores[usable])
    comparison["active_metrics"] = ranking_metrics(test, act_scores[usable])
    estimates = counterfactual_estimates(
        test,
        {version: cand_scores[usable], active_label: act_scores[usable]},
        _card_bias(card, split.train),
        reference=active_label,
        seed=int(card.get("seed", 0)),
    )
    comparison["counterfactual"] = estimates
    comparison["decision"], comparison["why"] = gate(estimates, version)
    return comparison


def promote_version(
    ws: Workspace,
    version: str,
    *,
    actor: str,
    force: bool = False,
    reason: str = "",
    evidence: str = "offline",
    matured_days: float = MATURED_DAYS,
) -> ModelPromotion:
    """Make ``version`` the serving one when it is better than what serves now beyond noise;
    otherwise ``PromotionRefused`` (409) saying whether it was worse or indistinguishable,
    unless ``force`` is set.

    ``evidence`` says what decides: ``offline`` — the counterfactual estimate on logged
    outcomes (``compare_with_active``; it can only credit re-ordering the offers that were
    shown) — or ``online`` — ``version``'s online comparison against what serves now, on
    requests at least ``matured_days`` old (``models.experiments.online_comparison``; it
    sees every offer the model brings in). A promotion ends a running comparison: its
    control arm was what served until now."""
    if evidence not in EVIDENCE:
        raise InvalidInput([FieldError("evidence", N_("one of: offline, online"))])
    with ws.sessions() as session:
        get_version(session, version)
        pointer = serving_pointer(session)
    if pointer.active == version:
        raise Conflict(f"{version} is already the active version")
    if evidence == "online":
        comparison = online_comparison(ws, version, matured_days=matured_days)
    else:
        comparison = compare_with_active(ws, version)
    if not force and comparison["decision"] != "promote":
        raise PromotionRefused(
            f"{version} not promoted: {comparison['why']}; promote with force to override",
            comparison,
        )
    with transaction(ws.sessions) as session:
        entry = set_active(
            session,
            version,
            actor=actor,
            action="promote",
            forced=force,
            reason=reason,
            comparison=comparison,
            expected_generation=pointer.generation,
        )
        if pointer.experiment_id is not None:
            end_experiment(session, actor=actor)
        return entry


def rollback(ws: Workspace, *, actor: str, reason: str = "") -> ModelPromotion:
    """Serve the version that served before the active one was promoted (or the rule score).

    No comparison: rolling back is the emergency lever and must always work. It ends a
    running online comparison, like a promotion (its control arm no longer serves).
    """
    with transaction(ws.sessions) as session:
        pointer = serving_pointer(session)
        target = rollback_target(session)
        entry = set_active(
            session,
            target,
            actor=actor,
            action="rollback",
            reason=reason,
            expected_generation=pointer.generation,
        )
        if pointer.experiment_id is not None:
            end_experiment(session, actor=actor)
        return entry


def describe_versions(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Every version with its card and status, which one is active, and the promotion log."""
    from models.registry import promotion_log

    with sessions() as session:
        active, generation = active_pointer(session)
        versions = [
            {
                "version": r.version,
                "parent": r.parent,
                "created_at": r.created_at,
                "created_by": r.created_by,
                "status": r.status,
                "active": r.version == active,
                "sha256": r.sha256,
                "card": r.card,
            }
            for r in list_versions(session)
        ]
        log = [
            {
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "from_version": e.from_version,
                "to_version": e.to_version,
                "forced": e.forced,
                "reason": e.reason,
                "comparison": e.comparison,
            }
            for e in promotion_log(session)
        ]
    return {"active": active, "generation": generation, "versions": versions, "promotions": log}


def ensure_demo_ranker(
    ws: Workspace,
    record_referrals: Any,
    *,
    people: int | None = None,
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> str | None:
    """For ``make run``: make sure the demo starts with a trained ranker.

    With no version registered yet: simulate an outcome history (unless one was simulated
    before), train on it, and promote the result if it is not worse than the rule score (it
    is not forced: a demo should show the refusal working rather than hide it). Idempotent;
    returns the active version (``None``: the rule score serves).
    """
    from sqlalchemy import func, select

    from matcher.tables import RecommendationRequest
    from models.simulation import PEOPLE_DEFAULT, SIM_CENTRE, simulate_history

    with ws.sessions() as session:
        active, _ = active_pointer(session)
        if list_versions(session):
            return active
        simulated = session.scalar(
            select(func.count())
            .select_from(RecommendationRequest)
            .where(RecommendationRequest.centre_id == SIM_CENTRE)
        )
    if not simulated:
        echo(f"simulating the outcome history of {people or PEOPLE_DEFAULT} people…")
        summary = simulate_history(
            ws.sessions, record_referrals, people=people or PEOPLE_DEFAULT, seed=seed
        )
        echo(
            f"  {summary['requests']} requests, {summary['impressions']} impressions, "
            f"{summary['referrals']} referrals"
        )
    echo("training the demo ranker…")
    row = train_version(ws, seed=seed, actor="demo:bootstrap")
    try:
        entry = promote_version(
            ws, row.version, actor="demo:bootstrap", reason="trained on the simulated history"
        )
    except PromotionRefused as exc:
        echo(f"  {row.version} not promoted: {exc.detail}")
        return None
    echo(f"  {row.version} serves: {(entry.comparison or {}).get('why', '')}")
    return row.version
