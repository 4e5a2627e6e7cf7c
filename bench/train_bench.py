"""Training and evaluation benchmark: 1,000,000 impressions with the engine's real features.

Budgets (on the 2-core reference machine): training ≤ 30 s, a full evaluation
report ≤ 3 minutes. "Training" is what ``lotse ranker train`` does after reading the database:
join impressions with outcomes into labels, split by person and time, fit the held-out copy of
the take-up × outcome ranker, fit and score the baselines, the naive metrics and the
counterfactual estimates with their bootstrap intervals, then refit the served copy on every
row (cross-fitting is skipped above 200,000 rows, as in ``lotse ranker train``). "Evaluation"
is what ``lotse ranker evaluate`` does: rebuild the split, score the model and the baselines,
segments, calibration, permutation importance, position bias, and write JSON, Markdown and
PNGs.

The impressions are synthetic (``models.synthetic``: the right columns, label mix, people and
time, a known signal), since a simulated history of this size would take the engine an hour
to serve. Run: ``python bench/train_bench.py [--impressions N] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_line

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import joblib
import numpy as np
import pandas as pd

TRAIN_BUDGET_S = 30.0
EVALUATE_BUDGET_S = 180.0


def read_back(
    impressions: pd.DataFrame, outcomes: pd.DataFrame, schema: str, clock: Clock
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the frames into a scratch SQLite database as the service logs them (untimed),
    then read them back through the training loaders (timed)."""
    from sqlalchemy import create_engine, insert

    from casework.outcomes import referral_outcomes
    from casework.tables import Referral
    from lotse.db import make_engine, make_session_factory
    from matcher.features import FEATURE_NAMES
    from matcher.tables import Impression, RecommendationRequest
    from models import columns as C
    from models.training import load_impressions
    from service.migrations_runner import migrate

    folder = Path(tempfile.mkdtemp(prefix="lotse-bench-db-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate(url)
    raw = create_engine(url)  # no foreign-key pragma: the scratch rows name no real offers
    requests = impressions.drop_duplicates(C.QUERY)
    features = impressions[list(FEATURE_NAMES)].astype(object)
    features = features.where(features.notna(), None)
    with raw.begin() as conn:
        conn.execute(
            insert(RecommendationRequest),
            [
                {
                    "request_id": r.request_id,
                    "served_at": r.served_at.to_pydatetime(warn=False),
                    "model_version": "rules-v2",
                    "feature_schema": schema,
                    "catalog_seq": 1,
                    "centre_id": "bench",
                    "person_key": r.person_key,
                    "k": 10,
                    "lang": "en",
                    "context": {
                        "german_level": r.german_level,
                        "gender": r.gender,
                        "residence_status": r.residence_status,
                        "municipality": r.municipality,
                    },
                }
                for r in requests.itertuples()
            ],
        )
        conn.execute(
            insert(Impression),
            [
                {
                    "request_id": q,
                    "offer_id": o,
                    "need": n,
                    "shown_in": "results",
                    "position": int(p),
                    "score": 0.0,
                    "features": dict(zip(FEATURE_NAMES, f, strict=True)),
                }
                for q, o, n, p, f in zip(
                    impressions[C.QUERY],
                    impressions[C.ITEM],
                    impressions[C.NEED],
                    impressions[C.POSITION],
                    features.itertuples(index=False, name=None),
                    strict=True,
                )
            ],
        )
        conn.execute(
            insert(Referral),
            [
                {
                    "id": f"ref-{i}",
                    "request_id": r.request_id,
                    "offer_id": r.offer_id,
                    "agency_id": "bench",
                    "centre_id": "bench",
                    "person_key": "bench",
                    "status": r.status,
                    "consent_at": r.updated_at.to_pydatetime(warn=False),
                    "created_at": r.updated_at.to_pydatetime(warn=False),
                    "updated_at": r.updated_at.to_pydatetime(warn=False),
                    "created_by": "bench",
                }
                for i, r in enumerate(outcomes.itertuples())
            ],
        )
    raw.dispose()
    print(f"  (wrote a scratch database in {folder}, not timed; removed after reading)", flush=True)
    clock.last = time.perf_counter()
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        read_impressions = load_impressions(session, schema_hash=schema)
        read_outcomes = referral_outcomes(session)
    engine.dispose()
    clock.lap(f"read {len(read_impressions):,} impressions, {len(read_outcomes):,} referrals")
    shutil.rmtree(folder, ignore_errors=True)
    return read_impressions, read_outcomes


class Clock:
    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []
        self.last = time.perf_counter()

    def lap(self, name: str) -> float:
        now = time.perf_counter()
        seconds = now - self.last
        self.last = now
        self.marks.append((name, seconds))
        print(f"  {name:<46} {seconds:7.1f} s", flush=True)
        return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impressions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: temp)")
    parser.add_argument(
        "--database",
        action="store_true",
        help="also write the impressions and referrals to a scratch SQLite database (not "
        "timed) and time reading them back, as `lotse ranker train` does",
    )
    args = parser.parse_args()

    from matcher.features import CATEGORICAL_FEATURES, FEATURE_NAMES, FEATURE_SCHEMA, MONOTONE
    from matcher.scoring import RuleScoreRanker
    from models import columns as C
    from models.counterfactual import PositionBias
    from models.evaluation import build_report, score_models, write_report
    from models.ranker import baselines, take_up_outcome_scorer
    from models.registry import RankerArtifact
    from models.synthetic import outcomes_of, synthetic_frame
    from models.training import build_training_frame, rebuild_split, split_by_person_and_time

    print(f"machine: {machine_line()}")
    print(f"features: {len(FEATURE_NAMES)} ({', '.join(FEATURE_NAMES)})")
    frame = synthetic_frame(args.impressions, FEATURE_NAMES, seed=args.seed)
    impressions = frame.drop(columns=[C.LABEL, C.STATUS])
    outcomes = outcomes_of(frame)
    n_offers = int(frame[C.ITEM].nunique())
    print(
        f"data: {len(impressions):,} impressions, {impressions[C.QUERY].nunique():,} requests, "
        f"{impressions[C.PERSON].nunique():,} people, {len(outcomes):,} referrals\n"
    )
    rule = RuleScoreRanker().score

    print("train (lotse ranker train)")
    clock = Clock()
    if args.database:
        impressions, outcomes = read_back(impressions, outcomes, FEATURE_SCHEMA, clock)
    labelled = build_training_frame(impressions, outcomes)
    clock.lap("join impressions with outcomes, label")
    split = split_by_person_and_time(labelled, seed=args.seed)
    clock.lap(f"split: {len(split.train):,} train / {len(split.test):,} test rows")

    def new_model():
        return take_up_outcome_scorer(
            FEATURE_NAMES,
            categorical=CATEGORICAL_FEATURES,
            monotone=MONOTONE,
            random_state=args.seed,
        )

    model = new_model().fit(split.train)
    clock.lap("fit the held-out copy")
    bias = PositionBias(tuple(model.fitted_.position_bias_), "take-up model")
    evaluation = score_models(
        split,
        model,
        baselines(FEATURE_NAMES, rule, seed=args.seed),
        fit_model=False,
        catalogue_size=n_offers,
        bias=bias,
    )
    clock.lap("baselines, naive metrics, counterfactual estimates")
    served = new_model().fit(labelled)
    clock.lap("refit the served copy on every row")
    artifact = RankerArtifact(served.fitted_, tuple(FEATURE_NAMES), FEATURE_SCHEMA)
    heldout = RankerArtifact(model.fitted_, tuple(FEATURE_NAMES), FEATURE_SCHEMA)
    with tempfile.TemporaryDirectory() as tmp:
        joblib.dump(artifact, Path(tmp) / "model.joblib", compress=3)
        size = (Path(tmp) / "model.joblib").stat().st_size
    clock.lap(f"save artifact ({size / 1024:.0f} KiB)")
    train_total = sum(s for _, s in clock.marks)
    print(f"  {'total':<46} {train_total:7.1f} s  (budget {TRAIN_BUDGET_S:.0f} s)\n")

    print("evaluate (lotse ranker evaluate VERSION)")
    clock = Clock()
    split = rebuild_split(labelled, split.spec.as_dict())
    clock.lap("rebuild the split from the card")

    class Fitted:
        name = "v-bench"

        def fit(self, _frame: pd.DataFrame) -> Fitted:
            return self

        def score(self, f: pd.DataFrame) -> np.ndarray:
            return heldout.score(f[list(FEATURE_NAMES)].to_numpy())

    evaluation = score_models(
        split,
        Fitted(),
        baselines(FEATURE_NAMES, rule, seed=args.seed),
        fit_model=False,
        catalogue_size=n_offers,
        bias=bias,
    )
    clock.lap("score model and baselines")
    history = [{"version": "v-bench", **evaluation.as_card_metrics()}]
    report = build_report(
        evaluation,
        version="v-bench",
        split=split,
        score=heldout.score,
        feature_names=FEATURE_NAMES,
        history=history,
        seed=args.seed,
    )
    clock.lap("segments, calibration, importance, position bias")
    out = args.out or Path(tempfile.mkdtemp(prefix="lotse-report-"))
    write_report(report, out)
    clock.lap(f"write JSON, Markdown, PNGs to {out}")
    evaluate_total = sum(s for _, s in clock.marks)
    print(f"  {'total':<46} {evaluate_total:7.1f} s  (budget {EVALUATE_BUDGET_S:.0f} s)\n")

    print("On the test split: counterfactual sndcg@5 [95% interval], naive NDCG@10 (biased):")
    for name, m in report["metrics"].items():
        e = report["counterfactual"]["models"][name]["sndcg@5"]
        print(
            f"  {name:<22} {e['estimate']:.4f} [{e['ci'][0]:.4f}, {e['ci'][1]:.4f}]  "
            f"{m['ndcg@10']:.4f}"
        )
    ok = train_total <= TRAIN_BUDGET_S and evaluate_total <= EVALUATE_BUDGET_S
    print("\nwithin budget" if ok else "\nOVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
