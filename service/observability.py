"""What the service tells its operators: Prometheus metrics and structured logs.

``init_observability(app)`` is called by the app factory. It

- configures logging once per app (``configure_logging``): one handler on the root logger,
  ``LOTSE_LOG_FORMAT=json`` (one JSON object per line; ``lotse serve`` defaults to it) or
  ``text`` (the default elsewhere), level ``LOTSE_LOG_LEVEL`` (INFO);
- gives every request an id (a sane incoming ``X-Request-ID`` is kept, else a new one), echoed
  in the response header and carried by every log line written during the request;
- writes one access line per request: method, the URL *rule* (``/v1/offers/<offer_id>``, never
  the path with its ids or the query string), status and duration — no bodies, no query
  strings, no tokens, no names;
- records request latency per rule and status class, recommendations per model version,
  imports and their rows, and the ranker version this process serves, served at ``/metrics``.

Why the log never carries personal data: paths can carry a ``person_ref``
(``/v1/persons/<path:person_ref>/export``) and query strings free text, so every record created
during a request (by any logger, for any handler) has the request's path and query replaced by
its rule; exception messages can carry SQL parameters or constraint details with the data in
them, so errors raised in a request are logged by type and stack only. Reproduce a failure
from its request id and stack, never from the payload.

With several gunicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` (``lotse serve`` does: a fresh
folder under ``LOTSE_DATA_DIR``) so that ``/metrics`` adds up all workers, whichever answers.
prometheus_client decides on that mode when it is first imported, so it is imported here only
inside functions, never when this module is imported.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import sys
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, has_request_context, request

from lotse.settings import Settings
from service.openapi import operation

REQUEST_ID_HEADER = "X-Request-ID"
#: An incoming request id is kept only when it looks like an id (UUIDs, hex, trace ids).
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
#: The endpoint label for requests that matched no rule (404, and 405 on unknown paths).
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Seconds; recommendations take tens of milliseconds, a large import tens of seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
IMPORT_ENDPOINT = "offers_io.import_offers"
LOG_FORMATS = ("json", "text")
#: Shorter query strings are not replaced on their own (they would match ordinary words).
MIN_SCRUBBED_QUERY = 6

access_log = logging.getLogger("lotse.access")
bp = Blueprint("observability", __name__)


# --- logging -------------------------------------------------------------------------------


def _rule_of_request() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def scrub(message: str) -> str:
    """``message`` with this request's path, query string and URL replaced by the URL rule, so
    ids in paths (a ``person_ref``) and free text in queries never reach a log line."""
    if not has_request_context():
        return message
    rule = _rule_of_request()
    candidates = {request.url, request.full_path.rstrip("?"), request.path}
    query = request.query_string.decode("latin-1")
    if len(query) >= MIN_SCRUBBED_QUERY:
        candidates.add(query)
    for raw in sorted(candidates - {"", "/"}, key=len, reverse=True):
        if raw in message:
            message = message.replace(raw, rule)
    return message


def _exception_summary(exc_info: Any) -> dict[str, Any] | None:
    """An exception as its type chain and stack frames, without its message (see module doc)."""
    if not exc_info or exc_info is True or exc_info[0] is None:
        return None
    exc = exc_info[1]
    chain: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(chain) < 10:
        seen.add(id(exc))
        chain.append(f"{type(exc).__module__}.{type(exc).__qualname__}")
        exc = exc.__cause__ or exc.__context__
    frames = [
        f"{frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc_info[2])
    ]
    return {"type": chain[0], "caused_by": chain[1:], "stack": frames}


#: Request fields a record carries when written inside a request (set at its creation).
CONTEXT_FIELDS = ("request_id", "method", "endpoint", "status", "duration_ms")


def _annotate(record: logging.LogRecord) -> None:
    """Make a record written inside a request safe for every handler, ours or not: the
    request's id, method and rule added; its message formatted with the path replaced by the
    rule; an exception reduced to its types and stack."""
    record.request_id = g.get("request_id")
    record.method = request.method
    record.endpoint = _rule_of_request()
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it for the handler to report
        return
    record.msg, record.args = scrub(message), None
    error = _exception_summary(record.exc_info)
    if error:
        causes = "".join(f" <- {c}" for c in error["caused_by"])
        record.exc_text = f"{error['type']}{causes} (message withheld)\n" + "\n".join(
            f"  at {frame}" for frame in error["stack"]
        )


def _install_record_factory() -> None:
    """Annotate every record created inside a request (once per process)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "lotse_annotates", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if has_request_context():
            _annotate(record)
        return record

    factory.lotse_annotates = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, pid, request fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        error = _exception_summary(record.exc_info)
        if error:
            if not hasattr(record, "request_id") and record.exc_info:
                # Outside requests (start-up, warm-up) messages carry no one's data.
                error["message"] = str(record.exc_info[1])
            entry["error"] = error
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A readable line for development: time, level, logger, request id, message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(rid)s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.rid = f" [{rid}]" if rid else ""
        return super().format(record)


def configure_logging(fmt: str = "text", level: str | int = "INFO") -> logging.Handler:
    """Send logs to stderr in ``fmt`` (``json`` or ``text``) through one handler on the root
    logger; calling it again (another app in the same process) replaces that handler."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"LOTSE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    _install_record_factory()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "lotse_handler", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.lotse_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    logging.getLogger("lotse").setLevel(level)
    if fmt == "json":
        # Werkzeug's development server logs every request line with its path and query
        # string; our own access line replaces it.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return handler


# --- metrics -------------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    """The folder shared by all workers' metric files, when several workers run."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """This app's metrics. Each app has its own registry (tests build many apps); in
    multiprocess mode the values live in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` reads
    all workers' files."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        self.multiprocess_dir = multiprocess_dir()
        if self.multiprocess_dir and values.ValueClass is values.MutexValue:
            # prometheus_client was imported before the variable was set (say, by a plugin in
            # the gunicorn master); choose the multiprocess values now, before any metric.
            values.ValueClass = values.get_value_class()
        elif not self.multiprocess_dir and "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            # Set but empty: prometheus_client would write its files into the working folder.
            values.ValueClass = values.MutexValue
        self.registry = CollectorRegistry(auto_describe=True)
        if not self.multiprocess_dir:
            from prometheus_client import PlatformCollector, ProcessCollector

            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self.request_seconds = Histogram(
            "lotse_http_request_duration_seconds",
            "Time to answer a request, by method, URL rule and status class.",
            ["method", "endpoint", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.recommendations = Counter(
            "lotse_recommendations",
            "Recommendation lists served (API and counsellor pages), by model version.",
            ["model_version"],
            registry=self.registry,
        )
        self.imports = Counter(
            "lotse_imports",
            "Bulk imports through the API, by outcome (written, rejected, dry_run).",
            ["outcome"],
            registry=self.registry,
        )
        self.import_rows = Counter(
            "lotse_import_rows",
            "Rows of bulk imports through the API: created, updated, unchanged (written "
            "imports only) and rejected (every import).",
            ["result"],
            registry=self.registry,
        )
        self.model_serving = Gauge(
            "lotse_model_serving",
            "1 for the ranker version a live worker serves (two during a switch).",
            ["version"],
            multiprocess_mode="livemax",
            registry=self.registry,
        )
        self._lock = threading.Lock()
        self._serving: str | None = None

    def note_model(self, version: str) -> None:
        """Record that this process serves ``version`` (cheap when nothing changed)."""
        if version == self._serving:
            return
        with self._lock:
            if self._serving is not None and self._serving != version:
                self.model_serving.labels(version=self._serving).set(0)
            self.model_serving.labels(version=version).set(1)
            self._serving = version

    def note_import(self, report: dict[str, Any], dry_run: bool) -> None:
        """Count one import from its report (the 200 answer or the 422 problem's report)."""
        written = bool(report.get("written")) and not dry_run
        outcome = "dry_run" if dry_run else "written" if written else "rejected"
        self.imports.labels(outcome=outcome).inc()
        rejected = report.get("rejected") or []
        rows = len({r.get("row") for r in rejected if isinstance(r, dict)})
        if rows:
            self.import_rows.labels(result="rejected").inc(rows)
        if written:
            for result in ("created", "updated", "unchanged"):
                count = report.get(result)
                if isinstance(count, int) and count > 0:
                    self.import_rows.labels(result=result).inc(count)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus text format, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry = self.registry
        if self.multiprocess_dir:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics() -> Metrics:
    return current_app.extensions["lotse_metrics"]


def _serving_version() -> str | None:
    """The ranker version this process serves, after following the registry's pointer."""
    state = current_app.extensions.get("lotse_ranking")
    if state is None:
        return None
    active = state.active
    try:
        return active.current().version
    except Exception:  # a scrape must not fail because the registry is unreadable
        return active.serving


@bp.get("/metrics", endpoint="metrics")
@operation(
    "Prometheus metrics",
    "meta",
    responses={200: "Metrics in the Prometheus text format|text/plain"},
)
def metrics_view() -> Response:
    m = metrics()
    version = _serving_version()
    if version:
        m.note_model(version)
    body, content_type = m.exposition()
    resp = Response(body, status=200, content_type=content_type)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- request hooks -------------------------------------------------------------------------


def _begin_request() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _finish_request(response: Response) -> Response:
    started = g.get("request_started")
    duration = time.perf_counter() - started if started is not None else 0.0
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    rule = _rule_of_request()
    method = request.method if request.method in METHODS else "OTHER"
    status = response.status_code
    m = current_app.extensions.get("lotse_metrics")
    if m is not None:
        m.request_seconds.labels(method, rule, f"{status // 100}xx").observe(duration)
        _count_domain_events(m, response)
    access_log.info(
        "%s %s %s %.1fms",
        method,
        rule,
        status,
        duration * 1000,
        # method and rule are added to every record in a request (see ``_annotate``).
        extra={"status": status, "duration_ms": round(duration * 1000, 2)},
    )
    return response


def _count_domain_events(m: Metrics, response: Response) -> None:
    """Recommendations and imports, counted from what the request did at the service layer
    (the domain packages know nothing of metrics)."""
    status = response.status_code
    # ``service.ranking.ranker_for`` pins who ranks a request in ``g.lotse_assignment``: a
    # successful request that pinned one served a recommendation.
    assignment = g.get("lotse_assignment")
    if assignment is not None and status < 400:
        version = str(getattr(assignment.ranker, "version", "unknown"))
        m.recommendations.labels(model_version=version).inc()
        m.note_model(version)
    if request.endpoint == IMPORT_ENDPOINT and status in (200, 422) and response.is_json:
        body = response.get_json(silent=True) or {}
        report = body.get("report", body) if isinstance(body, dict) else None
        if isinstance(report, dict) and "rejected" in report:
            dry_run = request.args.get("dry_run", "").lower() in ("true", "1", "yes", "on")
            m.note_import(report, dry_run=bool(report.get("dry_run", dry_run)))


# --- wiring --------------------------------------------------------------------------------


def init_observability(app: Flask, settings: Settings) -> None:
    """Logging, request ids, the access log and metrics for ``app``. Register it before the
    other blueprints so that its hooks run first and see every request."""
    fmt = settings.log_format or "text"
    app.extensions["lotse_log_handler"] = configure_logging(fmt, settings.log_level)
    app.extensions["lotse_metrics"] = Metrics()
    app.before_request(_begin_request)
    app.after_request(_finish_request)
    app.register_blueprint(bp)


def prepare_multiprocess_dir(data_dir: Path | str, port: int) -> Path:
    """Give this server's workers a fresh folder for their metric files and point
    ``PROMETHEUS_MULTIPROC_DIR`` at it (one set by the operator is used, emptied of old files).

    Default: ``LOTSE_DATA_DIR/metrics/<host>-<port>``, so that two servers sharing a data
    folder never share (or wipe) each other's files. Call it before any worker starts."""
    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if chosen:
        folder = Path(chosen)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        folder = Path(data_dir) / "metrics" / f"{socket.gethostname()}-{port}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def gunicorn_child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: a dead worker's live gauges (the model it served) stop counting."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
