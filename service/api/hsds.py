"""``/hsds/``: the HSDS 3.0 read API over the catalogue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from catalog import hsds
from service.auth import limit_anonymous_reads
from service.db import db
from service.io import parse_query, respond
from service.openapi import operation

bp = Blueprint("hsds", __name__, url_prefix="/hsds")
bp.before_request(limit_anonymous_reads)


class HsdsInfo(BaseModel):
    """Which HSDS version and profile this API serves."""

    version: str
    profile: str
    openapi_url: str


class HsdsServicesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search: str | None = Field(None, max_length=200, description="fuzzy text search")
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=hsds.MAX_PER_PAGE)
    taxonomy_term_id: str | None = Field(
        None, description="a category's taxonomy term id (or the category code)"
    )
    modified_after: datetime | None = None
    full: bool = Field(False, description="fully nested services instead of one-to-one fields")


class HsdsServicePage(BaseModel):
    """One page of services (HSDS ``Page``; items per ``compiled/service_list.json``)."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    first_page: bool
    last_page: bool
    empty: bool
    contents: list[dict[str, Any]]


class HsdsService(BaseModel):
    """A fully nested HSDS 3.0 service (``compiled/service.json``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    status: str


@bp.get("/")
@operation("HSDS API information", "hsds", responses={200: HsdsInfo})
def api_info():
    return respond(hsds.api_info())


@bp.get("/services")
@operation(
    "HSDS services, paginated", "hsds", query=HsdsServicesQuery, responses={200: HsdsServicePage}
)
def list_services():
    query = parse_query(HsdsServicesQuery)
    return respond(hsds.service_page(db(), **query.model_dump()))


@bp.get("/services/<service_id>")
@operation("One HSDS service, fully nested", "hsds", responses={200: HsdsService})
def get_service(service_id: str):
    return respond(hsds.service_by_id(db(), service_id))
