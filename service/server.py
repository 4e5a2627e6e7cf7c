"""Running the app under gunicorn with defaults that suit numerical work per worker."""

from __future__ import annotations

import os
from typing import Any

from lotse.settings import Settings


def default_workers() -> int:
    """One worker per core: each worker holds its own catalogue arrays and model."""
    return max(1, os.cpu_count() or 1)


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served on (in use, not allowed), or None when it can.

    Checked before any slow start-up work, so that a busy port is one clear line instead of
    a stack of gunicorn errors after a banner that already named the address."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OverflowError):
        return f"cannot serve on {host}:{port}: unknown host"
    family, _kind, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use (another Lotse still running?); "
                    f"stop it or choose another port, e.g. make run PORT={port + 1}"
                )
            return f"cannot serve on {host}:{port}: {exc.strerror}"
    return None


def serving_settings() -> Settings:
    """The settings ``lotse serve`` runs with: those of the environment, with JSON logs unless
    another format was chosen. Raises ``UnsafeConfiguration`` when the secrets are missing or
    weak, so that an unsafe server never starts."""
    settings = Settings.load()
    if settings.log_format is None:
        settings = settings.model_copy(update={"log_format": "json"})
    settings.require_safe_secrets()
    return settings


def run_gunicorn(
    settings: Settings, host: str, port: int, workers: int | None, threads: int, timeout: int
) -> None:
    """Start gunicorn in this process; numerical libraries get one thread per worker so that
    workers do not fight over cores."""
    from gunicorn.app.base import BaseApplication

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # Before any worker exists: one folder for all workers' metric files.
    from service.observability import gunicorn_child_exit, prepare_multiprocess_dir

    prepare_multiprocess_dir(settings.data_dir, port)

    class _App(BaseApplication):
        def __init__(self, options: dict[str, Any]) -> None:
            self.options = options
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                self.cfg.set(key, value)

        def load(self):
            from service.app import create_app

            app = create_app(settings=settings)
            warm_up(app)
            return app

    _App(
        {
            "bind": f"{host}:{port}",
            "workers": workers or default_workers(),
            "threads": threads,
            "timeout": timeout,
            "graceful_timeout": 20,
            "keepalive": 5,
            "accesslog": None,
            "worker_class": "gthread",
            "child_exit": gunicorn_child_exit,
            # gunicorn's control socket has one path per user ($XDG_RUNTIME_DIR or
            # ~/.gunicorn): a second server on the host would take it over, and stopping
            # either would remove it. Servers are run by signals and supervisors instead.
            "control_socket_disable": True,
        }
    ).run()


def warm_up(app) -> None:
    """Build what the first request would otherwise wait for (place index, catalogue
    snapshot, the active ranker), then move it out of the garbage collector's way: the
    long-lived arrays and indexes are frozen so later collections do not walk them on a
    request."""
    import gc
    import logging

    from matcher.places import place_index
    from service.db import request_session
    from service.ranking import active_ranker, snapshot_cache

    log = logging.getLogger("lotse.service")
    try:
        place_index()
        with app.app_context():
            snapshot_cache().current(request_session())
            # Load the active ranker now: a worker that loaded it lazily would answer its
            # first requests with the rule score, and would never hold the active version
            # if the pointer later moved to an artifact it must refuse.
            active_ranker().refresh_now()
    except Exception:  # a worker that cannot warm up still serves; the request path retries
        log.warning("warm-up failed; the first request will build the snapshot", exc_info=True)
    gc.collect()
    gc.freeze()
