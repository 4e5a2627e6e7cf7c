"""Load: concurrent clients on loopback against ``lotse serve`` (gunicorn, 2 workers), with a
bulk import and a model promotion in the middle; then every acknowledged write is looked up.

Clients (threads, one keep-alive connection each):

- counsellors ask for recommendations for varied profiles, refer people to suggested offers
  (with consent) and move their referrals on (accepted, enrolled, completed, declined…);
- agencies change ``capacity_free`` of their offers with ``PATCH`` and ``If-Match`` — several
  agencies' clients share one agency's offers, so edits collide: a 412 is the right answer to
  a stale version, and the client reads the offer again and retries;
- at a third of the run an agency imports a CSV of new offers (``POST /v1/offers/import``), at
  half an analyst promotes the second ranker version (``POST /v1/models/v2/promote``), and at
  two thirds the agency imports the file again with changed capacities.

A failed request is a 5xx, a connection error or any status the client did not expect (409 is
expected only where the domain says so: an illegal or capacity-less enrolment). Afterwards,
with the server stopped, the database is compared with what the clients were told:

- every acknowledged ``PATCH`` (offer, resulting version, capacity) is in the offer's history
  with that version and value, no version was acknowledged twice, and each offer's final row
  carries the value of its last acknowledged version unless a later enrolment changed it;
- every created referral exists with the last acknowledged status and exactly the acknowledged
  transitions in its events;
- both imports' offers are there with the second import's values; the active model is v2 and
  the recommendations after the promotion report it.

``Workload`` (the clients, the imports, the promotion and their ``Ledger``), ``verify`` and
``summary`` work against any base URL: ``stress/cluster.py`` drives them through a load
balancer in front of two servers. A write whose answer never came from the app (the
connection broke, or a balancer answered 502 for a server that died with it) is not held
against the database: it may have landed or not, and ``verify`` reports which.

PostgreSQL when ``--postgres URL`` (or ``LOTSE_STRESS_POSTGRES_URL`` / ``LOTSE_TEST_POSTGRES_URL``)
names a server (a database ``lotse_stress_*`` is created on it and dropped afterwards), else
SQLite.

    python stress/load.py                       # full form: 60 s
    python stress/load.py --duration 15         # the CI short form
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.common import (
    Client,
    Installation,
    Server,
    add_backend_arguments,
    chosen_postgres,
    installation,
    log,
    machine_info,
    percentile,
    print_summary,
)

#: The response header by which a balancer names the server that answered.
SERVER_HEADER = "x-lotse-server"
EDIT_AGENCY = "stress-agency"
IMPORT_AGENCY = "stress-import"
EDIT_OFFERS = 24
IMPORT_ROWS = 300
PLACES = (
    ("Wetzlar", 50.5659, 8.4954),
    ("Nürnberg", 49.4578, 11.0753),
    ("Leipzig", 51.3378, 12.3640),
    ("München", 48.1431, 11.5783),
    ("Hannover", 52.3780, 9.7341),
    ("Stuttgart", 48.7811, 9.1824),
    ("Berlin", 52.4550, 13.3715),
    ("Essen", 51.4513, 6.9973),
)
NEEDS = (
    ["Deutschkurs"],
    ["Deutschkurs", "Kinderbetreuung"],
    ["Anerkennung", "Arbeit"],
    ["language", "work"],
    ["Beratung"],
    ["childcare", "health"],
    ["Integrationskurs", "Wohnung"],
)
LEVELS = ("none", "A1", "A2", "B1", "B2")
#: What a counsellor moves a referral to next (the counselling side may set all of these).
NEXT_STATUS = {
    "proposed": (("accepted", None), ("declined", "schedule_conflict"), ("enrolled", None)),
    "accepted": (("enrolled", None), ("declined", "found_other_offer"), ("dropped", "health")),
    "enrolled": (("completed", None), ("dropped", "work_started")),
}
CSV_COLUMNS = (
    "external_id",
    "title",
    "category",
    "organization",
    "municipality",
    "latitude",
    "longitude",
    "languages",
    "days",
    "times",
    "capacity_total",
    "capacity_free",
)


def offers_csv(prefix: str, n: int, place: tuple[str, float, float], capacity: int) -> str:
    """A valid CSV of ``n`` offers around ``place``, capacities ``capacity``/``capacity``."""
    name, lat, lon = place
    categories = ("language_cafe", "mentoring", "application_support", "sports_leisure")
    lines = [",".join(CSV_COLUMNS)]
    for i in range(n):
        lines.append(
            ",".join(
                [
                    f"{prefix}-{i:04d}",
                    f"Lasttest {prefix} {i:04d} – Treffpunkt {name}",
                    categories[i % len(categories)],
                    f"Verein Lasttest {prefix}",
                    name,
                    f"{lat + (i % 17) * 0.001:.5f}",
                    f"{lon + (i % 13) * 0.001:.5f}",
                    "de;en",
                    "mon;wed",
                    "afternoon",
                    str(capacity),
                    str(capacity),
                ]
            )
        )
    return "\n".join(lines) + "\n"


def profile(rng: random.Random, n: int) -> dict[str, Any]:
    place = rng.choice(PLACES)
    return {
        "person_ref": f"load-{n:06d}",
        "age": rng.randint(17, 60),
        "gender": rng.choice(("female", "male", "diverse")),
        "location": {"place": place[0]}
        if rng.random() < 0.5
        else {"latitude": place[1], "longitude": place[2]},
        "residence_status": rng.choice(("recognised_refugee", "asylum_seeker", "eu_citizen")),
        "german_level": rng.choice(LEVELS),
        "literate": True,
        "languages": rng.choice((["ar"], ["uk", "ru"], ["fa"], ["en"])),
        "children_ages": rng.choice(([], [3], [1, 6])),
        "needs": rng.choice(NEEDS),
    }


# --- what the clients record ---------------------------------------------------------------

#: Methods a balancer may send again after a server died with the request (RFC 9110 9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class Failure:
    """One failed request (or a failed check of an answer), as a client saw it."""

    kind: str
    message: str
    #: seconds into the run when the answer (or the error) came
    at_s: float
    method: str | None = None
    #: the answer's status; 0: no answer (connection error); None: not a request's status
    status: int | None = None
    #: seconds into the run when the request was sent
    sent_s: float | None = None

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT


@dataclass
class Ledger:
    """Everything the clients were told, shared by all threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: ``time.monotonic()`` at the start of the run; every ``*_s`` figure counts from it
    started: float = field(default_factory=time.monotonic)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    #: which server answered, by the balancer's ``X-Lotse-Server`` header (none: direct)
    served_by: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    failure_log: list[Failure] = field(default_factory=list)
    failure_count: int = 0
    stale_retries: int = 0
    conflicts: Counter = field(default_factory=Counter)
    #: (offer_id, version) -> capacity_free, per acknowledged PATCH
    patches: dict[tuple[str, int], int] = field(default_factory=dict)
    duplicate_versions: list[tuple[str, int]] = field(default_factory=list)
    #: referral id -> acknowledged statuses in the order acknowledged (first: proposed)
    referrals: dict[str, list[str]] = field(default_factory=dict)
    #: referrals not yet final -> their last known status, shared by the counsellors
    open_referrals: dict[str, str] = field(default_factory=dict)
    #: (seconds into the run, model_version) of each recommendation
    model_versions: list[tuple[float, str]] = field(default_factory=list)
    events: dict[str, Any] = field(default_factory=dict)
    #: Writes sent without an answer from the app (the connection broke, a balancer answered
    #: 502 for a server that died): applied or not, nobody was told. ``verify`` allows them
    #: and reports how many landed.
    doubtful_patches: list[tuple[str, int, int]] = field(default_factory=list)
    doubtful_moves: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    doubtful_referrals: list[tuple[str, str]] = field(default_factory=list)
    doubtful_other: Counter = field(default_factory=Counter)

    def now(self) -> float:
        """Seconds into the run."""
        return time.monotonic() - self.started

    def record(self, kind: str, status: int, seconds: float, server: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[f"{kind} {status}"] += 1
            if server:
                self.served_by[server] += 1

    def fail(
        self,
        message: str,
        *,
        kind: str = "check",
        method: str | None = None,
        status: int | None = None,
        sent_s: float | None = None,
    ) -> None:
        failure = Failure(kind, message[:500], round(self.now(), 3), method, status, sent_s)
        with self.lock:
            self.failure_count += 1
            if len(self.failure_log) < 10_000:
                self.failure_log.append(failure)
            if len(self.failures) < 50:
                self.failures.append(message[:500])


class LoadClient(threading.Thread):
    """One simulated user, looping until ``stop`` is set."""

    def __init__(
        self,
        name: str,
        base_url: str,
        token: str,
        ledger: Ledger,
        stop: threading.Event,
        seed: int,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.client = Client(base_url, token, timeout=60)
        self.ledger = ledger
        self.stop = stop
        self.rng = random.Random(seed)
        #: the status of the last request (0: no answer)
        self.last_status = 0

    @property
    def unanswered(self) -> bool:
        """Whether the last request got no answer from the app itself (no connection, or a
        5xx, e.g. a balancer's 502 for a server that died with it): its write may or may not
        have landed."""
        return self.last_status == 0 or self.last_status >= 500

    def call(
        self, kind: str, method: str, path: str, body: Any = None, *, expect: tuple[int, ...], **kw
    ) -> tuple[int, dict[str, str], Any] | None:
        """One request; ``None`` (and a recorded failure) unless its status is expected."""
        sent = round(self.ledger.now(), 3)
        t0 = time.perf_counter()
        self.last_status = 0
        try:
            status, headers, data = self.client.request(method, path, body, **kw)
        except (OSError, http.client.HTTPException) as exc:
            self.ledger.record(kind, 0, time.perf_counter() - t0)
            self.ledger.fail(
                f"{kind}: {method} {path}: connection error {exc!r}",
                kind=kind,
                method=method,
                status=0,
                sent_s=sent,
            )
            return None
        self.last_status = status
        self.ledger.record(kind, status, time.perf_counter() - t0, headers.get(SERVER_HEADER))
        if status not in expect:
            self.ledger.fail(
                f"{kind}: {method} {path} -> {status} {str(data)[:300]}",
                kind=kind,
                method=method,
                status=status,
                sent_s=sent,
            )
            return None
        return status, headers, data

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.step()
        finally:
            self.client.close()

    def step(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class Counsellor(LoadClient):
    """Recommendations, referrals to what was suggested, and status changes of those.

    The counsellors of one centre share their open referrals (``Ledger.open_referrals``), so
    two of them sometimes move the same referral at once: the second may then find it moved
    already (409, an illegal transition from its new status) and reads it again."""

    def __init__(self, *args: Any, avoid_offers: set[str], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.avoid = avoid_offers  # their free places belong to the agency clients' check

    def step(self) -> None:
        with self.ledger.lock:
            pool = list(self.ledger.open_referrals.items())
        if pool and self.rng.random() < 0.4:
            self.move_referral(*self.rng.choice(pool))
            return
        prof = profile(self.rng, self.rng.randrange(10**6))
        got = self.call(
            "recommend", "POST", "/v1/recommendations", {"profile": prof, "k": 5}, expect=(200,)
        )
        if got is None:
            if self.unanswered:
                with self.ledger.lock:
                    self.ledger.doubtful_other["recommend"] += 1
            return
        rec = got[2]
        with self.ledger.lock:
            self.ledger.model_versions.append((self.ledger.now(), rec["model_version"]))
        # the load test's own offers keep their free places for the agencies' and the
        # imports' checks (an enrolment takes one)
        targets = [
            r
            for r in rec["results"]
            if r["offer_id"] not in self.avoid and not r["title"].startswith("Lasttest")
        ]
        if targets and self.rng.random() < 0.5:
            offer_id = self.rng.choice(targets)["offer_id"]
            body = {"request_id": rec["request_id"], "offer_id": offer_id, "consent": True}
            got = self.call("refer", "POST", "/v1/referrals", body, expect=(201,))
            if got is not None:
                ref = got[2]
                with self.ledger.lock:
                    self.ledger.referrals[ref["id"]] = [ref["status"]]
                    self.ledger.open_referrals[ref["id"]] = ref["status"]
            elif self.unanswered:
                with self.ledger.lock:
                    self.ledger.doubtful_referrals.append((rec["request_id"], offer_id))

    def move_referral(self, referral_id: str, seen: str) -> None:
        status, reason = self.rng.choice(NEXT_STATUS[seen])
        body: dict[str, Any] = {"status": status}
        if reason:
            body["reason"] = reason
        # 409: moved meanwhile by another counsellor (now illegal), or an enrolment when the
        # offer has no free place left; either way the referral stays as it was
        got = self.call(
            "referral_status",
            "PATCH",
            f"/v1/referrals/{referral_id}",
            body,
            expect=(200, 409),
        )
        if got is None:
            if self.unanswered:
                with self.ledger.lock:
                    self.ledger.doubtful_moves[referral_id].append(status)
            return
        code, _, data = got
        if code == 409:
            why = "no free place" if "free place" in str(data) else "moved meanwhile"
            with self.ledger.lock:
                self.ledger.conflicts[why] += 1
            got = self.call("referral_read", "GET", f"/v1/referrals/{referral_id}", expect=(200,))
            if got is None:
                return
            data = got[2]
        else:
            with self.ledger.lock:
                self.ledger.referrals[referral_id].append(data["status"])
        with self.ledger.lock:
            if data["status"] in NEXT_STATUS:
                self.ledger.open_referrals[referral_id] = data["status"]
            else:
                self.ledger.open_referrals.pop(referral_id, None)


class Agency(LoadClient):
    """Changes of free places with If-Match; a stale version is read again and retried."""

    def __init__(self, *args: Any, offers: list[str], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.offers = offers

    def step(self) -> None:
        offer_id = self.rng.choice(self.offers)
        for _attempt in range(20):
            got = self.call("offer_read", "GET", f"/v1/offers/{offer_id}", expect=(200,))
            if got is None:
                return
            _, headers, offer = got
            version = int(headers["etag"].strip('"'))
            total = offer["capacity_total"]
            value = self.rng.choice([v for v in range(total + 1) if v != offer["capacity_free"]])
            got = self.call(
                "offer_patch",
                "PATCH",
                f"/v1/offers/{offer_id}",
                {"capacity_free": value},
                headers={"If-Match": str(version)},
                expect=(200, 412),
            )
            if got is None:
                if self.unanswered:
                    with self.ledger.lock:
                        self.ledger.doubtful_patches.append((offer_id, version + 1, value))
                return
            code, headers, data = got
            if code == 412:
                with self.ledger.lock:
                    self.ledger.stale_retries += 1
                continue
            new_version = int(headers["etag"].strip('"'))
            key = (offer_id, new_version)
            with self.ledger.lock:
                if key in self.ledger.patches:
                    self.ledger.duplicate_versions.append(key)
                self.ledger.patches[key] = data["capacity_free"]
            if data["version"] != new_version or data["capacity_free"] != value:
                self.ledger.fail(f"PATCH {offer_id} answered {data['version']}/{value}")
            if new_version != version + 1:
                self.ledger.fail(f"PATCH {offer_id} at {version} answered version {new_version}")
            return
        self.ledger.fail(f"PATCH {offer_id}: still stale after 20 attempts")


# --- the run --------------------------------------------------------------------------------


def prepare(inst: Installation, offers: int) -> dict[str, Any]:
    log(f"preparing {inst.backend}: {offers} demo offers, history, ranker v1 (active) and v2")
    inst.lotse("demo", "seed", "--offers", str(offers), "--seed", "11")
    inst.lotse("demo", "simulate", "--people", "150", "--seed", "5")
    inst.lotse("ranker", "train", "--seed", "1")
    inst.lotse("ranker", "train", "--seed", "2")
    inst.lotse("ranker", "promote", "v1", "--force", "--reason", "load test start")
    path = inst.data_dir / "edit-offers.csv"
    path.write_text(offers_csv("edit", EDIT_OFFERS, PLACES[0], 40))
    inst.lotse("catalog", "import", str(path), "--agency", EDIT_AGENCY)
    edit_offers = [
        r[0] for r in inst.rows("SELECT id FROM offers WHERE agency_id = :a", a=EDIT_AGENCY)
    ]
    inst.tokens = {
        "agency": inst.create_token("agency", agency=EDIT_AGENCY),
        "importer": inst.create_token("agency", agency=IMPORT_AGENCY),
        "counsellor": inst.create_token("counsellor", centre="stress-centre"),
        "analyst": inst.create_token("analyst"),
    }
    return {"edit_offers": edit_offers}


def bulk_import(base_url: str, token: str, ledger: Ledger, capacity: int) -> None:
    """The mid-run import (first: creates every row; second: updates each capacity)."""
    body = offers_csv("imp", IMPORT_ROWS, PLACES[1], capacity).encode()
    client = Client(base_url, token, timeout=120)
    sent = round(ledger.now(), 3)
    t0 = time.perf_counter()
    try:
        status, headers, report = client.request(
            "POST", "/v1/offers/import?format=csv", raw=body, content_type="text/csv"
        )
    except (OSError, http.client.HTTPException) as exc:
        ledger.fail(
            f"import: connection error {exc!r}", kind="import", method="POST", status=0, sent_s=sent
        )
        return
    finally:
        client.close()
    ledger.record("import", status, time.perf_counter() - t0, headers.get(SERVER_HEADER))
    name = f"import_capacity_{capacity}"
    if status != 200:
        ledger.fail(
            f"import -> {status} {str(report)[:300]}",
            kind="import",
            method="POST",
            status=status,
            sent_s=sent,
        )
        return
    with ledger.lock:
        ledger.events[name] = {
            "at_s": round(ledger.now(), 1),
            "took_s": round(time.perf_counter() - t0, 2),
            "created": report["created"],
            "updated": report["updated"],
        }


def promote(base_url: str, token: str, ledger: Ledger) -> float | None:
    """Promote v2 (forced); seconds into the run when the promotion was acknowledged, or
    ``None`` when it failed."""
    client = Client(base_url, token, timeout=120)
    sent = round(ledger.now(), 3)
    t0 = time.perf_counter()
    try:
        status, headers, entry = client.request(
            "POST", "/v1/models/v2/promote", {"force": True, "reason": "load test"}
        )
    except (OSError, http.client.HTTPException) as exc:
        ledger.fail(
            f"promote: connection error {exc!r}",
            kind="promote",
            method="POST",
            status=0,
            sent_s=sent,
        )
        return None
    finally:
        client.close()
    acked = ledger.now()
    ledger.record("promote", status, time.perf_counter() - t0, headers.get(SERVER_HEADER))
    if status != 200:
        ledger.fail(
            f"promote -> {status} {str(entry)[:300]}",
            kind="promote",
            method="POST",
            status=status,
            sent_s=sent,
        )
        return None
    with ledger.lock:
        ledger.events["promotion"] = {
            "at_s": round(acked, 1),
            "from": entry["from_version"],
            "to": entry["to_version"],
        }
    return acked


def verify(inst: Installation, ledger: Ledger, edit_offers: list[str]) -> dict[str, Any]:
    """Compare every acknowledged write with the database; the problems found, and what
    became of the writes whose answer never came (``doubtful``: sent, and applied)."""
    problems: list[str] = []
    checked = Counter()
    doubtful: dict[str, str] = {}
    # PATCHes: each acknowledged (version, value) is in the history, once
    history: dict[tuple[str, int], Any] = {}
    for offer_id, version, action, changes in inst.rows(
        "SELECT offer_id, version, action, changes FROM offer_history WHERE offer_id IN "
        "(SELECT id FROM offers WHERE agency_id = :a)",
        a=EDIT_AGENCY,
    ):
        changes = json.loads(changes) if isinstance(changes, str) else changes
        if (offer_id, version) in history:
            problems.append(f"offer {offer_id}: two history entries for version {version}")
        history[(offer_id, version)] = (action, changes)
    for key in ledger.duplicate_versions:
        problems.append(f"offer {key[0]}: version {key[1]} acknowledged to two PATCHes")
    for (offer_id, version), value in ledger.patches.items():
        checked["patches"] += 1
        entry = history.get((offer_id, version))
        if entry is None:
            problems.append(f"offer {offer_id}: acknowledged version {version} not in history")
            continue
        action, changes = entry
        got = (changes.get("capacity_free") or [None, None])[1]
        if action != "update" or got != value:
            problems.append(
                f"offer {offer_id} v{version}: acknowledged capacity_free={value}, history says "
                f"{action} {changes}"
            )
    final = {
        r[0]: (r[1], r[2])
        for r in inst.rows(
            "SELECT id, version, capacity_free FROM offers WHERE agency_id = :a", a=EDIT_AGENCY
        )
    }
    for offer_id in edit_offers:
        checked["offers"] += 1
        version, capacity = final[offer_id]
        acked = [v for (o, v) in ledger.patches if o == offer_id]
        if acked and max(acked) > version:
            problems.append(f"offer {offer_id}: at version {version}, acknowledged {max(acked)}")
        if acked and max(acked) == version and ledger.patches[(offer_id, version)] != capacity:
            problems.append(
                f"offer {offer_id}: capacity_free {capacity}, last acknowledged "
                f"{ledger.patches[(offer_id, version)]}"
            )
        if (offer_id, version) not in history:
            problems.append(f"offer {offer_id}: final version {version} has no history entry")
    landed = 0
    for offer_id, version, value in ledger.doubtful_patches:
        entry = history.get((offer_id, version))
        if entry is not None and (offer_id, version) not in ledger.patches:
            landed += (entry[1].get("capacity_free") or [None, None])[1] == value
    if ledger.doubtful_patches:
        doubtful["offer_patches"] = f"{len(ledger.doubtful_patches)} sent, {landed} applied"
    # referrals: the events form one legal chain, holding exactly the acknowledged statuses
    from casework.lifecycle import is_legal

    events: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
    for referral_id, from_status, to_status in inst.rows(
        "SELECT referral_id, from_status, to_status FROM referral_events ORDER BY id"
    ):
        events[referral_id].append((from_status, to_status))
    stored = dict(inst.rows("SELECT id, status FROM referrals"))
    moves_landed = 0
    for referral_id, acked in ledger.referrals.items():
        checked["referrals"] += 1
        checked["referral_transitions"] += len(acked)
        chain = events.get(referral_id, [])
        previous = None
        for from_status, to_status in chain:
            legal = to_status == "proposed" if previous is None else is_legal(previous, to_status)
            if from_status != previous or not legal:
                problems.append(
                    f"referral {referral_id}: event {from_status}->{to_status} after "
                    f"{previous} (events {chain})"
                )
            previous = to_status
        stored_steps, acked_steps = Counter(t for _, t in chain), Counter(acked)
        unacknowledged = stored_steps - acked_steps
        maybe = Counter(ledger.doubtful_moves.get(referral_id, []))
        # a status change whose answer never came may have landed; nothing else may
        if acked_steps - stored_steps or unacknowledged - maybe:
            problems.append(f"referral {referral_id}: events {chain}, acknowledged {acked}")
        moves_landed += sum((unacknowledged & maybe).values())
        if stored.get(referral_id) != previous:
            problems.append(
                f"referral {referral_id}: status {stored.get(referral_id)}, last event {previous}"
            )
    if ledger.doubtful_moves:
        sent = sum(len(v) for v in ledger.doubtful_moves.values())
        doubtful["referral_moves"] = f"{sent} sent, {moves_landed} applied"
    if ledger.doubtful_referrals:
        created = {(r[0], r[1]) for r in inst.rows("SELECT request_id, offer_id FROM referrals")}
        applied = sum(1 for key in ledger.doubtful_referrals if key in created)
        doubtful["referrals"] = f"{len(ledger.doubtful_referrals)} sent, {applied} applied"
    for kind, n in sorted(ledger.doubtful_other.items()):
        doubtful[kind] = f"{n} sent"
    # imports: every row, with the second import's capacity
    imported = inst.rows(
        "SELECT external_id, capacity_free, version FROM offers WHERE agency_id = :a",
        a=IMPORT_AGENCY,
    )
    checked["imported_offers"] = len(imported)
    if "import_capacity_30" in ledger.events and len(imported) != IMPORT_ROWS:
        problems.append(f"import: {len(imported)} offers of {IMPORT_AGENCY}, sent {IMPORT_ROWS}")
    if "import_capacity_20" in ledger.events:
        wrong = [r for r in imported if r[1] != 20 or r[2] != 2]
        if wrong:
            problems.append(f"import: {len(wrong)} offers without the second import's values")
    # the model
    active = inst.scalar("SELECT active_version FROM model_state WHERE id = 1")
    checked["model_pointer"] = 1
    if "promotion" in ledger.events and active != "v2":
        problems.append(f"model: active {active} after promoting v2")
    return {"checked": dict(checked), "problems": problems, "doubtful": doubtful}


class Workload:
    """The mixed load against one base URL (a server, or a balancer in front of several):
    counsellor and agency clients for as long as it runs, the imports and the promotion when
    the caller says; everything they were told goes into ``ledger``."""

    def __init__(
        self,
        base_url: str,
        tokens: dict[str, str],
        edit_offers: list[str],
        *,
        counsellors: int = 4,
        agencies: int = 3,
        seed: int = 0,
    ) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.edit_offers = edit_offers
        self.counsellors = counsellors
        self.agencies = agencies
        self.seed = seed
        self.ledger = Ledger()
        self.stop = threading.Event()
        self.clients: list[LoadClient] = []

    def start(self) -> None:
        """Start the clients; the run's clock (``ledger.started``) starts now."""
        self.ledger.started = time.monotonic()
        for i in range(self.counsellors):
            self.clients.append(
                Counsellor(
                    f"counsellor-{i}",
                    self.base_url,
                    self.tokens["counsellor"],
                    self.ledger,
                    self.stop,
                    self.seed * 1000 + i,
                    avoid_offers=set(self.edit_offers),
                )
            )
        for i in range(self.agencies):
            self.clients.append(
                Agency(
                    f"agency-{i}",
                    self.base_url,
                    self.tokens["agency"],
                    self.ledger,
                    self.stop,
                    self.seed * 1000 + 100 + i,
                    offers=self.edit_offers,
                )
            )
        for c in self.clients:
            c.start()

    def wait_until(self, at_s: float) -> None:
        """Sleep until ``at_s`` seconds into the run (at once when that has passed)."""
        time.sleep(max(0.0, self.ledger.started + at_s - time.monotonic()))

    def bulk_import(self, capacity: int) -> None:
        bulk_import(self.base_url, self.tokens["importer"], self.ledger, capacity)

    def promote(self) -> float | None:
        return promote(self.base_url, self.tokens["analyst"], self.ledger)

    def finish(self) -> float:
        """Stop the clients (each ends its step); the seconds the run lasted."""
        self.stop.set()
        for c in self.clients:
            c.join(timeout=120)
        return self.ledger.now()


def summary(ledger: Ledger, elapsed: float, result: dict[str, Any]) -> dict[str, Any]:
    """The figures every load run reports; appends to ``result["problems"]`` what the
    answers themselves show (recommendations after the promotion naming another version)."""
    all_latencies = [s for values in ledger.latencies.values() for s in values]
    requests = len(all_latencies)
    promoted_at = (ledger.events.get("promotion") or {}).get("at_s")
    after = [v for t, v in ledger.model_versions if promoted_at is not None and t > promoted_at + 5]
    if promoted_at is not None and (not after or set(after) != {"v2"}):
        result["problems"].append(
            f"model: recommendations 5 s after the promotion reported {Counter(after)}"
        )
    five_xx = sum(n for k, n in ledger.statuses.items() if k.split()[-1].startswith("5"))
    figures: dict[str, Any] = {
        "duration_s": round(elapsed, 1),
        "requests": requests,
        "requests_per_s": round(requests / elapsed, 1) if elapsed else 0,
        "failed_requests": ledger.failure_count,
        "responses_5xx": five_xx,
        "by_kind": {k: len(v) for k, v in sorted(ledger.latencies.items())},
        "stale_412_retried": ledger.stale_retries,
        "conflicts_409": dict(ledger.conflicts),
        "writes_checked": result["checked"],
        "events": ledger.events,
        "model_versions_served": dict(Counter(v for _, v in ledger.model_versions)),
        "latency_ms": {
            "p50": round(percentile(all_latencies, 0.5) * 1000, 1),
            "p99": round(percentile(all_latencies, 0.99) * 1000, 1),
            "max": round(max(all_latencies, default=0) * 1000, 1),
        },
        "latency_ms_by_kind": {
            k: f"p50 {percentile(v, 0.5) * 1000:.1f} / p99 {percentile(v, 0.99) * 1000:.1f}"
            for k, v in sorted(ledger.latencies.items())
        },
    }
    if result.get("doubtful"):
        figures["unanswered_writes"] = result["doubtful"]
    return figures


def run(
    duration: float = 60,
    counsellors: int = 4,
    agencies: int = 3,
    offers: int = 500,
    postgres: str | None = None,
    seed: int = 0,
    keep: bool = False,
) -> dict[str, Any]:
    setup_started = time.monotonic()
    with installation("lotse-stress-load", postgres=postgres, keep=keep) as inst:
        scope = prepare(inst, offers)
        edit_offers = scope["edit_offers"]
        setup_s = time.monotonic() - setup_started
        with Server(inst, workers=2, threads=4) as server:
            log(
                f"{counsellors} counsellors and {agencies} agencies for {duration:.0f} s "
                f"against {server.base_url} ({inst.backend})"
            )
            load = Workload(
                server.base_url,
                inst.tokens,
                edit_offers,
                counsellors=counsellors,
                agencies=agencies,
                seed=seed,
            )
            load.start()
            schedule = [
                (duration / 3, lambda: load.bulk_import(30)),
                (duration / 2, load.promote),
                (2 * duration / 3, lambda: load.bulk_import(20)),
            ]
            for at, action in schedule:
                load.wait_until(at)
                action()
            # a slow promotion (a loaded machine) must still leave requests to check it by:
            # the run goes on until some have been served 5 s after it was acknowledged
            promoted_at = (load.ledger.events.get("promotion") or {}).get("at_s")
            load.wait_until(max(duration, (promoted_at or 0.0) + 7.0))
            elapsed = load.finish()
            ready, _, _ = Client(server.base_url).request("GET", "/readyz")
            server_errors = server.unexpected_errors()
            error_lines = server.error_lines()
        ledger = load.ledger
        result = verify(inst, ledger, edit_offers)
        info = machine_info(inst)
    figures = {
        "backend": inst.backend,
        "setup_s": round(setup_s, 1),
        "clients": counsellors + agencies,
        **summary(ledger, elapsed, result),
        "server_tracebacks": server_errors,
        "ready_after": ready == 200,
        "machine": info,
    }
    figures["ok"] = (
        ledger.failure_count == 0
        and figures["responses_5xx"] == 0
        and server_errors == 0
        and not result["problems"]
        and ready == 200
        and len(ledger.events) == 3
        and figures["requests"] > 0
    )
    figures["failures"] = ledger.failures + [f"server log: {line}" for line in error_lines]
    figures["problems"] = result["problems"][:50]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--counsellors", type=int, default=4)
    parser.add_argument("--agencies", type=int, default=3)
    parser.add_argument("--offers", type=int, default=500, help="demo catalogue size")
    add_backend_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    figures = run(
        args.duration,
        args.counsellors,
        args.agencies,
        args.offers,
        chosen_postgres(args),
        args.seed,
        args.keep,
    )
    failures, problems = figures.pop("failures"), figures.pop("problems")
    print_summary("load", figures)
    for line in failures:
        print("  FAILED " + line)
    for line in problems:
        print("  LOST " + line)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
