"""``/hsds/``: the HSDS 3.0 read API over the catalogue, every operation of the HSDS 3.0
OpenAPI document with its standard parameters (``catalog.hsds_api`` answers them)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, Response, json, stream_with_context, url_for
from pydantic import BaseModel, ConfigDict, Field

from catalog import hsds_api
from service.auth import bearer_principal, limit_anonymous_reads
from service.db import request_session
from service.io import parse_query, respond
from service.openapi import operation
from service.security import count_export

bp = Blueprint("hsds", __name__, url_prefix="/hsds")
bp.before_request(limit_anonymous_reads)

NDJSON = "application/x-ndjson"


class HsdsInfo(BaseModel):
    """Which HSDS version and profile this API serves, and where its OpenAPI document is."""

    version: str
    profile: str
    openapi_url: str


class _Paging(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search: str | None = Field(
        None,
        max_length=200,
        description="text search: the records containing the most of its words first (a typo "
        "is forgiven)",
    )
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=hsds_api.MAX_PER_PAGE)
    format: Literal["json", "ndjson"] = Field(
        "json", description="ndjson: every result, one JSON object a line, without pages"
    )


class _ServiceFilters(_Paging):
    taxonomy_term_id: str | None = Field(
        None,
        max_length=100,
        description="services with this taxonomy term (a category's term id or code: a parent "
        "category stands for its children; an offer field's term: that field has a value)",
    )
    taxonomy_id: str | None = Field(
        None, max_length=100, description="services with any term of this taxonomy"
    )
    organization_id: str | None = Field(
        None, max_length=100, description="services of this organization"
    )
    modified_after: datetime | None = Field(None, description="changed on or after")
    full: bool = Field(False, description="fully nested records instead of one-to-one fields")


class HsdsServicesQuery(_ServiceFilters):
    per_page: int = Field(
        50,
        ge=1,
        le=hsds_api.MINIMAL_MAX_PER_PAGE,
        description=f"at most {hsds_api.MAX_PER_PAGE}, or {hsds_api.MINIMAL_MAX_PER_PAGE} "
        "with minimal=true",
    )
    minimal: bool = Field(False, description="only id, name, status and last_modified")


class HsdsServiceAtLocationsQuery(_ServiceFilters):
    postcode: str | None = Field(
        None, pattern=r"^[0-9]{5}$", description="offers at this postcode (or around it)"
    )
    proximity: float | None = Field(
        None,
        gt=0,
        le=500_000,
        allow_inf_nan=False,
        description="with postcode: offers within this many metres of the postcode's centre",
    )


class HsdsOrganizationsQuery(_Paging):
    full: bool = Field(False, description="each organization with its services")
    full_service: bool = Field(False, description="each with its services fully nested")


class HsdsOrganizationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_service: bool = Field(False, description="the services fully nested")


class HsdsTaxonomiesQuery(_Paging):
    pass


class HsdsTaxonomyTermsQuery(_Paging):
    taxonomy_id: str | None = Field(None, max_length=100, description="terms of this taxonomy")
    top_only: bool = Field(False, description="only terms without a parent")
    parent_id: str | None = Field(None, max_length=100, description="children of this term")


class HsdsPage(BaseModel):
    """One page (HSDS ``Page``); ``contents`` as the HSDS OpenAPI document says per list."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    first_page: bool
    last_page: bool
    empty: bool
    contents: list[dict[str, Any]]


class HsdsServicePage(HsdsPage):
    """One page of services (items: ``compiled/service_list.json``, or with ``full``
    ``compiled/service.json``)."""


class HsdsOrganizationPage(HsdsPage):
    """One page of organizations (items: ``compiled/organization_list.json``)."""


class HsdsServiceAtLocationPage(HsdsPage):
    """One page of service-at-locations (items: ``compiled/service_at_location_list.json``)."""


class HsdsTaxonomyPage(HsdsPage):
    """One page of taxonomies (items: ``taxonomy.json``)."""


class HsdsTaxonomyTermPage(HsdsPage):
    """One page of taxonomy terms (items: ``taxonomy_term.json``)."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str


class HsdsService(_Record):
    """A fully nested HSDS 3.0 service (``compiled/service.json``)."""

    name: str
    status: str


class HsdsOrganization(_Record):
    """An HSDS 3.0 organization with its services (``compiled/organization.json``)."""

    name: str
    description: str


class HsdsServiceAtLocation(_Record):
    """A service-at-location with its location and service, fully nested
    (``service_at_location.json``)."""

    service_id: str
    location_id: str


class HsdsTaxonomy(_Record):
    """An HSDS 3.0 taxonomy (``taxonomy.json``)."""

    name: str
    description: str


class HsdsTaxonomyTerm(_Record):
    """An HSDS 3.0 taxonomy term (``taxonomy_term.json``)."""

    name: str
    description: str


def _ndjson(items: Iterator[dict[str, Any]]) -> Response:
    """Every item of a list, one JSON object a line, as a stream (``format=ndjson``): a
    whole list without pages is a catalogue export, counted as ``/v1/offers/export`` is
    (``LOTSE_EXPORTS_PER_HOUR`` per token or login, else per address)."""
    principal = bearer_principal()
    count_export(principal.name or principal.actor if principal else None)
    lines = (json.dumps(item) + "\n" for item in items)
    return Response(stream_with_context(lines), mimetype=NDJSON)


def _answer(page_of: Callable[..., dict[str, Any]], query: _Paging, **filters: Any) -> Response:
    """A page as JSON, or with ``format=ndjson`` every item (read a page at a time)."""
    bound = functools.partial(page_of, **filters)
    if query.format == "ndjson":
        return _ndjson(hsds_api.every_item(bound, hsds_api.MAX_PER_PAGE))
    return respond(bound(page=query.page, per_page=query.per_page))


def _streamed_or_paged(
    every: Callable[..., Any], page_of: Callable[..., dict[str, Any]], query: _Paging
) -> Response:
    """Services and services at locations: a page as JSON, or with ``format=ndjson`` every
    item from ``every``, which streams them in one read (they are the big lists)."""
    filters = query.model_dump(exclude={"page", "per_page", "format"})
    if query.format == "ndjson":
        return _ndjson(every(request_session(), **filters))
    return respond(page_of(request_session(), page=query.page, per_page=query.per_page, **filters))


def _list_responses(model: type[BaseModel]) -> dict[int, Any]:
    """A list's answers: the page as JSON, or (``format=ndjson``) every item; 429 also for
    too many ndjson lists (exports) within the hour."""
    return {
        200: (model, NDJSON),
        429: "too many requests without credentials, or (format=ndjson) too many exports "
        "from this client within the hour",
    }


@bp.get("/")
@operation(
    "HSDS API information", "hsds", responses={200: HsdsInfo}, operation_id="getAPIMetaInformation"
)
def api_info():
    return respond(hsds_api.api_info(url_for("meta.openapi_document", _external=True)))


@bp.get("/services")
@operation(
    "HSDS services, paginated",
    "hsds",
    query=HsdsServicesQuery,
    responses=_list_responses(HsdsServicePage),
    operation_id="getPaginatedListOfServices",
)
def list_services():
    query = parse_query(HsdsServicesQuery)
    return _streamed_or_paged(hsds_api.every_service, hsds_api.service_page, query)


@bp.get("/services/<service_id>")
@operation(
    "One HSDS service, fully nested",
    "hsds",
    responses={200: HsdsService},
    operation_id="getFullyNestedServiceById",
)
def get_service(service_id: str):
    return respond(hsds_api.service_by_id(request_session(), service_id))


@bp.get("/organizations")
@operation(
    "HSDS organizations, paginated",
    "hsds",
    query=HsdsOrganizationsQuery,
    responses=_list_responses(HsdsOrganizationPage),
    operation_id="getPaginatedListOfOrganizations",
)
def list_organizations():
    query = parse_query(HsdsOrganizationsQuery)
    filters = query.model_dump(exclude={"page", "per_page", "format"})
    return _answer(
        functools.partial(hsds_api.organization_page, request_session()), query, **filters
    )


@bp.get("/organizations/<organization_id>")
@operation(
    "One HSDS organization with its services",
    "hsds",
    query=HsdsOrganizationQuery,
    responses={200: HsdsOrganization},
    operation_id="getOrganizationById",
)
def get_organization(organization_id: str):
    query = parse_query(HsdsOrganizationQuery)
    return respond(
        hsds_api.organization_by_id(
            request_session(), organization_id, full_service=query.full_service
        )
    )


@bp.get("/service_at_locations")
@operation(
    "HSDS services at locations, paginated",
    "hsds",
    query=HsdsServiceAtLocationsQuery,
    responses=_list_responses(HsdsServiceAtLocationPage),
    operation_id="getPaginatedListOfServiceAtLocation",
)
def list_service_at_locations():
    query = parse_query(HsdsServiceAtLocationsQuery)
    return _streamed_or_paged(
        hsds_api.every_service_at_location, hsds_api.service_at_location_page, query
    )


@bp.get("/service_at_locations/<record_id>")
@operation(
    "One HSDS service at a location, fully nested",
    "hsds",
    responses={200: HsdsServiceAtLocation},
    operation_id="getServiceAtLocationWithNestedDataById",
)
def get_service_at_location(record_id: str):
    return respond(hsds_api.service_at_location_by_id(request_session(), record_id))


@bp.get("/taxonomies")
@operation(
    "HSDS taxonomies, paginated",
    "hsds",
    query=HsdsTaxonomiesQuery,
    responses=_list_responses(HsdsTaxonomyPage),
    operation_id="getPaginatedListOfTaxonomies",
)
def list_taxonomies():
    query = parse_query(HsdsTaxonomiesQuery)
    return _answer(hsds_api.taxonomy_page, query, search=query.search)


@bp.get("/taxonomies/<taxonomy_id>")
@operation(
    "One HSDS taxonomy", "hsds", responses={200: HsdsTaxonomy}, operation_id="getTaxonomyById"
)
def get_taxonomy(taxonomy_id: str):
    return respond(hsds_api.taxonomy_by_id(taxonomy_id))


@bp.get("/taxonomy_terms")
@operation(
    "HSDS taxonomy terms, paginated",
    "hsds",
    query=HsdsTaxonomyTermsQuery,
    responses=_list_responses(HsdsTaxonomyTermPage),
    operation_id="getPaginatedListOfTaxonomyTerms",
)
def list_taxonomy_terms():
    query = parse_query(HsdsTaxonomyTermsQuery)
    filters = query.model_dump(exclude={"page", "per_page", "format"})
    return _answer(hsds_api.taxonomy_term_page, query, **filters)


@bp.get("/taxonomy_terms/<term_id>")
@operation(
    "One HSDS taxonomy term",
    "hsds",
    responses={200: HsdsTaxonomyTerm},
    operation_id="getTaxonomyTermById",
)
def get_taxonomy_term(term_id: str):
    return respond(hsds_api.taxonomy_term_by_id(term_id))
