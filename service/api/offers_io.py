"""``/v1/offers/import`` and ``/v1/offers/export``: bulk import and export of offers."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, request, stream_with_context
from pydantic import BaseModel, ConfigDict, Field

from catalog import exporting, importing, reading
from lotse.accounts import SLUG
from service.auth import bearer_principal, current_principal, limit_anonymous_reads, require
from service.db import request_session, state
from service.io import parse_query, respond
from service.openapi import operation
from service.security import count_export

bp = Blueprint("offers_io", __name__, url_prefix="/v1/offers")
bp.before_request(limit_anonymous_reads)


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "json", "hsds", "hsds-tabular"] | None = Field(
        None,
        description="default: hsds-tabular for a ZIP (an HSDS tabular data package), csv for "
        "text/csv; for JSON, hsds or json by the content",
    )
    dry_run: bool = Field(False, description="report what would happen, write nothing")
    mode: Literal["atomic", "partial"] = Field(
        "atomic", description="atomic: any rejected row means nothing is written (422)"
    )
    agency_id: str | None = Field(None, description="admin only: the agency the offers are for")
    category: str | None = Field(
        None, description="HSDS: category of services that carry no Lotse category term"
    )


class RejectedRow(BaseModel):
    row: int = Field(description="data row, from 1 (the CSV header is row 0)")
    field: str
    message: str
    line: int | None = Field(None, description="CSV: the line of the file the row starts on")


class DuplicateRow(BaseModel):
    row: int
    offer_id: str | None
    similarity: float = Field(ge=0, le=1)
    title: str
    other_row: int | None = Field(None, description="when the look-alike is in the same file")


class ImportReportOut(BaseModel):
    """What the import did (or, in a dry run, would do)."""

    created: int
    updated: int
    unchanged: int
    rejected: list[RejectedRow]
    duplicates: list[DuplicateRow]
    dry_run: bool
    mode: str
    written: bool


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "json", "hsds", "hsds-tabular"] = Field(
        "csv", description="hsds-tabular: an HSDS tabular data package (a ZIP of CSV files)"
    )
    # a slug, as every agency id: it also names the file in Content-Disposition
    agency_id: str | None = Field(None, pattern=SLUG.pattern, max_length=63)


@bp.post("/import")
@operation(
    "Import offers in bulk",
    "offers",
    query=ImportQuery,
    body_types=("text/csv", "application/json", "application/zip"),
    responses={
        200: ImportReportOut,
        409: "offers of the file were created or changed by someone else meanwhile; retry",
    },
)
@require("agency", "admin")
def import_offers():
    query = parse_query(ImportQuery)
    principal = current_principal()
    body = request.get_data()
    session = request_session()
    report = importing.import_offers(
        session,
        principal,
        importing.import_agency(principal, query.agency_id),
        body,
        fmt=query.format or reading.guess_format(body, media_type=request.mimetype),
        dry_run=query.dry_run,
        mode=query.mode,
        category=query.category,
        helpers=state().settings.import_helpers,
    )
    session.commit()
    return respond(report.as_dict())


@bp.get("/export")
@operation(
    "Export active offers (CSV, JSON, HSDS or HSDS tabular)",
    "offers",
    query=ExportQuery,
    responses={
        200: "The offers as a file (csv; json and hsds: JSON; hsds-tabular: ZIP), streamed"
        "|text/csv,application/json,application/zip",
        429: "too many exports from this client within the hour",
    },
)
def export_offers():
    query = parse_query(ExportQuery)
    principal = bearer_principal()
    count_export(principal.name or principal.actor if principal else None)
    chunks = exporting.export_offers(request_session(), query.format, query.agency_id)
    name = exporting.export_filename(query.format, query.agency_id)
    return Response(
        stream_with_context(chunks),
        mimetype=exporting.MEDIA_TYPES[query.format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
