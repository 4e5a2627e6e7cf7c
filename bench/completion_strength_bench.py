"""What the completion rates' empirical-Bayes strength costs a request after new outcomes.

    .venv/bin/python bench/completion_strength_bench.py [--offers 100000] [--orgs 5000]
        [--history 20000] [--requests 1000] [--rounds 4]

``OutcomeHistory`` pulls the completion rates towards their parent as far as the data say
providers differ (``matcher.history.moment_strength``), which reads every offer's sums. Found
again after every new outcome, a request that follows one pays for that; found again only
once ``STRENGTH_REFRESH_EVENTS`` outcomes (or 1 % more) arrived, almost never. This builds a
history of ``--history`` finished courses over ``--offers`` offers, then, in alternating
rounds, applies one outcome before each of ``--requests`` feature reads of 300 offers (a
request's candidates), with the refresh as shipped and forced on every outcome, and prints
the medians over the rounds of each round's p50 and mean.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import machine_line  # noqa: E402

from matcher.history import STRENGTH_REFRESH_EVENTS, OutcomeEvent, OutcomeHistory  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build(offers: int, orgs: int, courses: int) -> tuple[OutcomeHistory, list[str], list[str]]:
    h = OutcomeHistory()
    ids = [f"o{i}" for i in range(offers)]
    org_of = [f"org{i % orgs}" for i in range(offers)]
    h.index(ids, org_of, [f"area{i % 400}" for i in range(offers)])
    rng = np.random.default_rng(0)
    events = []
    for i in range(courses):
        row = int(rng.integers(offers))
        at = T0 + timedelta(minutes=i)
        end = "completed" if rng.random() < 0.7 else "dropped"
        for j, status in enumerate(("enrolled", end)):
            events.append(
                OutcomeEvent(2 * i + j + 1, f"r{i}", ids[row], org_of[row], "a", status, at)
            )
    h.apply(events)
    return h, ids, org_of


def round_of(
    h: OutcomeHistory, ids: list[str], orgs: list[str], n: int, start: int, every: bool
) -> list[float]:
    """``n`` reads, each after one new outcome; ``every``: the strengths found again before
    each read (as they were before ``STRENGTH_REFRESH_EVENTS``)."""
    idx = h.index(ids[:300], orgs[:300], [f"area{i % 400}" for i in range(300)])
    now = T0 + timedelta(days=60)
    took = []
    for j in range(n):
        event_id = start + j
        h.apply([OutcomeEvent(event_id, f"x{event_id}", ids[j], orgs[j], "a", "declined", now)])
        if every:
            h._strengths = (-1, 0.0, 0.0)  # "never found": the next read finds them
        t = time.perf_counter()
        h.features_of(idx, now)
        took.append(time.perf_counter() - t)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=5_000)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    print(machine_line())
    h, ids, orgs = build(args.offers, args.orgs, args.history)
    results: dict[str, list[tuple[float, float]]] = {"as shipped": [], "every outcome": []}
    start = 10_000_000
    for r in range(args.rounds):
        order = ["as shipped", "every outcome"] if r % 2 == 0 else ["every outcome", "as shipped"]
        for name in order:
            took = round_of(h, ids, orgs, args.requests, start, every=name == "every outcome")
            start += args.requests
            results[name].append((float(np.percentile(took, 50)), float(np.mean(took))))
    print(f"refresh as shipped: after {STRENGTH_REFRESH_EVENTS} outcomes or 1 % more")
    for name, rows in results.items():
        p50 = statistics.median(p for p, _ in rows) * 1000
        mean = statistics.median(m for _, m in rows) * 1000
        print(f"{name:14s} a request's history features after one new outcome: "
              f"p50 {p50:.3f} ms, mean {mean:.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
