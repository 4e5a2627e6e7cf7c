"""Gate calibration: is the promotion gate's estimate centred on the truth, and are its
intervals as wide as its errors?

    .venv/bin/python bench/gate_calibration_bench.py [--worlds fees,first_language]
        [--runs 10] [--people 700] [--offers 300] [--json FILE]

The gate (``models.counterfactual``) estimates how much better a candidate's order of the
shown offers would have done than the serving order, from logged outcomes, with a 95 %
interval. In a simulated world (``models/worlds.py``) the truth of that same
quantity is known: the DCG@5 of the true values (take-up × gain) of the shown offers in the
candidate's order minus in the rule order, on exactly the rows and orders the gate judged
(the candidate's cross-fitted scores: every person judged by a model that never saw them).

For each run (a world, a catalogue and people drawn from ``seed``; a small dense catalogue —
``--offers`` demo offers in the three biggest towns — so that a run takes seconds), in
process through the public API: serve ``--people`` people under the rule score, train, ask
to promote; then compare, on the same rows,

- the truth: ΔDCG@5 of true values (candidate − rules), per request;
- the estimate ``ips_dcg@5`` with the world's *true* examination curve, and its 95 %
  interval two ways (errors shared within people only; within people and within offers),
  each with the standardised error ``z`` = (estimate − truth) / (interval half-width / 1.96);
- the gate's own decision (with the curve it estimated).

If the estimator is unbiased and its intervals right, ``z`` has mean 0 and standard
deviation 1, about 10 % of runs fall outside the 90 % interval and 5 % outside the 95 %
one. The summary prints those figures, and how often the gate promoted or called *worse*
a candidate whose true difference is within ±``--equal`` of zero (noise in truth).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
from learning_bench import _flask_api, app_installation  # noqa: E402
from machine import describe_machine  # noqa: E402

from catalog.demo import generate_catalogue  # noqa: E402
from models.worlds import LearningRun, people_for, world_named  # noqa: E402

TOWNS = 3
#: The intervals compared: errors shared within people only (as the gate had them) and
#: within people and within offers (as it has them now).
INTERVALS = {"people": ("person_key",), "people+offers": ("person_key", "offer_id")}


def small_catalogue(n: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """The demo catalogue's offers in its ``TOWNS`` biggest towns: dense, and quick to serve."""
    pairs = generate_catalogue(n, seed=seed)
    towns = {m for m, _ in Counter(o["municipality"] for _, o in pairs).most_common(TOWNS)}
    return [(a, o) for a, o in pairs if o["municipality"] in towns]


def one_run(world_name: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Serve, train and ask the gate; then the truth and the true-curve estimate."""
    from casework.outcomes import workspace
    from models import lifecycle, registry
    from models.counterfactual import PositionBias, counterfactual_estimates, policy_ranks
    from models.ranker import feature_matrix

    world = world_named(world_name)
    with app_installation(f"calibrate-{world_name}-{seed}", {}) as (app, tokens, inst):
        run = LearningRun(world, _flask_api(app), tokens, seed=seed)
        run.import_catalogue(small_catalogue(args.offers, seed))
        run.load_catalogue()
        people = people_for(run.places(), args.people, seed=seed + 1)
        person_of: dict[str, Any] = {}
        ask = run.recommend

        def remembering(person: Any, *, log_person: bool = True) -> dict[str, Any]:
            answer = ask(person, log_person=log_person)
            person_of[answer["request_id"]] = person
            return answer

        run.recommend = remembering  # type: ignore[method-assign]
        run.serve(people, 0, len(people))
        version = run.train()["version"]
        promoted, answer = run.promote(version)
        decision = answer["comparison"]["decision"]

        ws = workspace(app.extensions["lotse"].sessions, inst.data_dir)
        with ws.sessions() as session:
            card = registry.get_version(session, version).card
        frame = ws.frame()
        candidate = lifecycle.unseen_scores(ws, version, card, frame)
        judged = np.isfinite(candidate)
        frame, candidate = frame[judged].reset_index(drop=True), candidate[judged]
        rules = np.asarray(ws.rule(feature_matrix(frame, ws.feature_names)), dtype=float)
    true_value = np.array(
        [
            world.value(person_of[q], run.offers[o], 0.5)
            for q, o in zip(frame["request_id"], frame["offer_id"], strict=True)
        ]
    )
    requests = frame["request_id"].nunique()
    truth = {}
    for name, scores in (("candidate", candidate), ("rules", rules)):
        ranks = policy_ranks(frame, scores, seed=int(card.get("seed", 0)))
        discount = np.where(ranks <= 5, 1.0 / np.log2(ranks + 1.0), 0.0)
        truth[name] = float((true_value * discount).sum() / requests)
    curve = PositionBias(tuple(world.attention(r) for r in range(1, 11)), "the world's truth")
    true_diff = truth["candidate"] - truth["rules"]
    row: dict[str, Any] = {
        "world": world_name,
        "seed": seed,
        "people": args.people,
        "offers": len(run.offers),
        "requests": int(requests),
        "true_diff": round(true_diff, 4),
        "gate": decision,
        "promoted": promoted,
    }
    for label, clusters in INTERVALS.items():
        estimates = counterfactual_estimates(
            frame,
            {"candidate": candidate, "rules": rules},
            curve,
            reference="rules",
            seed=int(card.get("seed", 0)),
            clusters=clusters,
        )
        diff = estimates["differences"]["candidate"]["ips_dcg@5"]
        half = (diff["ci"][1] - diff["ci"][0]) / 2
        row["estimate"] = diff["estimate"]
        row[label] = {
            "ci": diff["ci"],
            "z": round((diff["estimate"] - true_diff) / (half / 1.96), 3) if half > 0 else None,
        }
    return row


def summary(rows: list[dict[str, Any]], equal: float) -> dict[str, Any]:
    errors = [r["estimate"] - r["true_diff"] for r in rows]
    near_zero = [r for r in rows if abs(r["true_diff"]) <= equal]
    out: dict[str, Any] = {
        "runs": len(rows),
        "mean_error": round(statistics.mean(errors), 4),
        "se_of_mean_error": round(statistics.stdev(errors) / len(errors) ** 0.5, 4)
        if len(errors) > 1
        else None,
        "equal_in_truth": len(near_zero),
        "equal_promoted": sum(r["gate"] == "promote" for r in near_zero),
        "equal_called_worse": sum(r["gate"] == "worse" for r in near_zero),
        "decisions": dict(Counter(r["gate"] for r in rows)),
    }
    for label in INTERVALS:
        z = [r[label]["z"] for r in rows if r[label]["z"] is not None]
        out[label] = {
            "z_mean": round(statistics.mean(z), 3),
            "z_sd": round(statistics.stdev(z), 3) if len(z) > 1 else None,
            "outside_90": sum(abs(v) > 1.645 for v in z),
            "outside_95": sum(abs(v) > 1.96 for v in z),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worlds", default="fees,first_language")
    parser.add_argument("--runs", type=int, default=10, help="runs (seeds) per world")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--people", type=int, default=700)
    parser.add_argument("--offers", type=int, default=300)
    parser.add_argument("--equal", type=float, default=0.02, help="|true Δ| counted as equal")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print("machine:", json.dumps(describe_machine()), flush=True)
    rows = []
    for world_name in args.worlds.split(","):
        for seed in range(args.first_seed, args.first_seed + args.runs):
            row = one_run(world_name, seed, args)
            rows.append(row)
            intervals = "  ".join(
                f"{label} [{row[label]['ci'][0]:+.4f}, {row[label]['ci'][1]:+.4f}] "
                f"z {row[label]['z']:+.2f}"
                for label in INTERVALS
            )
            print(
                f"{row['world']:<16} seed {seed:>3}  {row['offers']} offers  "
                f"true Δ {row['true_diff']:+.4f}  estimate {row['estimate']:+.4f}  "
                f"{intervals}  gate {row['gate']}",
                flush=True,
            )
    result = summary(rows, args.equal)
    print("summary:", json.dumps(result))
    if args.json:
        args.json.write_text(
            json.dumps({"machine": describe_machine(), "rows": rows, "summary": result}, indent=2)
        )


if __name__ == "__main__":
    main()
