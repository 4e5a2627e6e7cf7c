"""Bulk import benchmark: a demo catalogue as CSV, imported end to end (read, validate,
duplicate check, write, commit) into a fresh database.

    .venv/bin/python bench/import_bench.py            # 100,000 offers, 3 runs on SQLite
    .venv/bin/python bench/import_bench.py --rows 10000 --runs 1

Prints rows/s (median of the runs) for a fresh import with the helper processes the service
uses by default (``LOTSE_IMPORT_HELPERS``: the cores minus one), the same in one process for
comparison, the time of importing the same file again (every row unchanged, nothing written)
and of ``lotse catalog duplicates`` over the imported catalogue, and the machine it ran on.
The first run also starts the helper processes (a server keeps them for later imports). With ``LOTSE_BENCH_POSTGRES_URL`` (or
``LOTSE_TEST_POSTGRES_URL``) set, the same is measured on PostgreSQL, in a database
``lotse_bench`` that the benchmark drops and creates on that server.

The demo generator's external ids are unique per agency; the benchmark imports every offer
into one agency, so it prefixes each id with its agency.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from machine import machine_line

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from catalog.demo import generate_catalogue, write_csv  # noqa: E402
from catalog.duplicates import find_duplicate_pairs  # noqa: E402
from catalog.importing import ImportReport, import_offers  # noqa: E402
from lotse.accounts import Principal  # noqa: E402
from lotse.db import make_engine, make_session_factory, transaction  # noqa: E402
from lotse.settings import current  # noqa: E402
from service.migrations_runner import migrate  # noqa: E402

ACTOR = Principal(role="admin", name="bench")
AGENCY = "bench"


def demo_csv(rows: int, path: Path) -> None:
    offers = [
        {**offer, "external_id": f"{agency}.{offer['external_id']}"}
        for agency, offer in generate_catalogue(rows, seed=7)
    ]
    write_csv(offers, path)


def fresh_sqlite(folder: Path, run: int) -> str:
    url = f"sqlite:///{folder / f'bench-{run}.db'}"
    migrate(url)
    return url


def fresh_postgres(base_url: str) -> str:
    url = make_url(base_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "lotse_bench" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "lotse_bench"'))
    admin.dispose()
    bench_url = url.set(database="lotse_bench").render_as_string(hide_password=False)
    migrate(bench_url)
    return bench_url


def timed_import(url: str, raw: bytes, helpers: int) -> tuple[float, float, ImportReport]:
    """Wall and CPU seconds (of this process) of one import, commit included."""
    engine = make_engine(url)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        with transaction(make_session_factory(engine)) as session:
            report = import_offers(
                session, ACTOR, AGENCY, raw, fmt="csv", mode="partial", helpers=helpers
            )
        return time.perf_counter() - started, time.process_time() - cpu, report
    finally:
        engine.dispose()


def timed_duplicates(url: str) -> tuple[float, int]:
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        with transaction(make_session_factory(engine)) as session:
            pairs = find_duplicate_pairs(session)
        return time.perf_counter() - started, len(pairs)
    finally:
        engine.dispose()


def measure(
    name: str, fresh: Callable[[int], str], raw: bytes, rows: int, runs: int, helpers: int
) -> None:
    walls, cpus, url = [], [], ""
    for run in range(runs):
        url = fresh(run)
        wall, cpu, report = timed_import(url, raw, helpers)
        accepted = report.created + report.updated + report.unchanged
        assert report.created == rows, (report.created, report.rejected[:3])
        walls.append(wall)
        cpus.append(cpu)
        print(
            f"  {name} run {run + 1} ({helpers} helpers): {wall:.2f} s (cpu {cpu:.2f} s), "
            f"{accepted / wall:,.0f} "
            f"rows/s, {len(report.duplicates)} likely duplicates reported",
            flush=True,
        )
    wall = statistics.median(walls)
    print(
        f"{name}: fresh import of {rows:,} offers, {helpers} helper processes, median of {runs}: "
        f"{wall:.2f} s = {rows / wall:,.0f} rows/s (cpu of this process {statistics.median(cpus):.2f} s)"
    )
    one, cpu, _report = timed_import(fresh(runs), raw, 0)
    print(f"{name}: the same in one process: {one:.2f} s = {rows / one:,.0f} rows/s "
          f"(cpu {cpu:.2f} s); helpers: {one / wall:.2f}x as fast", flush=True)  # fmt: skip
    again, cpu, report = timed_import(url, raw, helpers)
    assert report.unchanged == rows and not report.written
    print(
        f"{name}: re-import, all {rows:,} unchanged: {again:.2f} s = {rows / again:,.0f} rows/s "
        f"(cpu {cpu:.2f} s)"
    )
    seconds, pairs = timed_duplicates(url)
    print(f"{name}: catalog duplicates over {rows:,} offers: {seconds:.2f} s ({pairs} pairs)",
          flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="offers in the CSV")
    parser.add_argument("--runs", type=int, default=3, help="fresh imports per database")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--helpers", type=int, help="helper processes (default: as the service, cores minus one)"
    )
    args = parser.parse_args(argv)
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory(prefix="lotse-bench-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "offers.csv"
        started = time.perf_counter()
        demo_csv(args.rows, csv_path)
        raw = csv_path.read_bytes()
        print(f"demo CSV: {args.rows:,} offers, {len(raw) / 1e6:.1f} MB, generated in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        helpers = current().import_helpers if args.helpers is None else args.helpers
        sqlite = lambda run: fresh_sqlite(folder, run)  # noqa: E731
        measure("SQLite", sqlite, raw, args.rows, args.runs, helpers)
        pg = os.environ.get("LOTSE_BENCH_POSTGRES_URL") or os.environ.get("LOTSE_TEST_POSTGRES_URL")
        if pg and not args.no_postgres:
            postgres = lambda _run: fresh_postgres(pg)  # noqa: E731
            measure("PostgreSQL", postgres, raw, args.rows, args.runs, helpers)
        elif not args.no_postgres:
            print("PostgreSQL: skipped (set LOTSE_BENCH_POSTGRES_URL to measure it)")


if __name__ == "__main__":
    main()
