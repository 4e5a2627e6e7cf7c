"""What every stress script shares: a throwaway Lotse installation (data folder, database,
demo catalogue, tokens), a real server on loopback, a small HTTP client, PostgreSQL helpers
and a description of the machine.

Everything here talks to 127.0.0.1 only, and everything it starts it also stops (by process
id), so a script can be run and killed without leaving servers behind.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PGBIN = Path(os.environ.get("LOTSE_PGBIN", "/usr/lib/postgresql/15/bin"))
#: Where a script finds a PostgreSQL server it may create databases in (none: SQLite).
POSTGRES_ENV = ("LOTSE_STRESS_POSTGRES_URL", "LOTSE_TEST_POSTGRES_URL")
ROLES = ("admin", "agency", "counsellor", "analyst")


def log(message: str) -> None:
    """Progress on stderr, so a script's figures on stdout stay clean."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def lotse_command() -> list[str]:
    """The ``lotse`` command of the interpreter running this script."""
    script = Path(sys.executable).with_name("lotse")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.cli import main; main()"]


# --- the installation -----------------------------------------------------------------------


@dataclass
class Installation:
    """One Lotse installation: a data folder and a database, used through ``lotse``."""

    data_dir: Path
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)
    #: More environment for ``lotse`` and the server (``LOTSE_*`` settings of a run).
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LOTSE_DATA_DIR=str(self.data_dir),
            LOTSE_DATABASE_URL=self.database_url,
            OMP_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    def lotse(self, *args: str, timeout: float = 300) -> str:
        """Run ``lotse ARGS`` against this installation; its output, or an error with it."""
        proc = subprocess.run(
            [*lotse_command(), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"lotse {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc.stdout

    def engine(self):
        from lotse.db import make_engine

        return make_engine(self.database_url)

    def create_token(self, role: str, agency: str | None = None, centre: str | None = None) -> str:
        """A bearer token through the same domain function ``lotse tokens create`` uses
        (in-process: five CLI start-ups would cost ten seconds of a short CI run)."""
        from lotse.accounts import create_token
        from lotse.db import make_session_factory, transaction

        engine = self.engine()
        try:
            with transaction(make_session_factory(engine)) as session:
                return create_token(session, role, agency, centre, label="stress")
        finally:
            engine.dispose()

    def create_user(
        self, username: str, password: str, role: str, centre: str | None = None
    ) -> None:
        """A web login, through the domain function ``lotse users create`` uses."""
        from lotse.accounts import create_user
        from lotse.db import make_session_factory, transaction

        engine = self.engine()
        try:
            with transaction(make_session_factory(engine)) as session:
                create_user(session, username, password, role, centre_id=centre)
        finally:
            engine.dispose()

    def scalar(self, sql: str, **params: Any) -> Any:
        from sqlalchemy import text

        engine = self.engine()
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).scalar()
        finally:
            engine.dispose()

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql), params)]
        finally:
            engine.dispose()


def postgres_admin_url(explicit: str | None = None) -> str | None:
    """A PostgreSQL server to create stress databases in: ``explicit``, else
    ``LOTSE_STRESS_POSTGRES_URL`` or ``LOTSE_TEST_POSTGRES_URL``; ``None``: use SQLite."""
    if explicit:
        return explicit
    for name in POSTGRES_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return None


def add_backend_arguments(parser: Any) -> None:
    """``--postgres URL`` and ``--sqlite``, the same in every script."""
    parser.add_argument(
        "--postgres",
        help="a PostgreSQL server to create the database on (default: LOTSE_STRESS_POSTGRES_URL "
        "or LOTSE_TEST_POSTGRES_URL when set, else SQLite)",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if a server is set")


def chosen_postgres(args: Any) -> str | None:
    """The PostgreSQL server the arguments (or the environment) name; ``None``: SQLite."""
    return None if args.sqlite else postgres_admin_url(args.postgres)


def fresh_postgres_database(admin_url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``admin_url``; its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def installation(
    name: str, *, postgres: str | None = None, keep: bool = False
) -> Iterator[Installation]:
    """A fresh, migrated installation in a temporary folder: SQLite there, or a new database
    ``name`` on the PostgreSQL server ``postgres``. Removed afterwards unless ``keep``."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"lotse-{name}-"))
    db_name = f"{name}_{os.getpid()}".replace("-", "_")
    if postgres:
        url = fresh_postgres_database(postgres, db_name)
    else:
        url = f"sqlite:///{data_dir / 'lotse.db'}"
    inst = Installation(data_dir=data_dir, database_url=url)
    from lotse.settings import generate_secrets_file

    generate_secrets_file(data_dir)  # as `make run` does: the server refuses to start without
    inst.lotse("init")
    try:
        yield inst
    finally:
        if not keep:
            if postgres:
                with contextlib.suppress(Exception):
                    drop_postgres_database(postgres, db_name)
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            log(f"kept {data_dir} ({url})")


# --- the server -----------------------------------------------------------------------------


class Server:
    """``lotse serve`` (gunicorn) on a free loopback port, for as long as the ``with`` lasts.

    ``env`` adds settings for this server only (several servers may share one installation).
    ``kill`` ends it as a crash would (SIGKILL to master and workers); ``start`` starts it
    again on the same port, its log continuing in the same file."""

    def __init__(
        self,
        inst: Installation,
        *,
        workers: int = 2,
        threads: int = 4,
        timeout: int = 60,
        env: dict[str, str] | None = None,
    ) -> None:
        self.inst = inst
        self.port = free_port()
        self.workers = workers
        self.threads = threads
        self.timeout = timeout
        self.extra_env = dict(env or {})
        self.log_path = inst.data_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Server:
        self.start()
        return self

    def start(self, wait: bool = True) -> None:
        """Start ``lotse serve``; with ``wait``, return once ``/readyz`` answers 200."""
        if self.proc is not None:
            raise RuntimeError(f"the server on port {self.port} runs already")
        cmd = [
            *lotse_command(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--timeout",
            str(self.timeout),
        ]
        # open for as long as the server runs (closed by stop or kill)
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            env={**self.inst.env, **self.extra_env},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as one, by our pid
        )
        if not wait:
            return
        try:
            self.wait_ready(timeout=90)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"lotse serve exited {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _, _ = Client(self.base_url, timeout=2).request("GET", "/readyz")
                if status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"lotse serve not ready after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    #: What the server logs for a request that failed unexpectedly (answered 500).
    UNEXPECTED = ("unhandled error on", "database error on", "Traceback")

    def error_lines(self, limit: int = 5) -> list[str]:
        """The server's logged unexpected errors, the first ``limit``: a JSON log line, or a
        plain traceback with the lines of its stack."""
        found: list[str] = []
        lines = self.log_text().splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not any(mark in line for mark in self.UNEXPECTED):
                continue
            block = [line]
            if line.startswith("Traceback"):  # to the next log record ("[date]" or "{json")
                while i < len(lines) and not lines[i].startswith(("[", "{")):
                    block.append(lines[i])
                    i += 1
            found.append("\n".join(block)[-6000:])
            if len(found) >= limit:
                break
        return found

    def unexpected_errors(self) -> int:
        """How many unexpected errors the server logged so far."""
        return len(self.error_lines(limit=10**9))

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # gunicorn's graceful stop
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self._log.close()

    def kill(self) -> None:
        """End the server as a crash would: SIGKILL to the master and every worker at once
        (its process group), no graceful stop. Returns once the master is gone and the port
        refuses connections (the workers share the listening socket and may outlive the
        master by some milliseconds)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self._log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.002)

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- a small HTTP client --------------------------------------------------------------------


class Client:
    """One keep-alive connection to the server (one per thread); JSON in, JSON out.

    A connection idle for ``IDLE_SECONDS`` is replaced before the next request: gunicorn
    closes keep-alive connections after 5 idle seconds, and a request sent just as it does
    would fail without the server being at fault. Nothing is ever retried once sent."""

    IDLE_SECONDS = 2.0

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30) -> None:
        rest = base_url.removeprefix("http://")
        host, _, port = rest.partition(":")
        self.host, self.port = host, int(port or 80)
        self.token = token
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is not None and time.monotonic() - self.last_used > self.IDLE_SECONDS:
            self.close()
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, str], Any]:
        """``(status, headers, body)``; the body parsed as JSON when it is JSON. Raises
        ``OSError`` or ``http.client.HTTPException`` when the connection fails."""
        hdrs = {"Accept": "application/json"}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        payload = raw
        if body is not None:
            payload = json.dumps(body).encode()
        if payload is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        conn = self._connection()
        try:
            conn.request(method, path, body=payload, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        self.last_used = time.monotonic()
        out_headers = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            self.close()
        ctype = out_headers.get("content-type", "")
        parsed: Any = data
        if "json" in ctype and data:
            parsed = json.loads(data)
        return resp.status, out_headers, parsed


# --- PostgreSQL: a private cluster ---------------------------------------------------------


def _as_postgres(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the ``postgres`` user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)


def private_cluster_possible() -> str | None:
    """Why a private cluster cannot be made here (``None``: it can)."""
    if not (PGBIN / "pg_ctl").exists():
        return f"{PGBIN / 'pg_ctl'} is missing (PostgreSQL 15 server binaries; CI installs them)"
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the cluster as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


class PrivateCluster:
    """A throwaway PostgreSQL cluster of our own (initdb under /tmp, loopback, own port), so a
    script may stop and start the database server without disturbing anyone else's."""

    def __init__(self, max_connections: int = 60) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lotse-pg-"))
        self.port = free_port()
        self.max_connections = max_connections
        self.log = self.dir / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = _as_postgres([str(PGBIN / "pg_ctl"), "-D", str(self.data), *args], timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)}: {proc.stdout}{proc.stderr}")
        return proc

    def __enter__(self) -> PrivateCluster:
        proc = _as_postgres(
            [
                str(PGBIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            timeout=120,
        )
        if proc.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {proc.stdout}{proc.stderr}")
        self.start()
        return self

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses={HOST} -c fsync=off "
            f"-c max_connections={self.max_connections}"
        )
        self._pg_ctl("-o", opts, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._pg_ctl("-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def postgres_server(explicit: str | None = None, max_connections: int = 100) -> Iterator[str]:
    """A PostgreSQL server to create databases in, for as long as the ``with`` lasts:
    ``explicit``, else ``LOTSE_STRESS_POSTGRES_URL`` / ``LOTSE_TEST_POSTGRES_URL``, else a
    private cluster started for the purpose (and removed afterwards)."""
    url = postgres_admin_url(explicit)
    if url:
        yield url
        return
    reason = private_cluster_possible()
    if reason:
        raise RuntimeError(f"no PostgreSQL server named and no private cluster possible: {reason}")
    log(f"starting a private PostgreSQL cluster ({PGBIN})")
    with PrivateCluster(max_connections=max_connections) as cluster:
        yield cluster.url


# --- the machine ----------------------------------------------------------------------------


def machine_info(inst: Installation | None = None) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        # other work on the machine while measuring (1-minute load average)
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if inst is not None:
        info["database"] = inst.backend
        if inst.backend == "postgresql":
            with contextlib.suppress(Exception):
                info["database"] = "PostgreSQL " + str(inst.scalar("SHOW server_version"))
        else:
            import sqlite3

            info["database"] = f"SQLite {sqlite3.sqlite_version}"
    return info


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0–1) of ``values`` by nearest rank; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def print_summary(title: str, figures: dict[str, Any]) -> None:
    """The figures of a run on stdout: readable lines, then one JSON line for tools."""
    print(f"== {title} ==")
    for key, value in figures.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"  {key}: {value}")
    print("JSON " + json.dumps({"title": title, **figures}, default=str), flush=True)
