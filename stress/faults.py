"""Faults: what Lotse does when the importer dies, the database goes away, or a model artifact
is damaged.

``import-kill``
    ``lotse catalog import big.csv --agency X`` is killed with SIGKILL at several points of
    the file (measured from a complete import of a file of the same size). After each kill the
    agency's part of the catalogue must be entirely old or entirely new: the count of offers, a
    checksum over their content, the history and the catalogue sequence are compared with the
    state before and with the file. A last, unkilled import must then succeed (no lock, journal
    or half-written row left behind).

``db-restart``
    A private PostgreSQL cluster (initdb under /tmp, own port, loopback) serves ``lotse serve``.
    The cluster is stopped (``pg_ctl stop -m fast``): readiness, reads, writes and
    recommendations must answer 503 ``application/problem+json`` and the server must stay up.
    After ``pg_ctl start`` every endpoint must serve again without restarting Lotse (the pool
    pings its connections), and the gunicorn workers must be the ones that were there before.

``corrupt-model``
    v1 serves; bytes are flipped in artifacts under ``LOTSE_DATA_DIR/models``. Promoting a
    corrupted version is refused (409) and the pointer stays; pointing the registry at a
    corrupted version behind the API's back (as a promotion made elsewhere would), or
    corrupting the active version's own file and making every worker reload it, makes the
    workers refuse the file and serve on with what they hold: the recommendations'
    ``model_version`` never changes, no request fails, and ``GET /v1/models`` names the error.
    Promoting a sound version afterwards serves it.

    python stress/faults.py all                          # full form
    python stress/faults.py all --short                  # the CI short form
    python stress/faults.py import-kill --rows 50000 --postgres URL
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.common import (
    ROOT,
    Client,
    Installation,
    PrivateCluster,
    Server,
    add_backend_arguments,
    chosen_postgres,
    installation,
    log,
    lotse_command,
    machine_info,
    print_summary,
    private_cluster_possible,
)

AGENCY = "fault-agency"
PROFILE = {
    "person_ref": "fault-0001",
    "age": 30,
    "gender": "female",
    "location": {"place": "Leipzig"},
    "residence_status": "recognised_refugee",
    "german_level": "A1",
    "languages": ["ar"],
    "needs": ["Deutschkurs", "Arbeit"],
}


# --- (a) the importer killed mid-file -------------------------------------------------------

COLUMNS = (
    "external_id",
    "title",
    "category",
    "organization",
    "municipality",
    "latitude",
    "longitude",
    "languages",
    "capacity_total",
    "capacity_free",
)


def big_csv(path: Path, rows: int, generation: int) -> None:
    """``rows`` valid offers for one agency. Every generation rewrites all rows (another title
    and capacity) and adds ten per cent new ones, so old and new differ in every offer."""
    total = rows + rows * generation // 10
    cats = ("language_cafe", "mentoring", "application_support", "job_placement", "daycare")
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(total):
            writer.writerow(
                [
                    f"big-{i:06d}",
                    f"Angebot {i:06d} – Fassung {generation}",
                    cats[i % len(cats)],
                    f"Träger {i % 97}",
                    "Leipzig",
                    f"{51.30 + (i % 100) * 0.001:.4f}",
                    f"{12.33 + (i % 89) * 0.001:.4f}",
                    "de;en",
                    "40",
                    str((i + generation) % 40),
                ]
            )


def file_digest(path: Path) -> tuple[int, str]:
    """``(rows, checksum)`` of what the file says, comparable with ``catalogue_digest``."""
    with path.open(newline="") as fh:
        rows = sorted(
            (r["external_id"], r["title"], int(r["capacity_free"])) for r in csv.DictReader(fh)
        )
    return len(rows), _digest(rows)


def _digest(rows: list[tuple[Any, ...]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(row).encode())
    return h.hexdigest()


def catalogue_digest(inst: Installation) -> dict[str, Any]:
    """The agency's offers as stored: count, content checksum, versions and history rows,
    and the whole catalogue's size and sequence."""
    rows = sorted(
        (r[0], r[1], int(r[2]))
        for r in inst.rows(
            "SELECT external_id, title, capacity_free FROM offers WHERE agency_id = :a",
            a=AGENCY,
        )
    )
    return {
        "offers": len(rows),
        "checksum": _digest(rows),
        "versions": int(
            inst.scalar(
                "SELECT coalesce(sum(version), 0) FROM offers WHERE agency_id = :a", a=AGENCY
            )
        ),
        "history": int(
            inst.scalar(
                "SELECT count(*) FROM offer_history h JOIN offers o ON o.id = h.offer_id "
                "WHERE o.agency_id = :a",
                a=AGENCY,
            )
        ),
        "all_offers": int(inst.scalar("SELECT count(*) FROM offers")),
        "seq": int(inst.scalar("SELECT seq FROM catalog_state WHERE id = 1")),
    }


class WriterProbe:
    """Whether some transaction is writing to the database right now: on SQLite, another
    connection cannot take the write lock; on PostgreSQL, a client session holds a
    transaction id (client sessions only: autovacuum's ANALYZE of the freshly seeded tables
    takes one too, and counting it once made the kills land before the import wrote).
    Tells a kill that landed inside the import's write transaction from one before it."""

    def __init__(self, inst: Installation) -> None:
        self.inst = inst
        self.sqlite_path = (
            inst.database_url.split("///", 1)[1] if inst.backend == "sqlite" else None
        )
        self.engine = None if self.sqlite_path else inst.engine()

    def writing(self) -> bool:
        if self.sqlite_path:
            import sqlite3

            conn = sqlite3.connect(self.sqlite_path, timeout=0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True  # "database is locked": a writer holds it
            finally:
                conn.close()
        from sqlalchemy import text

        assert self.engine is not None
        with self.engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL "
                        "AND datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend'"
                    )
                ).scalar()
            )

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def run_import(
    inst: Installation,
    path: Path,
    probe: WriterProbe,
    kill: tuple[str, float] | None = None,
    timing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the importer, watching for its write transaction. ``kill`` is ``("read", f)``: a
    SIGKILL at ``f`` of the time before writing starts, or ``("write", f)``: at ``f`` of the
    write phase after it started (times from ``timing``, a complete import measured before)."""
    cmd = [*lotse_command(), "catalog", "import", str(path), "--agency", AGENCY]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=inst.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    write_started = None
    killed = in_write = False
    try:
        while proc.poll() is None:
            now = time.monotonic() - t0
            if write_started is None and probe.writing():
                write_started = now
            if kill is not None and timing is not None:
                phase, frac = kill
                if phase == "read":
                    due = frac * timing["write_start"]
                elif write_started is not None:
                    due = write_started + frac * timing["write_phase"]
                else:
                    due = None
                if due is not None and now >= due:
                    in_write = probe.writing()
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
                    break
            time.sleep(0.005)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    end = time.monotonic() - t0
    return {
        "killed": killed,
        "killed_while_writing": killed and in_write,
        "killed_at_s": round(end, 2) if killed else None,
        "returncode": proc.returncode,
        "seconds": round(end, 2),
        "write_start": write_started if write_started is not None else end,
        "write_phase": end - (write_started if write_started is not None else end),
        "output": (out.decode(errors="replace") + err.decode(errors="replace"))[-600:],
    }


#: Where to kill: before the write transaction (reading, validating, comparing) and at
#: fractions of the write phase (inserts, updates, history, commit).
KILLS_FULL = (
    ("read", 0.3),
    ("read", 0.8),
    ("write", 0.0),
    ("write", 0.2),
    ("write", 0.5),
    ("write", 0.8),
    ("write", 0.95),
)
KILLS_SHORT = (("read", 0.5), ("write", 0.05), ("write", 0.6))


def import_kill(
    rows: int = 20_000,
    kills: tuple[tuple[str, float], ...] = KILLS_FULL,
    postgres: str | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """SIGKILL the importer of a ``rows``-row file at each of ``kills``."""
    started = time.monotonic()
    problems: list[str] = []
    outcomes: list[dict[str, Any]] = []
    with installation("lotse-stress-import", postgres=postgres, keep=keep) as inst:
        probe = WriterProbe(inst)
        inst.lotse("demo", "seed", "--offers", "200", "--seed", "3")
        generation = 0

        def next_file() -> Path:
            nonlocal generation
            path = inst.data_dir / f"gen{generation}.csv"
            big_csv(path, rows, generation)
            generation += 1
            return path

        log(f"{inst.backend}: importing {rows} rows, then timing a complete re-import")
        for _ in range(2):  # the second one (an update of every row) sets the timing
            path = next_file()
            timing = run_import(inst, path, probe)
            if timing["returncode"] != 0:
                raise RuntimeError(f"a complete import failed: {timing['output']}")
            state = catalogue_digest(inst)
            if (state["offers"], state["checksum"]) != file_digest(path):
                problems.append("a complete import does not hold what the file says")
        log(
            f"complete import {timing['seconds']:.2f}s, writing from "
            f"{timing['write_start']:.2f}s for {timing['write_phase']:.2f}s"
        )
        for n, kill in enumerate(kills, 1):
            path = next_file()
            new_rows, new_sum = file_digest(path)
            before = state
            result = run_import(inst, path, probe, kill, timing)
            after = catalogue_digest(inst)
            old_kept = (after["offers"], after["checksum"]) == (
                before["offers"],
                before["checksum"],
            )
            new_whole = (after["offers"], after["checksum"]) == (new_rows, new_sum)
            if old_kept:
                outcome = "old"
                consistent = after == before
            elif new_whole:
                outcome = "new"
                consistent = (
                    after["seq"] == before["seq"] + 1
                    and after["history"] == before["history"] + new_rows
                    and after["all_offers"] == before["all_offers"] + new_rows - before["offers"]
                )
            else:
                outcome, consistent = "MIXED", False
            if not consistent:
                problems.append(
                    f"kill {kill}: catalogue is {outcome}: before {before}, after {after}, "
                    f"file {new_rows} rows"
                )
            if not result["killed"] and result["returncode"] != 0:
                problems.append(f"import {n} failed on its own: {result['output']}")
            outcomes.append(
                {
                    "kill": f"{kill[0]} {kill[1]:.0%}",
                    "at_s": result["killed_at_s"],
                    "while_writing": result["killed_while_writing"],
                    "catalogue": outcome,
                    "offers": after["offers"],
                }
            )
            log(
                f"kill {n}/{len(kills)} ({kill[0]} {kill[1]:.0%}) at {result['killed_at_s']}s, "
                f"writing={result['killed_while_writing']}: {outcome} ({after['offers']} offers)"
            )
            state = after
        # the catalogue still takes an import, and it lands whole
        path = next_file()
        final = run_import(inst, path, probe)
        after = catalogue_digest(inst)
        if final["returncode"] != 0 or (after["offers"], after["checksum"]) != file_digest(path):
            problems.append(f"the import after the kills did not land whole: {final['output']}")
        probe.close()
        info = machine_info(inst)
    survived = sum(1 for o in outcomes if o["catalogue"] in ("old", "new"))
    return {
        "fault": "importer killed with SIGKILL",
        "backend": info["database"],
        "rows": rows,
        "complete_import_s": timing["seconds"],
        "write_phase_s": round(timing["write_phase"], 2),
        "kills": len(outcomes),
        "killed_while_writing": sum(1 for o in outcomes if o["while_writing"]),
        "left_old": sum(1 for o in outcomes if o["catalogue"] == "old"),
        "left_new": sum(1 for o in outcomes if o["catalogue"] == "new"),
        "faults_survived": survived,
        "outcomes": outcomes,
        "duration_s": round(time.monotonic() - started, 1),
        "machine": info,
        "ok": not problems and survived == len(outcomes),
        "problems": problems,
    }


# --- (b) the database stopped and started ---------------------------------------------------


def _expect_problem_503(status: int, headers: dict[str, str], body: Any) -> str | None:
    if status != 503:
        return f"status {status}"
    if not headers.get("content-type", "").startswith("application/problem+json"):
        return f"content type {headers.get('content-type')}"
    if not isinstance(body, dict) or not {"type", "title", "status", "detail"} <= set(body):
        return f"body {str(body)[:200]}"
    if body.get("status") != 503:
        return f"problem status {body.get('status')}"
    return None


def _probe_all(server: Server, tokens: dict[str, str], offer_id: str, version: list[int]):
    """One request of each kind: readiness, a read, a search, a write and a recommendation."""
    anon = Client(server.base_url, timeout=30)
    counsellor = Client(server.base_url, tokens["counsellor"], timeout=30)
    agency = Client(server.base_url, tokens["agency"], timeout=30)
    try:
        yield "readyz", anon.request("GET", "/readyz")
        yield "offer", anon.request("GET", f"/v1/offers/{offer_id}")
        yield "search", anon.request("GET", "/v1/offers?q=Deutsch&per_page=5")
        got = agency.request(
            "PATCH",
            f"/v1/offers/{offer_id}",
            {"capacity_free": (version[0] % 10) + 1},
            headers={"If-Match": str(version[0])},
        )
        if got[0] == 200:
            version[0] = got[2]["version"]
        elif got[0] == 412:  # an earlier PATCH landed although its answer said otherwise?
            version[0] = int(anon.request("GET", f"/v1/offers/{offer_id}")[2]["version"])
        yield "patch", got
        yield "recommend", counsellor.request("POST", "/v1/recommendations", {"profile": PROFILE})
    finally:
        for c in (anon, counsellor, agency):
            c.close()


class Prober(threading.Thread):
    """``_probe_all`` in a loop throughout the faults, on its own offer: every answer must be
    a 200, or a 503 problem while the database is away; never a 500 or a dropped connection
    (requests caught in flight when the database goes are the likeliest to go wrong)."""

    def __init__(self, server: Server, tokens: dict[str, str], offer_id: str, version: int):
        super().__init__(daemon=True)
        self.args = (server, tokens, offer_id, [version])
        self.stop = threading.Event()
        self.counts: Counter = Counter()
        self.wrong: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for kind, (status, headers, body) in _probe_all(*self.args):
                    if status == 200:
                        self.counts["200"] += 1
                    elif _expect_problem_503(status, headers, body) is None:
                        self.counts["503"] += 1
                    else:
                        self.counts["wrong"] += 1
                        self.wrong.append(f"{kind} -> {status} {str(body)[:200]}")
                time.sleep(0.05)  # a steady trickle, not a flood of 503s while it is down
            except (OSError, http.client.HTTPException) as exc:
                self.counts["wrong"] += 1
                self.wrong.append(f"connection error {exc!r}")
                time.sleep(0.1)


def _workers_booted(server: Server) -> int:
    return server.log_text().count("Booting worker")


def db_restart(
    cycles: int = 2, down_seconds: float = 5, keep: bool = False, crash: bool = False
) -> dict[str, Any]:
    """Stop (``-m fast``) and start a private PostgreSQL cluster under a running ``lotse
    serve``, ``cycles`` times; with ``crash``, once more with ``-m immediate``."""
    reason = private_cluster_possible()
    if reason:
        return {"fault": "database restart", "skipped": reason, "ok": True}
    started = time.monotonic()
    problems: list[str] = []
    figures: Counter = Counter()
    recovery: list[float] = []
    with PrivateCluster() as cluster:
        log(f"private PostgreSQL cluster on 127.0.0.1:{cluster.port} ({cluster.dir})")
        with installation("lotse-stress-dbrestart", postgres=cluster.url, keep=keep) as inst:
            # The probes read without a token, faster than the anonymous limit allows.
            inst.extra_env["LOTSE_ANON_READS_PER_MINUTE"] = "0"
            inst.lotse("demo", "seed", "--offers", "200", "--seed", "5")
            # two offers with room for the capacities the probes write (1 to 10)
            (offer_id, version), (other_id, other_version) = inst.rows(
                "SELECT id, version FROM offers WHERE capacity_total >= 10 ORDER BY id LIMIT 2"
            )
            tokens = {
                "counsellor": inst.create_token("counsellor", centre="fault-centre"),
                "agency": inst.create_token("admin"),  # may edit both offers
            }
            current = [int(version)]
            with Server(inst, workers=2, threads=4) as server:
                booted = _workers_booted(server)
                master = server.proc.pid if server.proc else None
                for kind, (status, _, body) in _probe_all(server, tokens, offer_id, current):
                    figures["before_ok"] += status == 200
                    if status != 200:
                        problems.append(f"before: {kind} -> {status} {str(body)[:200]}")
                prober = Prober(server, tokens, other_id, int(other_version))
                prober.start()
                modes = ["fast"] * cycles + (["immediate"] if crash else [])
                for cycle, mode in enumerate(modes, 1):
                    cluster.stop(mode)
                    log(f"cycle {cycle}: database stopped (-m {mode})")
                    down_until = time.monotonic() + down_seconds
                    while time.monotonic() < down_until:
                        try:
                            probes = list(_probe_all(server, tokens, offer_id, current))
                        except (OSError, http.client.HTTPException) as exc:
                            problems.append(f"cycle {cycle}, down: connection error {exc!r}")
                            break
                        for kind, (status, headers, body) in probes:
                            figures["down_requests"] += 1
                            wrong = _expect_problem_503(status, headers, body)
                            if wrong:
                                problems.append(f"cycle {cycle}, down: {kind} -> {wrong}")
                            else:
                                figures["down_503_problem"] += 1
                        time.sleep(0.2)
                    cluster.start()
                    t0 = time.monotonic()
                    log(f"cycle {cycle}: database started")
                    # the first request after the start must already be served
                    deadline = t0 + 30
                    ready = False
                    while time.monotonic() < deadline:
                        status, _, _ = Client(server.base_url).request("GET", "/readyz")
                        if status == 200:
                            ready = True
                            break
                        time.sleep(0.1)
                    recovery.append(round(time.monotonic() - t0, 2))
                    if not ready:
                        problems.append(f"cycle {cycle}: /readyz not 200 30 s after the start")
                    for _round in range(6):  # several rounds: both workers, every pooled conn
                        for kind, (status, _, body) in _probe_all(
                            server, tokens, offer_id, current
                        ):
                            figures["after_requests"] += 1
                            if status == 200:
                                figures["after_ok"] += 1
                            else:
                                problems.append(
                                    f"cycle {cycle}, after: {kind} -> {status} {str(body)[:200]}"
                                )
                    figures["cycles_survived"] += 1
                prober.stop.set()
                prober.join(timeout=60)
                if prober.wrong:
                    problems += [f"in flight: {w}" for w in prober.wrong[:10]]
                if server.proc is None or server.proc.poll() is not None:
                    problems.append("lotse serve exited")
                if server.proc is not None and server.proc.pid != master:
                    problems.append("lotse serve was restarted")
                if _workers_booted(server) != booted:
                    problems.append(
                        f"gunicorn booted {_workers_booted(server) - booted} new worker(s)"
                    )
                server_errors = server.unexpected_errors()
                if server_errors:
                    problems.append(f"{server_errors} unhandled errors in the server log")
                    problems += server.error_lines(3)
            info = machine_info(inst)
    return {
        "fault": "database stopped and started (pg_ctl stop -m fast / start)",
        "backend": info["database"],
        "cycles": len(modes),
        "stop_modes": modes,
        "faults_survived": figures["cycles_survived"] if not problems else 0,
        "requests_while_down": figures["down_requests"],
        "answered_503_problem_json": figures["down_503_problem"],
        "requests_after": figures["after_requests"],
        "served_after": figures["after_ok"],
        "background_requests": dict(prober.counts),
        "ready_again_after_s": recovery,
        "duration_s": round(time.monotonic() - started, 1),
        "machine": info,
        "ok": not problems,
        "problems": problems[:30],
    }


# --- (c) a corrupted model artifact ---------------------------------------------------------


def flip_bytes(path: Path, count: int = 16, seed: int = 0) -> None:
    """Invert ``count`` bytes in the middle of ``path`` (same size, other content)."""
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    middle = len(data) // 2
    for offset in rng.sample(range(max(1, middle - 4096), min(len(data), middle + 4096)), count):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


class Recommender(threading.Thread):
    """Recommendations in a loop, noting each answer's status and model version."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.client = Client(base_url, token, timeout=60)
        self.stop = threading.Event()
        self.seen: list[tuple[float, int, str | None]] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    status, _, body = self.client.request(
                        "POST", "/v1/recommendations", {"profile": PROFILE}
                    )
                    version = body.get("model_version") if isinstance(body, dict) else None
                except (OSError, http.client.HTTPException):
                    status, version = 0, None
                with self.lock:
                    self.seen.append((time.monotonic(), status, version))
        finally:
            self.client.close()

    def since(self, t: float) -> list[tuple[float, int, str | None]]:
        with self.lock:
            return [s for s in self.seen if s[0] >= t]


def corrupt_model(postgres: str | None = None, keep: bool = False) -> dict[str, Any]:
    started = time.monotonic()
    problems: list[str] = []
    steps: list[dict[str, Any]] = []
    with installation("lotse-stress-model", postgres=postgres, keep=keep) as inst:
        log(f"{inst.backend}: catalogue, history, ranker v1 (active), v2, v3")
        inst.lotse("demo", "seed", "--offers", "300", "--seed", "9")
        inst.lotse("demo", "simulate", "--people", "150", "--seed", "4")
        for seed in (1, 2, 3):
            inst.lotse("ranker", "train", "--seed", str(seed))
        inst.lotse("ranker", "promote", "v1", "--force", "--reason", "fault test start")
        models = inst.data_dir / "models"
        tokens = {
            "counsellor": inst.create_token("counsellor", centre="fault-centre"),
            "analyst": inst.create_token("analyst"),
        }
        with Server(inst, workers=2, threads=4) as server:
            analyst = Client(server.base_url, tokens["analyst"])
            # three connections, so that both workers serve (and must refuse) throughout
            loops = [Recommender(server.base_url, tokens["counsellor"]) for _ in range(3)]
            for loop in loops:
                loop.start()
            time.sleep(2)

            def settle(label: str, expect: str, seconds: float = 4.5) -> None:
                t = time.monotonic()
                time.sleep(seconds)
                # workers check the pointer once a second; a busy CI machine gets slack
                seen = [s for loop in loops for s in loop.since(t + 2.5)]
                versions = Counter(v for _, _, v in seen)
                failed = sum(1 for _, s, _ in seen if s != 200)
                steps.append(
                    {
                        "step": label,
                        "requests": len(seen),
                        "failed": failed,
                        "served": dict(versions),
                    }
                )
                if failed:
                    problems.append(f"{label}: {failed} recommendations failed")
                if set(versions) != {expect}:
                    problems.append(f"{label}: served {dict(versions)}, expected only {expect}")

            settle("v1 serves", "v1")
            # 1. a corrupted candidate is refused at promotion; the pointer stays
            flip_bytes(models / "v2" / "model.joblib", seed=2)
            status, _, body = analyst.request(
                "POST", "/v1/models/v2/promote", {"force": True, "reason": "corrupted"}
            )
            if status != 409 or "does not match" not in str(body):
                problems.append(f"promoting corrupted v2 answered {status} {str(body)[:200]}")
            active = inst.scalar("SELECT active_version FROM model_state WHERE id = 1")
            if active != "v1":
                problems.append(f"after the refused promotion the pointer is {active}")
            settle("corrupted v2 refused at promotion", "v1")
            # 2. the pointer moved to corrupted v2 behind the API's back: workers refuse it
            _point_at(inst, "v2")
            settle("pointer on corrupted v2: workers refuse it", "v1")
            _, _, listing = analyst.request("GET", "/v1/models")
            if not (listing.get("serving") == "v1" and "v2" in str(listing.get("serving_error"))):
                problems.append(f"GET /v1/models does not name the refusal: {str(listing)[:300]}")
            # 3. the active version's own file corrupted, every worker made to reload it
            _point_at(inst, "v1")
            settle("back on v1", "v1")
            flip_bytes(models / "v1" / "model.joblib", seed=1)
            _point_at(inst, "v1")  # a new generation: every worker reloads v1 from disk
            settle("active v1 corrupted on disk and reloaded: refused", "v1")
            # 4. a sound version promoted through the API serves
            status, _, body = analyst.request(
                "POST", "/v1/models/v3/promote", {"force": True, "reason": "sound"}
            )
            if status != 200:
                problems.append(f"promoting sound v3 answered {status} {str(body)[:200]}")
            settle("sound v3 promoted", "v3")
            for loop in loops:
                loop.stop.set()
                loop.join(timeout=60)
            analyst.close()
            seen = [s for loop in loops for s in loop.seen]
            total = len(seen)
            failed = sum(1 for _, s, _ in seen if s != 200)
            server_errors = server.unexpected_errors()
            refusals = server.log_text().count("refused")
        info = machine_info(inst)
    if failed:
        problems.append(f"{failed} of {total} recommendations failed during the test")
    if server_errors:
        problems.append(f"{server_errors} unhandled errors in the server log")
    return {
        "fault": "corrupted model artifacts",
        "backend": info["database"],
        "recommendations": total,
        "failed": failed,
        "refusals_logged": refusals,
        "faults_survived": 3 if not problems else 0,
        "steps": steps,
        "duration_s": round(time.monotonic() - started, 1),
        "machine": info,
        "ok": not problems,
        "problems": problems,
    }


def _point_at(inst: Installation, version: str) -> None:
    """Move the registry's pointer with the registry's own function, without the API's
    checks: what a promotion on another app server, or a restored database, would do."""
    from lotse.db import make_session_factory, transaction
    from models.registry import set_active

    engine = inst.engine()
    try:
        with transaction(make_session_factory(engine)) as session:
            set_active(session, version, actor="stress:faults", action="promote", forced=True)
    finally:
        engine.dispose()


# --- the command ----------------------------------------------------------------------------


def run(which: str, short: bool, postgres: str | None, keep: bool) -> list[dict[str, Any]]:
    results = []
    if which in ("import-kill", "all"):
        rows, kills = (4_000, KILLS_SHORT) if short else (20_000, KILLS_FULL)
        results.append(import_kill(rows, kills, postgres, keep))
    if which in ("db-restart", "all"):
        results.append(db_restart(1 if short else 3, 3 if short else 6, keep, crash=not short))
    if which in ("corrupt-model", "all"):
        results.append(corrupt_model(postgres, keep))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fault", choices=("import-kill", "db-restart", "corrupt-model", "all"))
    parser.add_argument("--short", action="store_true", help="the CI short form")
    parser.add_argument("--rows", type=int, help="import-kill: rows in the file")
    add_backend_arguments(parser)  # import-kill and corrupt-model (db-restart has its own)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    postgres = chosen_postgres(args)
    if args.fault == "import-kill" and args.rows:
        kills = KILLS_SHORT if args.short else KILLS_FULL
        results = [import_kill(args.rows, kills, postgres, args.keep)]
    else:
        results = run(args.fault, args.short, postgres, args.keep)
    ok = True
    for figures in results:
        problems = figures.pop("problems", [])
        print_summary(figures.pop("fault"), figures)
        for line in problems:
            print("  PROBLEM " + line)
        ok = ok and figures["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
