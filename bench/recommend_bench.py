"""Recommendation benchmark: realistic profiles over demo catalogues of 10,000 and 100,000 offers.

    .venv/bin/python bench/recommend_bench.py [--sizes 10000,100000] [--requests 1000]
        [--http-requests 500] [--workers 2] [--no-http] [--rules] [--people 1500]
        [--dir /tmp/lotse-bench] [--json FILE]

For each size it seeds a scratch SQLite database with the demo generator (reused on later
runs) and, unless ``--rules``, makes a learned ranker active (a simulated outcome history of
``--people`` people, trained and promoted once, then reused), then measures:

- the filter stage (``matcher.rules.screen``: every hard rule, with exclusion counts);
- the whole in-process recommendation (``matcher.engine.recommend``: validation, place and
  need resolution, the catalogue-version check against the database, screening, features,
  ranking, reasons), without and with impression logging (``serve_recommendations`` plus a
  commit per request);
- ``POST /v1/recommendations`` over HTTP against ``lotse serve`` (gunicorn) on 127.0.0.1,
  one request at a time on a kept-alive connection, with a counsellor token; then the same
  requests from ``--clients`` (4) concurrent clients: requests per second and latency;
- the pre-score cap: on broad profiles (many needs, wide radius, online fine), top-k with
  the cap against top-k without it, under a ranker that disagrees with the pre-score (the rule
  score with weights perturbed ±60 %, a stand-in for a learned model): overlap@k and NDCG@k.

Targets at 100,000 offers with the learned ranker active: whole in-process
recommendation p50 ≤ 2 ms and p99 ≤ 6 ms, over HTTP p50 ≤ 4 ms (one client) and ≥ 600
requests/s with 4 concurrent clients.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from machine import describe_machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from catalog.demo import MODEL_LOCATIONS, seed_catalogue  # noqa: E402
from catalog.store import count_offers  # noqa: E402
from lotse.accounts import create_token, ensure_centre  # noqa: E402
from lotse.db import make_engine, make_session_factory, transaction  # noqa: E402
from matcher.engine import CANDIDATES_PER_NEED, rank_offers, recommend  # noqa: E402
from matcher.features import FEATURE_NAMES, FEATURE_SCHEMA  # noqa: E402
from matcher.profile import resolve_profile, validate_profile  # noqa: E402
from matcher.rules import screen  # noqa: E402
from matcher.scoring import WEIGHTS, RuleScoreRanker  # noqa: E402
from matcher.serving import serve_recommendations  # noqa: E402
from matcher.snapshot import SnapshotCache  # noqa: E402
from service.migrations_runner import migrate  # noqa: E402

#: The counselling centre the benchmark asks for (requests name a person, so they need one).
BENCH_CENTRE = "bench-centre"
NEED_MIXES: tuple[tuple[tuple[str, ...], float], ...] = (
    (("Deutschkurs",), 0.18),
    (("Deutschkurs", "Kinderbetreuung"), 0.14),
    (("Deutschkurs", "Kita", "Anerkennung"), 0.06),
    (("Integrationskurs", "Arbeit"), 0.08),
    (("Berufssprachkurs", "Anerkennung meines Abschlusses"), 0.07),
    (("Arbeit", "Ausbildung"), 0.07),
    (("Bewerbungshilfe",), 0.04),
    (("Wohnung", "Migrationsberatung"), 0.07),
    (("Tagesmutter",), 0.04),
    (("Sprachcafé", "Patenschaft"), 0.04),
    (("Alphabetisierung", "Kinderbetreuung"), 0.05),
    (("Rechtsberatung",), 0.03),
    (("psychosoziale Beratung", "Deutschkurs"), 0.03),
    (("Jugendmigrationsdienst", "Ausbildung"), 0.04),
    (("Gesundheit",), 0.02),
    (("Sport",), 0.02),
    (("Frauenkurs", "Kinderbetreuung"), 0.02),
)
PROFESSIONS = (None, None, None, "Krankenschwester", "Ingenieur", "Lehrerin", "Ärztin",
               "Erzieherin", "Bäcker", "IT-Fachkraft", "Apotheker", "Elektriker")  # fmt: skip
LEVELS = ("none", "A1", "A2", "B1", "B2", "C1")
LEVEL_P = (0.2, 0.25, 0.25, 0.18, 0.09, 0.03)
STATUSES = ("recognised_refugee", "asylum_seeker", "tolerated", "family_reunification",
            "eu_citizen", "skilled_worker", "resettler", None)  # fmt: skip
LANGS = ("ar", "fa", "uk", "ru", "tr", "ti", "so", "ku", "ps", "en", "fr", "ro", "pl")
AVAILABILITY = (
    {},
    {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["morning"]},
    {"times": ["evening"]},
    {"days": ["mon", "wed", "fri"]},
    {"times": ["morning", "afternoon"]},
)
BROAD_NEEDS = ["language", "work", "counselling", "community", "childcare", "recognition"]


def realistic_profiles(n: int, seed: int) -> list[dict[str, Any]]:
    """Profiles as counsellors record them: the model locations, typical need mixes."""
    rng = np.random.default_rng(seed)
    mixes = [m for m, _ in NEED_MIXES]
    weights = np.array([w for _, w in NEED_MIXES])
    out = []
    for i in range(n):
        age = int(rng.integers(16, 66))
        kids = sorted(int(a) for a in rng.integers(0, 14, size=rng.choice([0, 0, 1, 2, 3])))
        needs = list(mixes[rng.choice(len(mixes), p=weights / weights.sum())])
        out.append(
            {
                "person_ref": f"bench-{seed}-{i}",
                "age": age,
                "gender": str(rng.choice(["female", "male", "female", "male", "diverse"])),
                "location": {"place": str(rng.choice(MODEL_LOCATIONS))},
                "max_distance_km": float(rng.choice([10, 15, 25, 25, 25, 40])),
                "online_ok": bool(rng.random() < 0.25),
                "residence_status": STATUSES[int(rng.integers(len(STATUSES)))],
                "german_level": str(rng.choice(LEVELS, p=LEVEL_P)),
                "literate": bool(rng.random() > 0.08),
                "languages": sorted({str(rng.choice(LANGS)) for _ in range(rng.integers(1, 3))}),
                "children_ages": kids,
                "needs": needs,
                "profession": PROFESSIONS[int(rng.integers(len(PROFESSIONS)))],
                "benefits": [str(rng.choice(["sgb2", "asylblg", "none"]))],
                "availability": AVAILABILITY[int(rng.integers(len(AVAILABILITY)))],
                "wheelchair": bool(rng.random() < 0.03),
            }
        )
    return out


def broad_profiles(n: int, seed: int) -> list[dict[str, Any]]:
    """Profiles that leave many thousand candidates: many needs, 60 km, online fine."""
    out = []
    for p in realistic_profiles(n, seed):
        p.update(
            needs=BROAD_NEEDS,
            max_distance_km=60.0,
            online_ok=True,
            availability={},
            german_level="A2",
            residence_status="recognised_refugee",
            benefits=["sgb2"],
            literate=True,
            children_ages=[3],
        )
        out.append(p)
    return out


def percentiles(samples: list[float], cpu: list[float] | None = None) -> dict[str, float]:
    """Wall-clock p50/p99/mean in ms; with ``cpu`` also the CPU time this thread spent, which
    stays meaningful when other processes compete for the cores."""
    a = np.array(samples) * 1000
    out = {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
        "n": len(a),
    }
    if cpu:
        c = np.array(cpu) * 1000
        out["cpu_p50_ms"] = round(float(np.percentile(c, 50)), 3)
        out["cpu_p99_ms"] = round(float(np.percentile(c, 99)), 3)
    return out


def timed(fn, *args: Any, **kwargs: Any) -> tuple[float, float]:
    """(wall seconds, thread CPU seconds) of one call."""
    w, c = time.perf_counter(), time.thread_time()
    fn(*args, **kwargs)
    return time.perf_counter() - w, time.thread_time() - c


# -- catalogue ----------------------------------------------------------------------------------


def catalogue_db(directory: Path, size: int, seed: int) -> str:
    """A scratch SQLite database with ``size`` demo offers (seeded once, then reused)."""
    path = directory / f"recommend-{size}-{seed}.db"
    url = f"sqlite:///{path}"
    migrate(url)
    sessions = make_session_factory(make_engine(url))
    with transaction(sessions) as session:
        have = count_offers(session)
    if have != size:
        if have:
            raise SystemExit(f"{path} holds {have} offers, not {size}; delete it")
        t = time.perf_counter()
        with transaction(sessions) as session:
            seed_catalogue(session, offers=size, seed=seed)
        print(f"  seeded {size} offers in {time.perf_counter() - t:.1f} s", flush=True)
    return url


# -- in-process -----------------------------------------------------------------------------


def learned_ranker(url: str, data_dir: Path, people: int, seed: int) -> Any:
    """The active learned ranker of the database at ``url``: with none yet, a simulated
    outcome history of ``people`` people is written, a version trained on it and promoted
    (forced: the benchmark measures speed, not the gate), so that recommendations are scored
    by the model as in production."""
    from casework.outcomes import record_simulated_referrals, workspace
    from models.lifecycle import promote_version, train_version
    from models.registry import active_pointer, get_version, load_verified
    from models.serving import ArtifactRanker
    from models.simulation import simulate_history

    sessions = make_session_factory(make_engine(url))
    ws = workspace(sessions, data_dir)
    with sessions() as session:
        active, _ = active_pointer(session)
    if active is None:
        t = time.perf_counter()
        simulate_history(sessions, record_simulated_referrals, people=people, seed=seed)
        row = train_version(ws, seed=seed, actor="bench")
        promote_version(ws, row.version, actor="bench", force=True, reason="benchmark")
        active = row.version
        print(f"  trained and promoted {active} in {time.perf_counter() - t:.1f} s", flush=True)
    with sessions() as session:
        schema = get_version(session, active).card.get("features", {}).get("schema_hash")
        if schema != FEATURE_SCHEMA:
            # it would still serve (an earlier schema the engine only added to), but the
            # benchmark measures a model of today's features
            raise SystemExit(f"{url}'s model has an earlier feature schema; delete the database")
        artifact = load_verified(
            session, data_dir, active, schema_hash=FEATURE_SCHEMA, feature_names=FEATURE_NAMES
        )
    return ArtifactRanker(active, artifact)


def bench_in_process(
    url: str, profiles: list[dict[str, Any]], ranker: Any = None
) -> dict[str, Any]:
    from casework.outcomes import REFERRAL_EVENTS

    sessions = make_session_factory(make_engine(url))
    cache = SnapshotCache(REFERRAL_EVENTS)
    out: dict[str, Any] = {}
    t = time.perf_counter()
    with transaction(sessions) as session:
        snap = cache.current(session)
    out["snapshot_build_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    _ = snap.grid, snap.category_counts
    out["index_build_ms"] = round((time.perf_counter() - t) * 1000, 1)
    out["offers"] = snap.n_live
    resolved = [resolve_profile(validate_profile(p)) for p in profiles]
    for p in resolved[:50]:
        screen(snap, p)
    filt = [timed(screen, snap, p) for p in resolved]
    out["filter"] = percentiles([w for w, _ in filt], [c for _, c in filt])
    out["eligible_median"] = int(np.median([len(screen(snap, p).eligible) for p in resolved]))
    session = sessions()
    try:
        for p in profiles[:50]:
            recommend(session, p, snapshots=cache, ranker=ranker)
        whole = [timed(recommend, session, p, snapshots=cache, ranker=ranker) for p in profiles]
        session.rollback()
        out["recommend"] = percentiles([w for w, _ in whole], [c for _, c in whole])
        out["ranker"] = getattr(ranker, "version", "rules")

        # as a counsellor asks: the request is stored under the person's key in the centre
        ensure_centre(session, BENCH_CENTRE)
        session.commit()

        def serve_and_commit(p: dict[str, Any]) -> None:
            serve_recommendations(
                session, p, centre_id=BENCH_CENTRE, snapshots=cache, ranker=ranker
            )
            session.commit()

        logged = [timed(serve_and_commit, p) for p in profiles]
        out["recommend_logged"] = percentiles([w for w, _ in logged], [c for _, c in logged])
    finally:
        session.close()
    return out


# -- HTTP -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_http(
    url: str, profiles: list[dict[str, Any]], workers: int, data_dir: Path, clients: int
) -> dict[str, Any]:
    sessions = make_session_factory(make_engine(url))
    with transaction(sessions) as session:
        token = create_token(session, "counsellor", centre_id=BENCH_CENTRE, label="bench")
    port = _free_port()
    env = {**os.environ, "LOTSE_DATABASE_URL": url, "LOTSE_DATA_DIR": str(data_dir)}
    lotse = Path(sys.executable).parent / "lotse"
    cmd = [str(lotse), "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--threads", "1"]
    server = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        _wait_ready(port)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        bodies = [json.dumps({"profile": p, "k": 10}) for p in profiles]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        # Warm every worker: the first request of each builds its snapshot and place index.
        for body in bodies[: 40 * workers]:
            _post(conn, body, headers)
        times = []
        for body in bodies:
            t = time.perf_counter()
            _post(conn, body, headers)
            times.append(time.perf_counter() - t)
        conn.close()
        return {
            "workers": workers,
            **percentiles(times),
            "concurrent": _concurrent(port, bodies, headers, clients),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def _concurrent(
    port: int, bodies: list[str], headers: dict[str, str], clients: int
) -> dict[str, Any]:
    """``clients`` threads, each on its own kept-alive connection, send every body once
    (each takes its share): throughput over the whole run and each request's latency. The
    clients run on the same two cores as the server, as a co-located caller would."""
    import threading

    times: list[float] = []
    lock = threading.Lock()

    def client(share: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for body in share:
            t = time.perf_counter()
            _post(conn, body, headers)
            mine.append(time.perf_counter() - t)
        conn.close()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client, args=(bodies[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "requests_per_s": round(len(times) / elapsed, 1),
        **percentiles(times),
    }


def _post(conn: http.client.HTTPConnection, body: str, headers: dict[str, str]) -> None:
    conn.request("POST", "/v1/recommendations", body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {data[:300]!r}")


def _wait_ready(port: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("lotse serve did not become ready")


# -- pre-score cap quality -------------------------------------------------------------------


class PerturbedRanker(RuleScoreRanker):
    """A stand-in for a learned model: the rule score with every weight scaled by a random
    factor in [1 - spread, 1 + spread] and, optionally, per-offer noise — so its order
    differs from the pre-score's as a model trained on outcomes would."""

    def __init__(self, seed: int, spread: float = 0.6, noise: float = 0.0) -> None:
        rng = np.random.default_rng(seed)
        factors = rng.uniform(1 - spread, 1 + spread, size=len(WEIGHTS))
        super().__init__(
            {k: w * float(f) for (k, w), f in zip(WEIGHTS.items(), factors, strict=True)}
        )
        self.noise = noise
        self.rng = rng
        self.version = f"perturbed-{seed}"

    def score(self, features: np.ndarray) -> np.ndarray:
        base = super().score(features)
        if not self.noise:
            return base
        # Noise keyed by the features themselves, so that capped and uncapped runs agree.
        key = np.round(features[:, :3], 3) @ np.array([1.0, 7.0, 13.0])
        return base + self.noise * np.sin(key * 1000.0)


RANKER_KINDS = {
    "weights x[0.4,1.6]": {"spread": 0.6},
    "weights x[0,2] + noise 0.05": {"spread": 1.0, "noise": 0.05},
}


def ndcg_at_k(picked: list[str], ideal: list[str], gain: dict[str, float], k: int) -> float:
    """NDCG@k in [0, 1] of ``picked`` against the ``ideal`` list, gains by offer id."""
    disc = 1 / np.log2(np.arange(2, k + 2))
    dcg = sum(gain.get(o, 0.0) * d for o, d in zip(picked[:k], disc, strict=False))
    idcg = sum(gain.get(o, 0.0) * d for o, d in zip(ideal[:k], disc, strict=False))
    return float(dcg / idcg) if idcg > 0 else 1.0


def bench_cap(url: str, profiles: list[dict[str, Any]], k: int = 10) -> dict[str, Any]:
    sessions = make_session_factory(make_engine(url))
    with transaction(sessions) as session:
        snap = SnapshotCache().current(session)
    resolved = [
        dataclasses.replace(resolve_profile(validate_profile(raw)), today=date.today())
        for raw in profiles
    ]
    out: dict[str, Any] = {"profiles": len(profiles), "cap_per_need": CANDIDATES_PER_NEED}
    eligible = [len(screen(snap, p).eligible) for p in resolved]
    out["eligible_median"] = int(np.median(eligible))
    out["eligible_max"] = int(np.max(eligible))
    for kind, options in RANKER_KINDS.items():
        overlaps, ndcgs, t_cap, t_full = [], [], [], []
        for i, p in enumerate(resolved):
            ranker = PerturbedRanker(i, **options)
            t = time.perf_counter()
            capped = rank_offers(snap, p, k=k, ranker=ranker)
            t_cap.append(time.perf_counter() - t)
            t = time.perf_counter()
            full = rank_offers(snap, p, k=k, ranker=ranker, cap=None)
            t_full.append(time.perf_counter() - t)
            a = [s.offer_id for s in capped.results]
            b = [s.offer_id for s in full.results]
            gain = {s.offer_id: s.score for s in full.results}
            gain.update({s.offer_id: s.score for s in capped.results if s.offer_id not in gain})
            overlaps.append(len(set(a) & set(b)) / max(len(b), 1))
            ndcgs.append(ndcg_at_k(a, b, gain, k))
        out[kind] = {
            f"overlap@{k}_mean": round(float(np.mean(overlaps)), 4),
            f"overlap@{k}_min": round(float(np.min(overlaps)), 4),
            f"ndcg@{k}_mean": round(float(np.mean(ndcgs)), 4),
            f"ndcg@{k}_min": round(float(np.min(ndcgs)), 4),
            "capped_p50_ms": percentiles(t_cap)["p50_ms"],
            "uncapped_p50_ms": percentiles(t_full)["p50_ms"],
        }
    return out


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--http-requests", type=int, default=500)
    parser.add_argument("--broad", type=int, default=100, help="broad profiles for the cap check")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument(
        "--rules",
        action="store_true",
        help="measure with the rule score instead of a learned ranker (trained on a simulated "
        "history of --people people when the database has none)",
    )
    parser.add_argument("--people", type=int, default=1500)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "lotse-bench")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    # The bench's own secrets (person keys of its logged requests; the server it starts
    # refuses to run without them), the same for this process and the server.
    import secrets

    for name in ("LOTSE_SECRET_KEY", "LOTSE_PSEUDONYM_SECRET"):
        os.environ.setdefault(name, secrets.token_urlsafe(32))
    report: dict[str, Any] = {
        "machine": describe_machine(),
        "features": list(FEATURE_NAMES),
        "sizes": {},
    }
    print("machine:", ", ".join(f"{k} {v}" for k, v in report["machine"].items()), flush=True)
    profiles = realistic_profiles(args.requests, args.seed + 1)
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"\n== {size} offers", flush=True)
        url = catalogue_db(args.dir, size, args.seed)
        models_dir = args.dir / f"data-{size}-{args.seed}"
        ranker = None if args.rules else learned_ranker(url, models_dir, args.people, args.seed)
        result = bench_in_process(url, profiles, ranker)
        _show(result)
        result["cap"] = bench_cap(url, broad_profiles(args.broad, args.seed + 2))
        _show({"cap": result["cap"]})
        if not args.no_http:
            result["http"] = bench_http(
                url, profiles[: args.http_requests], args.workers, models_dir, args.clients
            )
            _show({"http": result["http"]})
        report["sizes"][str(size)] = result
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _show(result: dict[str, Any]) -> None:
    for key, value in result.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v}" for k, v in value.items() if not isinstance(v, dict))
            print(f"  {key:<18} {inner}", flush=True)
            for k2, v2 in value.items():
                if isinstance(v2, dict):
                    print(f"  {key + '.' + k2:<18} " + ", ".join(f"{a} {b}" for a, b in v2.items()))
        else:
            print(f"  {key:<18} {value}", flush=True)


if __name__ == "__main__":
    main()
