"""Why an online comparison is decided once, on a planned number of people.

    .venv/bin/python bench/peeking_bench.py [--runs 200] [--people 750] [--every 50]

Simulates interleaved comparisons in which the two versions are equally good (every result
is referred with the same chance whichever team placed it) and asks the gate's question —
is the challenger better with 95 % one-sided confidence? (``models.experiments.
compare_teams``, the gain difference) — in two ways: once, when the planned ``--people`` are
in; and after every ``--every`` people, promoting at the first look that says so. Prints how
often each promotes a version that is no better: the first should be about 5 %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import machine_line  # noqa: E402

from models.experiments import compare_teams, credit_teams  # noqa: E402

AT = pd.Timestamp("2026-12-01", tz="UTC")


def _comparison(rng: np.random.Generator, people: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Interleaved requests of ``people`` people (1–3 each, ten results split between the
    teams by a coin), each result referred with 8 % chance whoever placed it, a third of
    the referrals completed: shown results and outcomes, people in the order they came."""
    shown, outcomes = [], []
    for person in range(people):
        for r in range(int(rng.integers(1, 4))):
            rid = f"{person}-{r}"
            for slot in range(10):
                team = "challenger" if rng.random() < 0.5 else "control"
                shown.append((rid, f"p{person:06d}", AT, f"o{slot}", team))
                if rng.random() < 0.08:
                    status = "completed" if rng.random() < 0.33 else "declined"
                    outcomes.append((rid, f"o{slot}", status, AT))
    columns = ["request_id", "person_key", "served_at", "offer_id", "team"]
    return (
        pd.DataFrame(shown, columns=columns),
        pd.DataFrame(outcomes, columns=["request_id", "offer_id", "status", "updated_at"]),
    )


def _promotes(shown: pd.DataFrame, outcomes: pd.DataFrame, people: int, seed: int) -> bool:
    part = shown[shown["person_key"] < f"p{people:06d}"]
    report = compare_teams(credit_teams(part, outcomes), draws=400, seed=seed)
    return report["differences"]["gain"]["one_sided"][0] > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--people", type=int, default=750)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("machine:", machine_line())
    rng = np.random.default_rng(args.seed)
    once = peeking = 0
    for run in range(args.runs):
        shown, outcomes = _comparison(rng, args.people)
        once += _promotes(shown, outcomes, args.people, run)
        looks = range(args.every, args.people + 1, args.every)
        peeking += any(_promotes(shown, outcomes, n, run) for n in looks)
    n_looks = len(range(args.every, args.people + 1, args.every))
    print(f"{args.runs} comparisons of two equally good versions, {args.people} people each")
    print(f"  decided once, on the planned {args.people}: promoted {once / args.runs:.1%}")
    print(
        f"  asked every {args.every} people ({n_looks} looks): promoted {peeking / args.runs:.1%}"
    )


if __name__ == "__main__":
    main()
