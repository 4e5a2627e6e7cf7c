"""Several servers: two ``lotse serve`` behind HAProxy on one PostgreSQL, under the mixed load of
``stress/load.py``, while one server is killed with SIGKILL and restarted and a model is
promoted.

The layout is the one ``docs/operations.md`` describes: both servers use the same database,
the same data folder (so the same model artifacts) and the same secrets
(``LOTSE_DATA_DIR/secrets.env``), with ``LOTSE_PROXY_HOPS=1``. HAProxy (Debian's package) is
configured in the run's folder: round robin, health checks on ``GET /readyz``, ``retries`` with
``option redispatch``, ``retry-on conn-failure empty-response`` for idempotent requests only
(a POST or PATCH that reached a server which then died is answered 502, never sent twice),
one server connection per request (``option http-server-close``: no idle connection a server
may close under a request), ``X-Forwarded-For``, and the answering server's name in
``X-Lotse-Server``. Before the run, the same configuration in front of two servers that drop
every request shows the retry rules at work: GET, PUT and DELETE reach a server up to four
times, POST and PATCH once.

The load (``stress.load.Workload``) runs through the balancer. At a fifth of the run server
``b`` is killed (master and workers, SIGKILL) and started again a second later on the same
port; at a third and two thirds an agency imports a CSV; the analyst promotes v2 at half the
run, or once ``b`` is back in the balancer if that is later. Then:

1. **Sessions, CSRF, rate limits and logouts across servers**: a counsellor logs in on ``a``
   (before the kill), and after the load uses that cookie and the CSRF token of ``a``'s page
   on the restarted ``b`` (a page, and an API write with ``X-CSRFToken``; without the token
   ``b`` refuses it), logs out on ``b``, and ``a`` refuses the cookie. Anonymous reads from
   one address are counted on ``a`` and ``b`` together: the one past
   ``LOTSE_ANON_READS_PER_MINUTE`` gets 429 on both. Through the balancer, a client's own
   ``X-Forwarded-For`` is not trusted: the servers count the address HAProxy saw.
2. **Promotion**: both servers are polled directly (``GET /v1/models`` → ``serving``, a new
   connection each time so every worker answers) from a second before the promotion; each
   must serve v2 within 2 s of the promotion's answer, and nothing older after that.
3. **No acknowledged write is lost**: ``stress.load.verify``; a write whose answer never came
   (caught in the killed server) may have landed or not, and is reported as such.
4. **Failover**: every failed request, with its times relative to the kill. No idempotent
   request may fail; a non-idempotent one may fail only if it was in flight on ``b`` when it
   was killed (the balancer must not send it twice). HAProxy's own counters (retries,
   redispatches, when it marked ``b`` down and up) are reported.

PostgreSQL only: ``--postgres URL`` (or ``LOTSE_STRESS_POSTGRES_URL`` /
``LOTSE_TEST_POSTGRES_URL``) names a server to create the database on; without one a private
cluster is started in a temporary folder (as ``stress/faults.py db-restart`` does).

    python stress/cluster.py                    # full form: 60 s
    python stress/cluster.py --duration 20      # the CI short form
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import io
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.common import (
    HOST,
    Client,
    Installation,
    Server,
    free_port,
    installation,
    log,
    machine_info,
    postgres_server,
    print_summary,
)
from stress.load import Ledger, Workload, prepare, profile, summary, verify

#: Anonymous reads per minute and address on the servers (small, so the check is quick).
ANON_LIMIT = 20
#: Both servers must serve a promoted version within this many seconds.
PROMOTION_BUDGET_S = 2.0
#: The load goes on at least this long after the promotion.
AFTER_PROMOTION_S = 8.0
#: The counsellor who logs in on one server and out on the other.
WEB_USER = "cluster-counsellor"
WEB_CENTRE = "stress-centre"
COOKIE = "lotse_session"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE = {"Accept": "text/html"}


def haproxy_missing() -> str | None:
    """Why HAProxy cannot be run here (``None``: it can)."""
    if haproxy_binary() is None:
        return "haproxy is not installed (Debian: apt-get install haproxy)"
    return None


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)),
        None,
    )


# --- the balancer ---------------------------------------------------------------------------


def haproxy_config(port: int, servers: dict[str, int], stats_socket: Path) -> str:
    """An HAProxy configuration for Lotse servers on loopback (``docs/operations.md``)."""
    lines = [
        "global",
        "    maxconn 2000",
        f"    stats socket {stats_socket} mode 600 level admin",
        "    log stdout format raw local0 info",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlognull",
        "    timeout connect 2s",
        "    timeout client 70s",
        # above gunicorn's request timeout (lotse serve --timeout 60)
        "    timeout server 70s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 30s",
        "    timeout check 2s",
        # a connection a server refused is tried again, on another server
        "    retries 3",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response",
        # one server connection per request: never a request on an idle connection the
        # server closes at that moment (gunicorn closes idle ones after 5 s)
        "    option http-server-close",
        "    option forwardfor",
        "",
        "frontend lotse",
        f"    bind {HOST}:{port}",
        "    http-request set-header X-Request-ID %[uuid] unless { req.hdr(X-Request-ID) -m found }",
        "    default_backend lotse_servers",
        "",
        "backend lotse_servers",
        "    balance roundrobin",
        "    option httpchk",
        "    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host lotse",
        "    http-check expect status 200",
        # a request that reached a server which then died is sent again only when sending
        # it twice is harmless; a POST or PATCH gets 502 (a refused connection is still
        # retried: the request never reached anyone)
        "    acl idempotent method GET HEAD OPTIONS PUT DELETE",
        "    http-request disable-l7-retry unless idempotent",
        # a request is retried only if HAProxy holds all of it: wait for the body (up to a
        # buffer, 16 kB) before sending, or a PUT whose body came in a second packet is not
        "    option http-buffer-request",
        "    http-response set-header X-Lotse-Server %s",
        "    default-server check inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 "
        "observe layer4 error-limit 1 on-error mark-down",
    ]
    lines += [f"    server {name} {HOST}:{p}" for name, p in servers.items()]
    return "\n".join(lines) + "\n"


class Balancer:
    """HAProxy in the foreground (``-db``) with a generated configuration, for as long as the
    ``with`` lasts; stopped by its process id."""

    def __init__(self, folder: Path, servers: dict[str, int]) -> None:
        self.folder = folder
        self.port = free_port()
        self.servers = servers
        self.config_path = folder / "haproxy.cfg"
        self.socket_path = folder / "haproxy.sock"
        self.log_path = folder / "haproxy.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Balancer:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError(haproxy_missing())
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(haproxy_config(self.port, self.servers, self.socket_path))
        check = subprocess.run(
            [binary, "-c", "-q", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration:\n{check.stderr}")
        self._log = open(self.log_path, "wb")  # open while HAProxy runs
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self.wait_up(set(self.servers), timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stats(self) -> list[dict[str, str]]:
        """``show stat`` of the stats socket: one row per frontend, backend and server."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        text = b"".join(chunks).decode().lstrip("# ")
        return list(csv.DictReader(io.StringIO(text)))

    def server_status(self) -> dict[str, str]:
        """Each server's state as HAProxy sees it (``UP``, ``DOWN``, ``UP 1/2`` …)."""
        return {
            r["svname"]: r["status"]
            for r in self.stats()
            if r["pxname"] == "lotse_servers" and r["svname"] in self.servers
        }

    def wait_up(self, names: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError):
                status = self.server_status()
                if all(status.get(n) == "UP" for n in names):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"haproxy: servers {sorted(names)} not UP after {timeout} s")

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGUSR1)  # soft stop: finish what is in flight
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self._log.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StatusWatcher(threading.Thread):
    """Polls HAProxy's view of the servers every 0.1 s; records each change of state with
    its time in the run (``ledger``'s clock)."""

    def __init__(self, balancer: Balancer, ledger: Ledger) -> None:
        super().__init__(name="haproxy-status", daemon=True)
        self.balancer = balancer
        self.ledger = ledger
        self.stop = threading.Event()
        self.changes: list[tuple[float, str, str]] = []

    def run(self) -> None:
        seen: dict[str, str] = {}
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                for name, status in self.balancer.server_status().items():
                    if seen.get(name) != status:
                        if name in seen:
                            self.changes.append((round(self.ledger.now(), 2), name, status))
                        seen[name] = status
            self.stop.wait(0.1)

    def first(self, name: str, status: str, after_s: float) -> float | None:
        """When ``name`` first went to ``status`` after ``after_s`` seconds into the run."""
        return next(
            (t for t, n, s in self.changes if n == name and s == status and t >= after_s), None
        )


# --- promotion: what each server serves -----------------------------------------------------


class ServingPoller(threading.Thread):
    """Asks one server directly what it serves (``GET /v1/models`` → ``serving``), on a new
    connection each time so that every worker answers in turn, every ``every`` seconds."""

    def __init__(self, name: str, base_url: str, token: str, ledger: Ledger, every: float = 0.05):
        super().__init__(name=f"serving-{name}", daemon=True)
        self.server = name
        self.base_url = base_url
        self.token = token
        self.ledger = ledger
        self.every = every
        self.stop = threading.Event()
        #: (seconds into the run when answered, version served; "" for a failed poll)
        self.samples: list[tuple[float, str]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            client = Client(self.base_url, self.token, timeout=10)
            try:
                status, _, body = client.request("GET", "/v1/models")
                serving = body["serving"] if status == 200 else ""
            except (OSError, http.client.HTTPException, KeyError, TypeError):
                serving = ""
            finally:
                client.close()
            self.samples.append((self.ledger.now(), serving))
            self.stop.wait(self.every)

    def delay(self, promoted_s: float, version: str) -> dict[str, Any]:
        """From the promotion's answer until this server answered ``version`` and nothing
        else any more: the delay (``None``: never settled), and what it served before."""
        after = [(t, v) for t, v in self.samples if t >= promoted_s]
        before = Counter(v for t, v in self.samples if t < promoted_s)
        settled = None
        for t, v in after:
            if v != version:
                settled = None
            elif settled is None:
                settled = t
        return {
            "delay_s": None if settled is None else round(max(0.0, settled - promoted_s), 3),
            "polls_after": len(after),
            "other_answers_after": sum(1 for _, v in after if v != version),
            "before": dict(before),
        }


# --- sessions and rate limits across servers ------------------------------------------------


def _cookie(headers: dict[str, str]) -> str | None:
    """The ``lotse_session`` value a response sets (``Client`` keeps the last Set-Cookie)."""
    match = re.search(rf"(?:^|,\s*){COOKIE}=([^;,]*)", headers.get("set-cookie", ""))
    return match.group(1) if match else None


def _csrf(body: Any) -> str | None:
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    match = CSRF_FIELD.search(text)
    return match.group(1) if match else None


class CrossServerSession:
    """A counsellor's browser session begun on one server and used on another."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.checks: dict[str, Any] = {}

    def _check(self, name: str, status: int, expected: int, extra: bool = True) -> bool:
        ok = status == expected and extra
        self.checks[name] = "ok" if ok else f"FAILED ({status}, expected {expected})"
        return ok

    def log_in(self, server: Server) -> None:
        """Log in on ``server``; keep the cookie and the CSRF token of a page it served."""
        client = Client(server.base_url)
        try:
            status, headers, body = client.request("GET", "/login", headers=PAGE)
            visitor, token = _cookie(headers), _csrf(body)
            form = urlencode(
                {"username": WEB_USER, "password": self.password, "csrf_token": token or ""}
            )
            status, headers, _ = client.request(
                "POST",
                "/login",
                raw=form.encode(),
                content_type="application/x-www-form-urlencoded",
                headers={**PAGE, "Cookie": f"{COOKIE}={visitor}"},
            )
            self.cookie = _cookie(headers)
            self._check("login_on_a", status, 302, self.cookie is not None)
            status, _, body = client.request("GET", "/counsel/", headers=self._with_cookie(PAGE))
            self.csrf = _csrf(body)
            self._check("page_on_a", status, 200, self.csrf is not None)
            status, _, _ = client.request("GET", "/v1/agreements", headers=self._with_cookie())
            self._check("api_read_on_a", status, 200)
        finally:
            client.close()

    def _with_cookie(self, headers: dict[str, str] | None = None) -> dict[str, str]:
        return {**(headers or {}), "Cookie": f"{COOKIE}={self.cookie}"}

    def use_elsewhere_and_log_out(self, other: Server, first: Server) -> None:
        """On ``other``: the page, an API write with ``a``'s CSRF token (and one without it,
        refused), the logout; then ``first`` must refuse the cookie."""
        b = Client(other.base_url)
        a = Client(first.base_url)
        try:
            status, _, body = b.request("GET", "/counsel/", headers=self._with_cookie(PAGE))
            self._check("page_on_b", status, 200, WEB_USER in str(body) or _csrf(body) is not None)
            prof = profile(random.Random(7), 424242)
            write = {"profile": prof, "k": 3}
            status, _, body = b.request(
                "POST",
                "/v1/recommendations",
                write,
                headers=self._with_cookie(
                    {"X-CSRFToken": self.csrf or "", "Origin": other.base_url}
                ),
            )
            self._check("api_write_on_b_with_csrf_of_a", status, 200)
            status, _, _ = b.request(
                "POST", "/v1/recommendations", write, headers=self._with_cookie()
            )
            self._check("api_write_on_b_without_csrf_refused", status, 403)
            form = urlencode({"csrf_token": self.csrf or ""})
            status, headers, _ = b.request(
                "POST",
                "/logout",
                raw=form.encode(),
                content_type="application/x-www-form-urlencoded",
                headers=self._with_cookie(PAGE),
            )
            self._check("logout_on_b", status, 302, "/login" in headers.get("location", ""))
            status, headers, _ = a.request("GET", "/counsel/", headers=self._with_cookie(PAGE))
            self._check(
                "page_on_a_after_logout_refused",
                status,
                302,
                "/login" in headers.get("location", ""),
            )
            status, _, _ = a.request("GET", "/v1/agreements", headers=self._with_cookie())
            self._check("api_on_a_after_logout_refused", status, 401)
        finally:
            a.close()
            b.close()


def _wait_for_fresh_minute(margin: float = 12.0) -> None:
    """The anonymous limit counts per clock minute: start a check early in one."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.2)


def anonymous_limit_across_servers(a: Server, b: Server) -> dict[str, Any]:
    """One address's anonymous reads, part on ``a`` and part on ``b``: all within the limit
    answered, the next one refused (429) on either server."""
    _wait_for_fresh_minute()
    address = f"198.51.100.{secrets.randbelow(250) + 1}"
    on_a = ANON_LIMIT // 2 + 2
    statuses: dict[str, list[int]] = {"a": [], "b": []}
    clients = {"a": Client(a.base_url), "b": Client(b.base_url)}
    # LOTSE_PROXY_HOPS=1: the servers take the client's address from X-Forwarded-For
    hdr = {"X-Forwarded-For": address}
    try:
        for name, n in (("a", on_a), ("b", ANON_LIMIT - on_a)):
            for _ in range(n):
                statuses[name].append(
                    clients[name].request("GET", "/v1/offers?per_page=1", headers=hdr)[0]
                )
        refused_b, headers_b, _ = clients["b"].request("GET", "/v1/offers?per_page=1", headers=hdr)
        refused_a, headers_a, _ = clients["a"].request("GET", "/v1/offers?per_page=1", headers=hdr)
        other, _, _ = clients["a"].request(
            "GET", "/v1/offers?per_page=1", headers={"X-Forwarded-For": "198.51.100.251"}
        )
    finally:
        for c in clients.values():
            c.close()
    within = statuses["a"] + statuses["b"]
    ok = (
        within == [200] * ANON_LIMIT
        and refused_a == refused_b == 429
        and "retry-after" in headers_a
        and "retry-after" in headers_b
        and other == 200
    )
    return {
        "limit_per_minute": ANON_LIMIT,
        "answered_within": f"{within.count(200)} of {ANON_LIMIT} ({on_a} on a, "
        f"{ANON_LIMIT - on_a} on b)",
        "next_on_b": refused_b,
        "next_on_a": refused_a,
        "another_address": other,
        "ok": ok,
    }


def forwarded_address_through_balancer(inst: Installation, balancer: Balancer) -> dict[str, Any]:
    """A client's own ``X-Forwarded-For`` is not believed: behind one proxy the servers count
    the address HAProxy appended (here 127.0.0.1), never the forged one."""
    forged = "203.0.113.66"
    client = Client(balancer.base_url)
    try:
        statuses = [
            client.request("GET", "/v1/offers?per_page=1", headers={"X-Forwarded-For": forged})[0]
            for _ in range(3)
        ]
    finally:
        client.close()
    counted = {
        key: int(
            inst.scalar("SELECT coalesce(sum(count), 0) FROM rate_counters WHERE key = :k", k=key)
        )
        for key in (f"anon:{forged}", f"anon:{HOST}")
    }
    return {
        "statuses": statuses,
        "counted_for_forged_address": counted[f"anon:{forged}"],
        "counted_for_balancer_client": counted[f"anon:{HOST}"],
        "ok": statuses == [200] * 3
        and counted[f"anon:{forged}"] == 0
        and counted[f"anon:{HOST}"] >= 3,
    }


# --- the balancer's retry rules, on servers that drop every request ------------------------


class _DroppingHandler(BaseHTTPRequestHandler):
    """Answers the health check; reads any other request and closes the connection without
    a word, as a server killed while working on it would."""

    protocol_version = "HTTP/1.1"

    def _drop(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.reached[self.command] += 1  # type: ignore[attr-defined]
        self.close_connection = True

    def do_GET(self) -> None:
        if self.path == "/readyz":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._drop()

    do_POST = do_PATCH = do_PUT = do_DELETE = _drop

    def log_message(self, *args: Any) -> None:
        pass


def retry_policy(folder: Path) -> dict[str, Any]:
    """The generated configuration's retry rules, shown on two servers that drop every
    request: how often each method reached a server. Idempotent methods are sent again (to
    the other server, up to ``retries``); POST and PATCH reach a server once and get 502."""
    servers = {}
    for name in ("x", "y"):
        httpd = ThreadingHTTPServer((HOST, 0), _DroppingHandler)
        httpd.daemon_threads = True
        httpd.reached = Counter()  # type: ignore[attr-defined]
        httpd.lock = threading.Lock()  # type: ignore[attr-defined]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers[name] = httpd
    answers: dict[str, Any] = {}
    try:
        with Balancer(folder, {n: h.server_address[1] for n, h in servers.items()}) as lb:
            for method in ("GET", "PUT", "DELETE", "POST", "PATCH"):
                client = Client(lb.base_url, timeout=30)
                body = {"probe": method} if method in ("POST", "PUT", "PATCH") else None
                try:
                    answers[method] = client.request(method, "/v1/probe", body)[0]
                except (OSError, http.client.HTTPException):
                    answers[method] = 0
                finally:
                    client.close()
    finally:
        for httpd in servers.values():
            httpd.shutdown()
            httpd.server_close()
    reached = Counter()
    for httpd in servers.values():
        reached.update(httpd.reached)  # type: ignore[attr-defined]
    sent = {m: f"reached a server {reached[m]}×, answered {answers[m]}" for m in answers}
    return {
        **sent,
        "ok": all(reached[m] == 1 for m in ("POST", "PATCH"))
        and all(reached[m] > 1 for m in ("GET", "PUT", "DELETE"))
        and all(answers[m] == 502 for m in answers),
    }


# --- the run --------------------------------------------------------------------------------


def failover(ledger: Ledger, kill_s: float, killed_s: float) -> dict[str, Any]:
    """Every failed request, relative to the kill. ``allowed``: non-idempotent requests in
    flight on the killed server (sent before its port refused connections, ``killed_s``,
    answered after the kill began) without an answer from the app; anything else is a
    failure of the run."""
    allowed, other = [], []
    for f in ledger.failure_log:
        in_flight = (
            f.method is not None
            and not f.idempotent
            and f.sent_s is not None
            and f.sent_s <= killed_s
            and f.at_s >= kill_s
            and f.status in (0, 502)
        )
        (allowed if in_flight else other).append(f)

    def describe(f: Any) -> str:
        sent = "" if f.sent_s is None else f"sent {f.sent_s - kill_s:+.3f} s, "
        why = "in flight on b at the kill" if f in allowed else "FAILED"
        return (
            f"{why}: {f.method or '-'} {f.kind} -> {f.status}: {sent}failed "
            f"{f.at_s - kill_s:+.3f} s from the kill ({f.message[:200]})"
        )

    return {
        "failed_idempotent": sum(1 for f in ledger.failure_log if f.idempotent),
        "failed_writes_in_flight_at_kill": len(allowed),
        "failed_otherwise": len(other),
        "last_failure_after_kill_s": round(
            max((f.at_s - kill_s for f in ledger.failure_log), default=0.0), 3
        ),
        "details": [describe(f) for f in ledger.failure_log[:40]],
        "ok": not other,
    }


def run(
    duration: float = 60,
    counsellors: int = 4,
    agencies: int = 3,
    offers: int = 500,
    postgres: str | None = None,
    seed: int = 0,
    keep: bool = False,
    restart_after: float = 1.0,
) -> dict[str, Any]:
    setup_started = time.monotonic()
    password = secrets.token_urlsafe(18)
    with (
        postgres_server(postgres) as admin_url,
        installation("lotse-stress-cluster", postgres=admin_url, keep=keep) as inst,
    ):
        scope = prepare(inst, offers)
        edit_offers = scope["edit_offers"]
        inst.create_user(WEB_USER, password, "counsellor", centre=WEB_CENTRE)
        log("the balancer's retry rules, on two servers that drop every request")
        retries = retry_policy(inst.data_dir / "haproxy-retries")
        server_env = {
            "LOTSE_PROXY_HOPS": "1",
            "LOTSE_ANON_READS_PER_MINUTE": str(ANON_LIMIT),
            # 2 servers × 2 workers × (4 + 4) connections at most
            "LOTSE_DB_POOL_SIZE": "4",
            "LOTSE_DB_MAX_OVERFLOW": "4",
        }
        servers = {name: Server(inst, workers=2, threads=4, env=server_env) for name in "ab"}
        a, b = servers["a"], servers["b"]
        try:
            for s in servers.values():
                s.start(wait=False)
            for s in servers.values():
                s.wait_ready(timeout=90)
            setup_s = time.monotonic() - setup_started
            figures = _run_behind_balancer(
                inst, a, b, edit_offers, password, duration, counsellors, agencies, seed,
                restart_after,
            )  # fmt: skip
            server_errors = {n: s.unexpected_errors() for n, s in servers.items()}
            error_lines = [
                f"FAILED server {n}: {line}" for n, s in servers.items() for line in s.error_lines()
            ]
        finally:
            for s in servers.values():
                s.stop()
        ledger = figures.pop("_ledger")
        result = verify(inst, ledger, edit_offers)
        info = machine_info(inst)
    load = summary(ledger, figures["duration_s"], result)
    kill = figures["kill"]
    fail = failover(ledger, kill["at_s"], kill["at_s"] + kill["refused_after_s"])
    out = {
        "backend": info.get("database"),
        "servers": "2 × lotse serve (2 workers × 4 threads) behind HAProxy " + _haproxy_version(),
        "clients": counsellors + agencies,
        **load,
        "served_by": dict(sorted(ledger.served_by.items())),
        "kill": kill,
        "failover": {k: v for k, v in fail.items() if k != "details"},
        "balancer": figures["balancer"],
        "retry_policy": retries,
        "promotion_delay_s": figures["promotion_delay_s"],
        "promotion_polls": figures["promotion_polls"],
        "sessions": figures["sessions"],
        "anonymous_limit": figures["anonymous_limit"],
        "forwarded_for": figures["forwarded_for"],
        "server_tracebacks": server_errors,
        "ready_after": figures["ready_after"],
        "setup_s": round(setup_s, 1),
        "machine": info,
    }
    delays = figures["promotion_delay_s"]
    out["ok"] = (
        not result["problems"]
        and fail["ok"]
        and fail["failed_idempotent"] == 0
        and not any(server_errors.values())
        and len(ledger.events) == 3
        and load["requests"] > 0
        and all(d is not None and d <= PROMOTION_BUDGET_S for d in delays.values())
        and len(delays) == 2
        and all(v == "ok" for v in figures["sessions"].values())
        and figures["anonymous_limit"]["ok"]
        and figures["forwarded_for"]["ok"]
        and retries["ok"]
        and kill["marked_down_after_s"] is not None
        and kill["back_in_balancer_after_s"] is not None
        and kill["served_after_restart"] > 0
        and all(figures["ready_after"].values())
    )
    out["failures"] = fail["details"] + error_lines
    out["problems"] = result["problems"][:50]
    return out


def _haproxy_version() -> str:
    binary = haproxy_binary()
    if binary is None:
        return ""
    proc = subprocess.run([binary, "-v"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    match = re.search(r"version (\S+)", proc.stdout)
    return match.group(1) if match else ""


def _run_behind_balancer(
    inst: Installation,
    a: Server,
    b: Server,
    edit_offers: list[str],
    password: str,
    duration: float,
    counsellors: int,
    agencies: int,
    seed: int,
    restart_after: float,
) -> dict[str, Any]:
    with Balancer(inst.data_dir / "haproxy", {"a": a.port, "b": b.port}) as lb:
        session = CrossServerSession(password)
        session.log_in(a)  # before the kill: the session must outlive b's restart
        load = Workload(
            lb.base_url,
            inst.tokens,
            edit_offers,
            counsellors=counsellors,
            agencies=agencies,
            seed=seed,
        )
        ledger = load.ledger
        watcher = StatusWatcher(lb, ledger)
        log(
            f"{counsellors} counsellors and {agencies} agencies for {duration:.0f} s through "
            f"HAProxy {lb.base_url} (a: {a.base_url}, b: {b.base_url})"
        )
        load.start()
        watcher.start()
        # b is killed at a fifth of the run and started again restart_after seconds later
        kill_at = duration / 5
        load.wait_until(kill_at)
        log("killing b (SIGKILL to its master and workers)")
        kill_s = ledger.now()
        b.kill()
        killed_s = ledger.now()
        time.sleep(restart_after)
        restart: dict[str, Any] = {}

        def start_again() -> None:
            restart["began_s"] = ledger.now()
            try:
                b.start(wait=True)
                restart["ready_s"] = ledger.now()
            except Exception as exc:  # reported as a failed restart
                restart["error"] = str(exc)[-2000:]

        restarter = threading.Thread(target=start_again, name="restart-b")
        restarter.start()
        load.wait_until(duration / 3)
        load.bulk_import(30)
        # the promotion once b is back in the balancer, so that both servers must follow it
        restarter.join(timeout=max(0.0, duration / 2 - ledger.now()) + 60)
        with contextlib.suppress(RuntimeError):
            lb.wait_up({"b"}, timeout=15)
        b_up_s = ledger.now()
        stot_b_up = _server_total(lb, "b")
        load.wait_until(max(duration / 2, b_up_s + 1.0))
        pollers = {
            name: ServingPoller(name, s.base_url, inst.tokens["analyst"], ledger)
            for name, s in (("a", a), ("b", b))
        }
        for p in pollers.values():
            p.start()
        time.sleep(1.0)
        log("promoting v2 through the balancer")
        promoted_s = load.promote()
        time.sleep(PROMOTION_BUDGET_S + 1.0)
        for p in pollers.values():
            p.stop.set()
            p.join(timeout=15)
        delays = {}
        polls = {}
        for name, p in pollers.items():
            got = p.delay(promoted_s, "v2") if promoted_s is not None else {"delay_s": None}
            delays[name] = got["delay_s"]
            polls[name] = {k: v for k, v in got.items() if k != "delay_s"}
        # a slow restart delays the promotion: the run then lasts until recommendations
        # served well after it (the load's own check looks 5 s past it) have been seen
        promoted_at = ledger.now() if promoted_s is None else promoted_s
        load.wait_until(max(2 * duration / 3, promoted_at + AFTER_PROMOTION_S / 2))
        load.bulk_import(20)
        load.wait_until(max(duration, promoted_at + AFTER_PROMOTION_S))
        elapsed = load.finish()
        watcher.stop.set()
        watcher.join(timeout=5)
        stats = lb.stats()
        log("sessions, CSRF and rate limits across the servers")
        session.use_elsewhere_and_log_out(b, a)
        anonymous = anonymous_limit_across_servers(a, b)
        forwarded = forwarded_address_through_balancer(inst, lb)
        ready = {name: _ready(s) for name, s in (("a", a), ("b", b))}
    backend = next(r for r in stats if r["pxname"] == "lotse_servers" and r["svname"] == "BACKEND")
    frontend = next(r for r in stats if r["pxname"] == "lotse" and r["svname"] == "FRONTEND")
    down_s = watcher.first("b", "DOWN", kill_s)
    up_s = watcher.first("b", "UP", restart.get("began_s", kill_s))
    kill = {
        "at_s": round(kill_s, 3),
        "refused_after_s": round(killed_s - kill_s, 3),
        "marked_down_after_s": None if down_s is None else round(down_s - kill_s, 2),
        "restart_began_after_s": round(restart.get("began_s", kill_s) - kill_s, 2),
        "ready_after_s": round(restart["ready_s"] - kill_s, 2) if "ready_s" in restart else None,
        "back_in_balancer_after_s": None if up_s is None else round(up_s - kill_s, 2),
        "served_after_restart": _server_total_from(stats, "b") - stot_b_up,
    }
    if "error" in restart:
        kill["restart_error"] = restart["error"]
    return {
        "_ledger": ledger,
        "duration_s": round(elapsed, 1),
        "kill": kill,
        "balancer": {
            "retries": int(backend.get("wretr") or 0),
            "redispatches": int(backend.get("wredis") or 0),
            "responses_5xx_to_clients": int(frontend.get("hrsp_5xx") or 0),
            "server_state_changes": [f"{t:.2f} s {n} {s}" for t, n, s in watcher.changes],
        },
        "promotion_delay_s": delays,
        "promotion_polls": polls,
        "sessions": session.checks,
        "anonymous_limit": anonymous,
        "forwarded_for": forwarded,
        "ready_after": ready,
    }


def _ready(server: Server) -> bool:
    client = Client(server.base_url, timeout=10)
    try:
        return client.request("GET", "/readyz")[0] == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        client.close()


def _server_total_from(stats: list[dict[str, str]], name: str) -> int:
    row = next((r for r in stats if r["pxname"] == "lotse_servers" and r["svname"] == name), None)
    return int((row or {}).get("stot") or 0)


def _server_total(lb: Balancer, name: str) -> int:
    try:
        return _server_total_from(lb.stats(), name)
    except OSError:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--counsellors", type=int, default=4)
    parser.add_argument("--agencies", type=int, default=3)
    parser.add_argument("--offers", type=int, default=500, help="demo catalogue size")
    parser.add_argument(
        "--postgres",
        help="a PostgreSQL server to create the database on (default: LOTSE_STRESS_POSTGRES_URL "
        "or LOTSE_TEST_POSTGRES_URL when set, else a private cluster in a temporary folder)",
    )
    parser.add_argument(
        "--restart-after", type=float, default=1.0, help="seconds between the kill and the restart"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    reason = haproxy_missing()
    if reason:
        print(f"cluster: {reason}", file=sys.stderr)
        return 2
    figures = run(
        args.duration,
        args.counsellors,
        args.agencies,
        args.offers,
        args.postgres,
        args.seed,
        args.keep,
        args.restart_after,
    )
    failures, problems = figures.pop("failures"), figures.pop("problems")
    print_summary("cluster", figures)
    for line in failures:
        print("  " + line)
    for line in problems:
        print("  LOST " + line)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
