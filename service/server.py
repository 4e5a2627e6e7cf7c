"""Running the app under gunicorn with defaults that suit numerical work per worker."""

from __future__ import annotations

import os
from typing import Any


def default_workers() -> int:
    """One worker per core: each worker holds its own catalogue arrays and model."""
    return max(1, os.cpu_count() or 1)


def run_gunicorn(host: str, port: int, workers: int | None, threads: int, timeout: int) -> None:
    """Start gunicorn in this process; numerical libraries get one thread per worker so that
    workers do not fight over cores."""
    from gunicorn.app.base import BaseApplication

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # Before any worker exists: JSON logs, and one folder for all workers' metric files.
    from lotse.config import Config
    from service.observability import gunicorn_child_exit, prepare_multiprocess_dir

    os.environ.setdefault("LOTSE_LOG_FORMAT", "json")
    prepare_multiprocess_dir(Config.from_env().data_dir, port)

    class _App(BaseApplication):
        def __init__(self, options: dict[str, Any]) -> None:
            self.options = options
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                self.cfg.set(key, value)

        def load(self):
            from service.app import create_app

            app = create_app()
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
    from service.api.recommendations import snapshot_cache
    from service.db import db

    log = logging.getLogger("lotse.service")
    try:
        place_index()
        with app.app_context():
            snapshot_cache().current(db())
            # Load the active ranker now: a worker that loaded it lazily would answer its
            # first requests with the rule score, and would never hold the active version
            # if the pointer later moved to an artifact it must refuse.
            ranker = app.extensions.get("lotse_models")
            if ranker is not None:
                ranker.refresh_now()
    except Exception:  # a worker that cannot warm up still serves; the request path retries
        log.warning("warm-up failed; the first request will build the snapshot", exc_info=True)
    gc.collect()
    gc.freeze()
