"""The one error envelope: every failure becomes ``application/problem+json`` (RFC 9457).

Domain exceptions are mapped to HTTP statuses here and nowhere else. Unexpected exceptions are
logged with a traceback on the server and answered with a bare 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from lotse import errors as e

log = logging.getLogger("lotse.service")

STATUS: dict[type[e.LotseError], int] = {
    e.InvalidInput: 422,
    e.RejectedImport: 422,
    e.BadPayload: 400,
    e.NotFound: 404,
    e.Unauthenticated: 401,
    e.Forbidden: 403,
    e.Conflict: 409,
    e.StaleVersion: 412,
    e.PreconditionRequired: 428,
}

PROBLEM_TYPE = "https://lotse.example/problems/"


def problem(status: int, title: str, detail: str = "", **extra: Any) -> Response:
    """Build a problem+json response."""
    body = {
        "type": PROBLEM_TYPE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    body.update(extra)
    resp = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="lotse"'
    return resp


def status_for(exc: e.LotseError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(e.LotseError)
    def _domain(exc: e.LotseError) -> Response:
        extra: dict[str, Any] = {}
        if isinstance(exc, e.InvalidInput):
            extra["errors"] = [fe.as_dict() for fe in exc.errors]
        if isinstance(exc, e.RejectedImport):
            extra["report"] = exc.report
            extra["errors"] = [
                {"field": f"row {r['row']}.{r['field']}", "message": r["message"]}
                for r in exc.report.get("rejected", [])[:1000]
            ]
        return problem(status_for(exc), exc.title, exc.detail, **extra)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        return problem(
            413,
            "Payload too large",
            f"the request body is larger than the limit of {limit // (1024 * 1024)} MB",
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        resp = problem(exc.code or 500, exc.name, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            resp.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return resp

    @app.errorhandler(OperationalError)
    def _db_down(exc: OperationalError) -> Response:
        log.error(
            "database unavailable on %s %s: %s",
            request.method,
            request.path,
            type(exc.orig).__name__ if exc.orig else "OperationalError",
        )
        return problem(
            503, "Service unavailable", "the database is not reachable right now; try again shortly"
        )

    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError) -> Response:
        if exc.connection_invalidated:
            return _db_down(exc)  # type: ignore[arg-type]
        if isinstance(exc, DataError):
            # a value the database cannot hold or compare, such as a NUL character in a
            # path, a query or a JSON string (PostgreSQL text refuses it; SQLite takes it)
            log.warning("database refused a value on %s %s", request.method, request.path)
            return problem(
                400, "Bad request", "a value in the request cannot be stored or searched for"
            )
        log.exception("database error on %s %s", request.method, request.path)
        return problem(500, "Internal server error", "an unexpected error occurred")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal server error", "an unexpected error occurred")
