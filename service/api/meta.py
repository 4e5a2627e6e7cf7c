"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, current_app
from pydantic import BaseModel
from sqlalchemy import text

from service.db import state
from service.errors import problem
from service.io import respond
from service.openapi import build_document, operation

bp = Blueprint("meta", __name__)


class Health(BaseModel):
    """The process is up (readiness also checks the database)."""

    status: str


@bp.get("/healthz")
@operation("Liveness", "meta", responses={200: Health})
def healthz():
    return respond(Health(status="ok"))


@bp.get("/readyz")
@operation(
    "Readiness: the configuration is safe to serve with and the database answers",
    "meta",
    responses={200: Health},
)
def readyz():
    if state().settings.secret_problems():
        # Named in the server log (never the values), not to anonymous callers.
        return problem(503, "Service unavailable", "the server's configuration is not safe")
    try:
        with state().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database means "not ready"
        return problem(503, "Service unavailable", "the database is not reachable")
    return respond(Health(status="ready"))


@bp.get("/openapi.json")
def openapi_document():
    doc = current_app.extensions.get("lotse_openapi")
    if doc is None:
        doc = current_app.extensions["lotse_openapi"] = build_document(current_app)
    return respond(doc)
