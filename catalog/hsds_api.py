"""The HSDS 3.0 read API over the catalogue: what each of its eleven operations answers.

The records come from ``catalog.hsds``: every live offer is a service with one
service-at-location; the organizations are the providers named by the offers (one per agency
and organization name); the taxonomies are Lotse's categories (parents and leaves, with parent
links) and the offer fields that travel as attributes. Lists answer in the HSDS ``Page``
envelope; lists show active offers only, while a record asked for by id is found as long as it
is not archived (its ``status`` says whether it is active), so that every id a list or a
record names can be looked up.

Services and service-at-locations are searched and paged by ``catalog.store.search_offers``,
in the database (a search text too) unless a place or the fuzzy match of a typo asks for
ranking; organizations, taxonomies and terms are searched by the same rule in memory
(``catalog.store.match_texts``). Organizations have no table:
their directory is read from the offers in one grouped query and kept per process for as long
as the catalogue does not change (its sequence and latest change), because the grouping costs
a scan of every offer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.orm import Session

from catalog import hsds, taxonomy
from catalog.store import (
    OfferQuery,
    current_seq,
    every_offer,
    get_offer,
    match_texts,
    search_offers,
)
from catalog.tables import Offer
from lotse.errors import FieldError, InvalidInput, NotFound
from lotse.i18n import N_

PROFILE_URL = "https://docs.openreferral.org/en/latest/hsds/"
MAX_PER_PAGE = 100
#: ``minimal`` services are small: a client synchronising its copy takes them in big pages.
MINIMAL_MAX_PER_PAGE = 1000
#: Catalogues whose organization directory this process keeps (one per database).
_DIRECTORIES_KEPT = 8


def api_info(openapi_url: str) -> dict[str, str]:
    """``GET /``: which HSDS version and profile this API serves, and where its OpenAPI
    document is (Lotse's own, which lists these operations with the rest of Lotse's API)."""
    return {"version": hsds.HSDS_VERSION, "profile": PROFILE_URL, "openapi_url": openapi_url}


def page_envelope(
    contents: list[dict[str, Any]], total: int, page: int, per_page: int
) -> dict[str, Any]:
    """One page in the HSDS ``Page`` shape (``total_pages`` is 0 when nothing matches)."""
    total_pages = -(-total // per_page)
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": not contents,
        "contents": contents,
    }


def every_item(page_of: Callable[..., dict[str, Any]], per_page: int) -> Iterator[dict[str, Any]]:
    """Every item of a list operation, read page by page (``format=ndjson``): ``page_of``
    is the operation with its filters bound, called with ``page`` and ``per_page``. The first
    page is read at once, so that bad filters fail before an answer starts."""
    first = page_of(page=1, per_page=per_page)

    def items() -> Iterator[dict[str, Any]]:
        found, page = first, 1
        while True:
            yield from found["contents"]
            if found["last_page"] or found["empty"]:
                return
            page += 1
            found = page_of(page=page, per_page=per_page)

    return items()


# --- Services and service-at-locations ----------------------------------------------------


def _check_page(
    page: int, per_page: int, most: int = MAX_PER_PAGE, hint: str = ""
) -> tuple[int, int]:
    """``(page, per_page)`` within bounds; ``InvalidInput`` when ``per_page`` is too big."""
    if per_page > most:
        raise InvalidInput([FieldError("per_page", f"at most {most}{hint}")])
    return max(1, page), max(1, per_page)


def _taxonomy_name(value: str) -> str | None:
    """The Lotse taxonomy a ``taxonomy_id`` names (by id, or by its name)."""
    return next((n for n in hsds.TAXONOMIES if value in (n, hsds.taxonomy_id(n))), None)


def _term_filter(term_id: str) -> dict[str, Any] | None:
    """The offer filter of a ``taxonomy_term_id`` (a term id, or a category code)."""
    if taxonomy.is_known(term_id):
        return {"category": term_id}
    category = hsds.category_for_term_id(term_id)
    if category is not None:
        return {"category": category}
    field = hsds.field_for_term_id(term_id)
    return {"any_field_set": (field,)} if field else None


def _postcode_centre(session: Session, postcode: str) -> tuple[float, float]:
    """Where a postcode is: the mean position of the offers there (Lotse keeps no postcode
    map, and the offers at a postcode lie within it)."""
    lat, lon = session.execute(
        select(func.avg(Offer.latitude), func.avg(Offer.longitude)).where(
            Offer.archived.is_(False),
            Offer.postcode == postcode,
            Offer.latitude.is_not(None),
            Offer.longitude.is_not(None),
        )
    ).one()
    if lat is None or lon is None:
        raise InvalidInput(
            [
                FieldError(
                    "postcode",
                    f"no offer at postcode {postcode} has coordinates, so where it lies is "
                    "unknown; leave out proximity to list the offers at that postcode",
                )
            ]
        )
    return float(lat), float(lon)


@dataclass(frozen=True)
class ServiceFilters:
    """The filters the HSDS lists of services and service-at-locations share."""

    search: str | None = None
    taxonomy_term_id: str | None = None
    taxonomy_id: str | None = None
    organization_id: str | None = None
    modified_after: datetime | None = None
    postcode: str | None = None
    proximity: float | None = None  # metres from the postcode's centre

    def offer_query(self, session: Session, page: int, per_page: int) -> OfferQuery | None:
        """The offer search these filters ask for; None when they match nothing (an
        unknown taxonomy, term or organization)."""
        query: dict[str, Any] = {"q": self.search or None}
        fields: tuple[str, ...] = ()
        if self.taxonomy_id:
            name = _taxonomy_name(self.taxonomy_id)
            if name is None:
                return None
            if name == hsds.FIELD_TAXONOMY:
                fields = hsds.ATTRIBUTE_FIELDS
        if self.taxonomy_term_id:
            term = _term_filter(self.taxonomy_term_id)
            if term is None:
                return None
            query["category"] = term.get("category")
            fields = term.get("any_field_set", fields)
        query["any_field_set"] = fields
        if self.organization_id:
            provider = organization_directory(session).by_id.get(self.organization_id)
            if provider is None:
                return None
            query["agency_id"], query["organization"] = provider.agency_id, provider.name
        if self.modified_after is not None:
            # HSDS asks for changes "on or after"; the store filters strictly after, and
            # keeps times to the microsecond
            try:
                query["modified_after"] = self.modified_after - timedelta(microseconds=1)
            except OverflowError:  # the first moment of year 1: everything is after it
                query["modified_after"] = None
        if self.proximity is not None:
            if not self.postcode:
                raise InvalidInput(
                    [FieldError("proximity", N_("give a postcode to measure the distance from"))]
                )
            query["near"] = _postcode_centre(session, self.postcode)
            query["radius_km"] = self.proximity / 1000
        elif self.postcode:
            query["postcode"] = self.postcode
        return OfferQuery(**query, page=page, per_page=per_page, max_per_page=MINIMAL_MAX_PER_PAGE)


def _offers(
    session: Session, filters: ServiceFilters, page: int, per_page: int
) -> tuple[list[Offer], int]:
    query = filters.offer_query(session, page, per_page)
    if query is None:
        return [], 0
    found = search_offers(session, query)
    return [offer for offer, _distance in found.items], found.total


def _every_offer(session: Session, filters: ServiceFilters) -> Iterator[Offer]:
    query = filters.offer_query(session, 1, MAX_PER_PAGE)
    return iter(()) if query is None else every_offer(session, query)


def _minimal(offer: Offer) -> dict[str, Any]:
    service = hsds.offer_to_hsds_service(offer, nested=False)
    return {k: service[k] for k in ("id", "name", "status", "last_modified")}


def service_page(
    session: Session,
    *,
    page: int = 1,
    per_page: int = 50,
    minimal: bool = False,
    full: bool = False,
    **filters: Any,
) -> dict[str, Any]:
    """``GET /services``: one page of active offers as HSDS services: their one-to-one
    fields and organization, fully nested with ``full``, or only ``id``, ``name``,
    ``status`` and ``last_modified`` with ``minimal`` (then up to ``MINIMAL_MAX_PER_PAGE``
    a page). ``filters`` are those of ``ServiceFilters`` but ``postcode``/``proximity``."""
    if minimal:
        page, per_page = _check_page(page, per_page, MINIMAL_MAX_PER_PAGE)
    else:
        hint = f" ({MINIMAL_MAX_PER_PAGE} with minimal=true)"
        page, per_page = _check_page(page, per_page, MAX_PER_PAGE, hint)
    offers, total = _offers(session, ServiceFilters(**filters), page, per_page)
    if minimal:
        contents = [_minimal(o) for o in offers]
    else:
        contents = [hsds.offer_to_hsds_service(o, nested=full) for o in offers]
    return page_envelope(contents, total, page, per_page)


def every_service(
    session: Session, *, minimal: bool = False, full: bool = False, **filters: Any
) -> Iterator[dict[str, Any]]:
    """Every service ``service_page`` would list, without pages (``format=ndjson``); the
    filters are checked at once, the services read as they are taken."""
    offers = _every_offer(session, ServiceFilters(**filters))
    if minimal:
        return map(_minimal, offers)
    return (hsds.offer_to_hsds_service(offer, nested=full) for offer in offers)


def _live_offer(session: Session, offer_id: str | None, what: str, asked: str) -> Offer:
    try:
        offer = get_offer(session, offer_id) if offer_id else None
    except NotFound:
        offer = None
    if offer is None or offer.archived:
        raise NotFound(f"no {what} with id '{asked}'")
    return offer


def service_by_id(session: Session, service_id: str) -> dict[str, Any]:
    """``GET /services/{id}``: the fully nested service; archived offers are not served."""
    return hsds.offer_to_hsds_service(_live_offer(session, service_id, "service", service_id))


def service_at_location_page(
    session: Session, *, page: int = 1, per_page: int = 50, full: bool = False, **filters: Any
) -> dict[str, Any]:
    """``GET /service_at_locations``: one page of the active offers' service-at-location
    records (one per offer) with their location and service, one-to-one fields only or
    fully nested with ``full``. ``filters``: those of ``ServiceFilters``."""
    page, per_page = _check_page(page, per_page)
    offers, total = _offers(session, ServiceFilters(**filters), page, per_page)
    contents = [hsds.offer_to_hsds_service_at_location(o, nested=full) for o in offers]
    return page_envelope(contents, total, page, per_page)


def every_service_at_location(
    session: Session, *, full: bool = False, **filters: Any
) -> Iterator[dict[str, Any]]:
    """Every record ``service_at_location_page`` would list, without pages."""
    offers = _every_offer(session, ServiceFilters(**filters))
    return (hsds.offer_to_hsds_service_at_location(offer, nested=full) for offer in offers)


def service_at_location_by_id(session: Session, record_id: str) -> dict[str, Any]:
    """``GET /service_at_locations/{id}``: the record, its location and its service, fully
    nested."""
    offer_id = hsds.service_of_location_id(record_id)
    offer = _live_offer(session, offer_id, "service_at_location", record_id)
    return hsds.offer_to_hsds_service_at_location(offer)


# --- Organizations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """An organization named by offers: one per agency and name."""

    id: str
    agency_id: str
    name: str
    active_offers: int


@dataclass(frozen=True)
class Directory:
    """The organizations of the catalogue (those with offers that are not archived), in
    order of name, and by id."""

    providers: list[Provider]
    by_id: dict[str, Provider]


_directories: dict[str, tuple[tuple[Any, ...], Directory]] = {}
_directories_lock = threading.Lock()


def _catalogue_stamp(session: Session) -> tuple[Any, ...]:
    """What changes whenever any offer does: the catalogue's sequence, and its latest change
    (which also tells apart two databases emptied and refilled to the same sequence)."""
    latest = session.scalar(select(func.max(Offer.last_modified)))
    return (current_seq(session), latest)


def organization_directory(session: Session) -> Directory:
    """The organizations, read from the offers anew only when the catalogue has changed."""
    key = str(session.get_bind().engine.url)
    stamp = _catalogue_stamp(session)
    kept = _directories.get(key)
    if kept is not None and kept[0] == stamp:
        return kept[1]
    active = func.sum(case((Offer.status == "active", 1), else_=0))
    rows = session.execute(
        select(Offer.agency_id, Offer.organization, active)
        .where(Offer.archived.is_(False))
        .group_by(Offer.agency_id, Offer.organization)
    ).all()
    providers = sorted(
        (
            Provider(hsds.organization_id(agency, name), agency, name, int(n or 0))
            for agency, name, n in rows
        ),
        key=lambda p: (p.name.casefold(), p.name, p.agency_id),
    )
    directory = Directory(providers, {p.id: p for p in providers})
    with _directories_lock:
        _directories.pop(key, None)
        while len(_directories) >= _DIRECTORIES_KEPT:
            _directories.pop(next(iter(_directories)))
        _directories[key] = (stamp, directory)
    return directory


def _provider_offers(
    session: Session, providers: list[Provider], *, include_inactive: bool
) -> dict[str, list[Offer]]:
    """The offers of each provider (not archived; active only unless ``include_inactive``),
    by provider id, in order of title."""
    if not providers:
        return {}
    keys = {(p.agency_id, p.name): p.id for p in providers}
    stmt = (
        select(Offer)
        .where(
            Offer.archived.is_(False), tuple_(Offer.agency_id, Offer.organization).in_(list(keys))
        )
        .order_by(Offer.title, Offer.id)
    )
    if not include_inactive:
        stmt = stmt.where(Offer.status == "active")
    found: dict[str, list[Offer]] = {p.id: [] for p in providers}
    for offer in session.scalars(stmt):
        found[keys[(offer.agency_id, offer.organization)]].append(offer)
    return found


def _organization(provider: Provider, offers: list[Offer] | None, full_service: bool) -> dict:
    record = hsds.organization_record(provider.agency_id, provider.name)
    if offers is not None:
        services = [hsds.offer_to_hsds_service(o, nested=full_service) for o in offers]
        for service in services:
            service.pop("organization", None)  # it is the record they are in
        record["services"] = services
    return record


def organization_page(
    session: Session,
    *,
    search: str | None = None,
    full: bool = False,
    full_service: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """``GET /organizations``: one page of the organizations with active offers, in order of
    name; with ``full`` (or ``full_service``) each with its active services, one-to-one
    fields (fully nested with ``full_service``)."""
    page, per_page = _check_page(page, per_page)
    providers = [p for p in organization_directory(session).providers if p.active_offers]
    if search:
        providers = [providers[i] for i in match_texts(search, [p.name for p in providers])]
    chosen = providers[(page - 1) * per_page : page * per_page]
    with_services = full or full_service
    offers = _provider_offers(session, chosen, include_inactive=False) if with_services else {}
    contents = [
        _organization(p, offers.get(p.id, []) if with_services else None, full_service)
        for p in chosen
    ]
    return page_envelope(contents, len(providers), page, per_page)


def organization_by_id(
    session: Session, organization_id: str, *, full_service: bool = False
) -> dict[str, Any]:
    """``GET /organizations/{id}``: the organization with its services (all that are not
    archived; one-to-one fields, fully nested with ``full_service``)."""
    provider = organization_directory(session).by_id.get(organization_id)
    if provider is None:
        raise NotFound(f"no organization with id '{organization_id}'")
    offers = _provider_offers(session, [provider], include_inactive=True)[provider.id]
    return _organization(provider, offers, full_service)


# --- Taxonomies and their terms -----------------------------------------------------------


def _searched(records: list[dict[str, Any]], search: str | None, *keys: str) -> list[dict]:
    if not search or not records:
        return records
    texts = [" ".join(str(r.get(k) or "") for k in keys) for r in records]
    return [records[i] for i in match_texts(search, texts)]


def _paged(records: list[dict[str, Any]], page: int, per_page: int) -> dict[str, Any]:
    page, per_page = _check_page(page, per_page)
    chosen = records[(page - 1) * per_page : page * per_page]
    return page_envelope(chosen, len(records), page, per_page)


def taxonomy_page(
    *,
    search: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """``GET /taxonomies``: Lotse's taxonomies (categories, offer fields)."""
    records = [hsds.taxonomy_record(name) for name in hsds.TAXONOMIES]
    return _paged(_searched(records, search, "name", "description"), page, per_page)


def taxonomy_by_id(taxonomy_id: str) -> dict[str, Any]:
    """``GET /taxonomies/{id}``."""
    name = next((n for n in hsds.TAXONOMIES if hsds.taxonomy_id(n) == taxonomy_id), None)
    if name is None:
        raise NotFound(f"no taxonomy with id '{taxonomy_id}'")
    return hsds.taxonomy_record(name)


def _with_detail(term: dict[str, Any]) -> dict[str, Any]:
    return {**term, "taxonomy_detail": hsds.taxonomy_record(term["taxonomy"])}


def taxonomy_term_page(
    *,
    search: str | None = None,
    taxonomy_id: str | None = None,
    top_only: bool = False,
    parent_id: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """``GET /taxonomy_terms``: the terms of Lotse's taxonomies (parent categories before
    their children), of one taxonomy, only those without a parent (``top_only``), or the
    children of ``parent_id``."""
    terms = hsds.taxonomy_terms()
    if taxonomy_id:
        name = _taxonomy_name(taxonomy_id)
        terms = [t for t in terms if t["taxonomy"] == name]
    if top_only:
        terms = [t for t in terms if "parent_id" not in t]
    if parent_id:
        terms = [t for t in terms if t.get("parent_id") == parent_id]
    terms = _searched(terms, search, "code", "name", "description")
    return _paged([_with_detail(t) for t in terms], page, per_page)


def taxonomy_term_by_id(term_id: str) -> dict[str, Any]:
    """``GET /taxonomy_terms/{id}``, with its taxonomy (``taxonomy_detail``)."""
    term = next((t for t in hsds.taxonomy_terms() if t["id"] == term_id), None)
    if term is None:
        raise NotFound(f"no taxonomy term with id '{term_id}'")
    return _with_detail(term)
