"""Anonymous search load against one counsellor: how much do public readers slow casework?

    .venv/bin/python bench/anon_load_bench.py [--offers 26000] [--anonymous 8]
        [--requests 100] [--seconds 75] [--workers 2] [--env LOTSE_ANON_READS_PER_MINUTE=0 ...]

Seeds (once, then reuses) a scratch SQLite database with the demo catalogue, starts ``lotse
serve`` on 127.0.0.1 and measures ``POST /v1/recommendations`` of one counsellor (one
request at a time on a kept-alive connection, realistic profiles):

1. alone (``--requests`` one after another);
2. for ``--seconds`` (long enough for a per-minute limit to matter), a request every 100 ms,
   while ``--anonymous`` clients, each on its own connection and all from the same address,
   search without a token as fast as they can (``GET /v1/offers?q=…`` and
   ``GET /hsds/services?search=…`` with words from offer titles, a typo now and then).

It prints the counsellor's p50/p95 in both phases, and the anonymous clients' answers by
status (200, 429…) and their rate. ``--env`` passes settings to the server, e.g.
``LOTSE_ANON_READS_PER_MINUTE=0`` to switch the anonymous limit off and measure the search
alone.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import describe_machine  # noqa: E402
from recommend_bench import (  # noqa: E402
    ROOT,
    _free_port,
    _post,
    _wait_ready,
    catalogue_db,
    realistic_profiles,
)

from lotse.accounts import create_token  # noqa: E402
from lotse.db import make_engine, make_session_factory, transaction  # noqa: E402
from lotse.settings import generate_secrets_file  # noqa: E402

WORDS = ("Deutschkurs", "Integrationskurs", "Kita", "Beratung", "Migrationsberatung",
         "Sprachcafe", "Wetzlar", "Giessen", "Anerkennung", "Bewerbung", "Jugend",
         "Frauenkurs", "Tagesmutter", "Volkshochschule", "Caritas", "Diakonie", "Sport",
         "Integratonskurs", "Kinderbetreung", "Nürnberg", "Berufssprachkurs", "Wohnung")  # fmt: skip


def percentiles(samples: list[float]) -> dict[str, float]:
    a = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "mean_ms": round(float(a.mean()), 1),
        "n": len(a),
    }


def counsellor_run(
    port: int, token: str, bodies: list[str], seconds: float = 0, pause: float = 0
) -> dict[str, float]:
    """One request per body; with ``seconds``, round the bodies until that time is up."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times = []
    end = time.perf_counter() + seconds
    n = 0
    while n < len(bodies) or time.perf_counter() < end:
        t = time.perf_counter()
        _post(conn, bodies[n % len(bodies)], headers)
        times.append(time.perf_counter() - t)
        n += 1
        time.sleep(pause)
    conn.close()
    return percentiles(times)


def anonymous_reader(
    port: int, seed: int, stop: threading.Event, seen: Counter, took: list[float]
) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while not stop.is_set():
        word = quote(rng.choice(WORDS))
        path = (
            f"/v1/offers?q={word}&per_page=20"
            if rng.random() < 0.7
            else f"/hsds/services?search={word}&per_page=20"
        )
        try:
            t = time.perf_counter()
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            took.append(time.perf_counter() - t)
            seen[resp.status] += 1
            if resp.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        except OSError:
            seen["error"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offers", type=int, default=26_000)
    parser.add_argument("--anonymous", type=int, default=8)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "lotse-bench")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    generate_secrets_file(args.dir)  # lotse serve refuses to start without secrets
    machine = describe_machine()
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine.items()), flush=True)
    url = catalogue_db(args.dir, args.offers, args.seed)
    with transaction(make_session_factory(make_engine(url))) as session:
        token = create_token(session, "counsellor", centre_id="bench-centre", label="bench")
    profiles = realistic_profiles(args.requests + 40, args.seed + 1)
    bodies = [json.dumps({"profile": p, "k": 10}) for p in profiles]
    port = _free_port()
    extra = dict(item.split("=", 1) for item in args.env)
    env = {**os.environ, "LOTSE_DATABASE_URL": url, "LOTSE_DATA_DIR": str(args.dir), **extra}
    lotse = Path(sys.executable).parent / "lotse"
    cmd = [str(lotse), "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(args.workers)]
    server = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    report: dict = {"machine": machine, "offers": args.offers, "server_env": extra}
    try:
        _wait_ready(port)
        counsellor_run(port, token, bodies[:40])  # warm both workers
        report["alone"] = counsellor_run(port, token, bodies[40:])
        print("counsellor alone:      ", report["alone"], flush=True)
        stop = threading.Event()
        seen: Counter = Counter()
        took: list[float] = []
        readers = [
            threading.Thread(target=anonymous_reader, args=(port, i, stop, seen, took), daemon=True)
            for i in range(args.anonymous)
        ]
        for t in readers:
            t.start()
        time.sleep(2)  # let the readers get going
        started, before = time.perf_counter(), sum(seen.values())
        report["under_load"] = counsellor_run(
            port, token, bodies[40:], seconds=args.seconds, pause=0.1
        )
        elapsed = time.perf_counter() - started
        done = sum(seen.values()) - before
        stop.set()
        for t in readers:
            t.join(timeout=120)
        report["anonymous"] = {
            "clients": args.anonymous,
            "by_status": {str(k): v for k, v in sorted(seen.items(), key=str)},
            "per_second": round(done / elapsed, 1),
            "latency": percentiles(took),
        }
        print(f"counsellor with {args.anonymous} anonymous:", report["under_load"], flush=True)
        print("anonymous answers:     ", report["anonymous"], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
