"""What a worker's first requests pay for outcome-history lookups, measured in one process.

    .venv/bin/python bench/history_positions_bench.py [--size 100000] [--requests 500]
        [--rounds 6] [--warm 100] [--dir /tmp/lotse-bench]

``SnapshotCache`` finds every live offer's place in the outcome history when it builds or
patches a snapshot. Before, each request looked up the places of the eligible rows no
earlier request of the same snapshot had seen, so a fresh worker's first few hundred
requests each looked up thousands of keys. This benchmark serves the same profiles (the
recommendation benchmark's catalogue and learned ranker, reused from ``--dir``) in
alternating rounds, each on a fresh outcome history warmed by ``--warm`` requests: as a
worker had it before (only what those requests looked up: "lazy") and as it has it now
(every place found when the snapshot was made: "found"), and prints the median over the rounds of
each round's p50, p99 and mean; then what finding the offers that name a person's
profession costs a request, looked through every offer's words or kept per snapshot
(``Snapshot.naming_rows``). Same process, same snapshot, alternating: the machine's
drift falls on both alike.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe_machine  # noqa: E402
from recommend_bench import (  # noqa: E402
    catalogue_db,
    learned_ranker,
    percentiles,
    realistic_profiles,
)

from casework.outcomes import REFERRAL_EVENTS  # noqa: E402
from lotse.db import make_engine, make_session_factory  # noqa: E402
from matcher.engine import recommend  # noqa: E402
from matcher.history import OutcomeHistory  # noqa: E402
from matcher.profile import resolve_profile, validate_profile  # noqa: E402
from matcher.rules import screen  # noqa: E402
from matcher.snapshot import SnapshotCache  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--people", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/lotse-bench"))
    args = parser.parse_args()
    print("machine:", describe_machine())
    url = catalogue_db(args.dir, args.size, args.seed)
    ranker = learned_ranker(url, args.dir / f"data-{args.size}-{args.seed}", args.people, args.seed)
    session = make_session_factory(make_engine(url))()
    cache = SnapshotCache(REFERRAL_EVENTS)
    profiles = realistic_profiles(args.warm + args.requests, args.seed + 1)
    snapshot = cache.current(session)
    kept = []  # every round's history stays alive: the snapshot keys its places by id()

    def fresh_worker(found: bool) -> None:
        """A worker's history as after ``--warm`` requests: nothing registered but what
        those requests (or, with ``found``, the snapshot's build) looked up."""
        history = OutcomeHistory()
        kept.append(history)
        cache.history = history
        if found:
            history.rows_index(snapshot, snapshot.live_rows)
        for profile in profiles[: args.warm]:
            recommend(session, profile, snapshots=cache, ranker=ranker)

    rounds: dict[str, list[tuple[float, float, float]]] = {"lazy": [], "found": []}
    for n in range(args.rounds):
        for name in ("lazy", "found") if n % 2 == 0 else ("found", "lazy"):
            fresh_worker(name == "found")
            times = []
            for profile in profiles[args.warm :]:
                started = time.perf_counter()
                recommend(session, profile, snapshots=cache, ranker=ranker)
                times.append(time.perf_counter() - started)
            p = percentiles(times)
            rounds[name].append((p["p50_ms"], p["p99_ms"], p["mean_ms"]))
    for name, values in rounds.items():
        p50, p99, mean = np.median(np.array(values), axis=0)
        print(
            f"{name:<6} median of {args.rounds} rounds: p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
            f"mean {mean:.3f} ms"
        )
    naming(snapshot, profiles[args.warm :])


def naming(snapshot, profiles) -> None:
    """Which eligible offers name the person's profession: looked through each offer's words
    (as every request did before) against ``Snapshot.naming_rows`` (kept per snapshot)."""
    cases = []
    for profile in profiles:
        resolved = resolve_profile(validate_profile(profile))
        if resolved.profession_queries:
            words = tuple(w for q in resolved.profession_queries for w in q.split())
            cases.append((words, screen(snapshot, resolved).eligible))
    for name in ("words", "kept", "words", "kept"):
        started = time.perf_counter()
        for words, rows in cases:
            if name == "words":
                snapshot.vocabulary.matching(words)[snapshot.tokens[rows]].any(axis=1)
            else:
                snapshot.naming_rows(words)[rows]
        took = (time.perf_counter() - started) / max(len(cases), 1) * 1e6
        print(f"profession rows, {name}: {took:.1f} µs a request ({len(cases)} requests)")


if __name__ == "__main__":
    main()
