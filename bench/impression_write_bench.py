"""What logging one served request costs as the impression log grows, and what an index adds.

    .venv/bin/python bench/impression_write_bench.py [--rows 800000] [--writes 400]

Builds a SQLite database with the project's own tables (its migrations, the pragmas the
service uses: WAL, synchronous=NORMAL, foreign keys on), fills the impression log
with ``--rows`` impressions of 13 per request over 2,000 offers, then times what one served
request writes — its request row and 13 impressions, in one transaction — with the log as it
is, and again after adding an index on ``impressions.offer_id`` (which the schema dropped in
migration 0014), alternating rounds so that drift hits both alike. Prints medians and p90.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import machine_line  # noqa: E402

PER_REQUEST = 13
OFFERS = 2000
ROUNDS = 4

_REQUEST = (
    "INSERT INTO recommendation_requests (request_id, served_at, model_version, feature_schema,"
    " catalog_seq, centre_id, person_key, k, lang, context) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_IMPRESSION = (
    "INSERT INTO impressions (request_id, offer_id, need, shown_in, position, score, features,"
    " propensity) VALUES (?,?,?,?,?,?,?,?)"
)


def _schema(path: Path) -> None:
    """The project's tables, created as the service creates them (its migrations)."""
    from service.migrations_runner import migrate

    migrate(f"sqlite:///{path}")


def _fill(con: sqlite3.Connection, rows: int, rng: random.Random) -> list[str]:
    """Offers (only their ids matter here) and ``rows`` impressions; returns the offer ids."""
    columns = [r[1] for r in con.execute("PRAGMA table_info(offers)") if r[3] and r[1] != "id"]
    offers = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(OFFERS)]
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute("BEGIN")
    for offer in offers:
        con.execute(
            f"INSERT INTO offers (id, {', '.join(columns)}) VALUES (?{', 0' * len(columns)})",
            (offer,),
        )
    features = json.dumps({f"f{i}": rng.random() for i in range(37)})
    for _ in range(rows // PER_REQUEST):
        _write(con, offers, features, rng, begin=False)
    con.execute("COMMIT")
    con.execute("PRAGMA foreign_keys=ON")
    return offers


def _write(
    con: sqlite3.Connection, offers: list[str], features: str, rng: random.Random, begin=True
) -> float:
    """One served request's write (request row + impressions), committed; its seconds."""
    request_id = str(uuid.UUID(int=rng.getrandbits(128)))
    started = time.perf_counter()
    if begin:
        con.execute("BEGIN")
    con.execute(_REQUEST, (request_id, "2026-12-07 20:00:00", "v1", "s", 1, None, None, 10,
                           "en", "{}"))  # fmt: skip
    con.executemany(
        _IMPRESSION,
        [
            (request_id, rng.choice(offers), "language", "results", i, 0.5, features, 1.0)
            for i in range(1, PER_REQUEST + 1)
        ],
    )
    if begin:
        con.execute("COMMIT")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=800_000)
    parser.add_argument("--writes", type=int, default=400, help="timed writes per round")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("machine:", machine_line())
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "impressions.db"
        _schema(path)
        con = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            con.execute(f"PRAGMA {pragma}")
        started = time.perf_counter()
        offers = _fill(con, args.rows, rng)
        print(f"filled {args.rows:,} impressions in {time.perf_counter() - started:.1f} s")
        features = json.dumps({f"f{i}": rng.random() for i in range(37)})
        times: dict[str, list[float]] = {"as the schema has it": [], "with an offer index": []}
        for _ in range(ROUNDS):
            for label in times:
                if label == "with an offer index":
                    con.execute("CREATE INDEX ix_bench_offer ON impressions (offer_id)")
                times[label] += [_write(con, offers, features, rng) for _ in range(args.writes)]
                if label == "with an offer index":
                    con.execute("DROP INDEX ix_bench_offer")
        for label, values in times.items():
            values.sort()
            print(
                f"{label:<22} median {statistics.median(values) * 1000:.3f} ms  "
                f"p90 {values[int(len(values) * 0.9)] * 1000:.3f} ms  ({len(values)} writes)"
            )
        con.close()


if __name__ == "__main__":
    main()
