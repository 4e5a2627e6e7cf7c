"""``/v1/offers``: create, read, replace, patch, archive, history and search offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, url_for
from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog import store
from catalog.duplicates import similar_offers
from catalog.schema import OfferIn, OfferOut
from lotse.errors import FieldError, Forbidden, InvalidInput
from lotse.i18n import N_
from service.auth import current_principal, limit_anonymous_reads, require
from service.db import request_session
from service.io import if_match, json_body, parse_query, respond
from service.openapi import operation

bp = Blueprint("offers", __name__, url_prefix="/v1/offers")
bp.before_request(limit_anonymous_reads)
WRITERS = ("agency", "admin")
#: The answers of a write that must name the version it read (``If-Match``).
VERSION_ERRORS = {
    412: "the offer changed since the version in If-Match",
    428: "If-Match is missing",
}


class PossibleDuplicate(BaseModel):
    offer_id: str
    title: str
    similarity: float = Field(ge=0, le=1)


class OfferCreated(OfferOut):
    """The stored offer, with existing offers it resembles (reported, never merged)."""

    possible_duplicates: list[PossibleDuplicate] = []


class OfferListItem(OfferOut):
    """An offer in a search result; ``distance_km`` when ``near`` was given."""

    distance_km: float | None = None


class OfferList(BaseModel):
    """One page of offers matching the filters."""

    items: list[OfferListItem]
    total: int
    page: int
    per_page: int


class OfferListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(
        None, max_length=200, description="fuzzy text over title, provider, place"
    )
    category: str | None = Field(None, description="category or parent code")
    near: str | None = Field(None, description="LAT,LON", examples=["50.55,8.50"])
    radius_km: float | None = Field(None, gt=0, le=1000)
    agency_id: str | None = None
    modified_after: datetime | None = None
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(20, ge=1, le=store.MAX_PER_PAGE)

    @field_validator("near")
    @classmethod
    def _lat_lon(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = value.split(",")
        try:
            lat, lon = (float(p) for p in parts)
        except ValueError:
            raise ValueError("must be LAT,LON, e.g. 50.55,8.50") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError("latitude or longitude out of range")
        return value

    def to_query(self) -> store.OfferQuery:
        near = tuple(float(p) for p in self.near.split(",")) if self.near else None
        if self.radius_km is not None and near is None:
            raise InvalidInput([FieldError("radius_km", N_("needs near=LAT,LON"))])
        return store.OfferQuery(
            q=self.q,
            category=self.category,
            near=near,  # type: ignore[arg-type]
            radius_km=self.radius_km,
            agency_id=self.agency_id,
            modified_after=self.modified_after,
            page=self.page,
            per_page=self.per_page,
        )


class OfferChangeOut(BaseModel):
    """One change of an offer: who, when, which fields from what to what."""

    version: int
    action: str
    actor: str
    at: datetime
    changes: dict[str, list[Any]]


class OfferHistory(BaseModel):
    """Every change of an offer, oldest first."""

    offer_id: str
    changes: list[OfferChangeOut]


def _out(offer: Any) -> OfferOut:
    return OfferOut.model_validate(store.offer_as_dict(offer))


def _etag(offer: Any) -> dict[str, str]:
    return {"ETag": f'"{offer.version}"'}


@bp.post("")
@operation("Create an offer", "offers", body=OfferIn, responses={201: OfferCreated})
@require(*WRITERS)
def create_offer():
    principal = current_principal()
    data = json_body()
    if not isinstance(data, dict):
        raise InvalidInput([FieldError("body", N_("an offer is a JSON object"))])
    agency_id = data.pop("agency_id", None) or principal.agency_id
    if not agency_id:
        raise InvalidInput(
            [FieldError("agency_id", N_("admin must say which agency the offer is for"))]
        )
    if principal.role == "agency" and agency_id != principal.agency_id:
        raise Forbidden(
            f"an agency token of '{principal.agency_id}' cannot create offers for '{agency_id}'"
        )
    session = request_session()
    offer = store.create_offer(session, principal, agency_id, data)
    dupes = similar_offers(session, offer)
    session.commit()
    body = OfferCreated(
        **_out(offer).model_dump(), possible_duplicates=[PossibleDuplicate(**d) for d in dupes]
    )
    return respond(
        body, 201, {**_etag(offer), "Location": url_for(".get_offer", offer_id=offer.id)}
    )


@bp.get("")
@operation("Search offers", "offers", query=OfferListQuery, responses={200: OfferList})
def list_offers():
    query = parse_query(OfferListQuery).to_query()
    page = store.search_offers(request_session(), query)
    items = [
        OfferListItem(**_out(o).model_dump(), distance_km=None if d is None else round(d, 2))
        for o, d in page.items
    ]
    return respond(OfferList(items=items, total=page.total, page=page.page, per_page=page.per_page))


@bp.get("/<offer_id>")
@operation("Read an offer", "offers", responses={200: OfferOut})
def get_offer(offer_id: str):
    offer = store.get_offer(request_session(), offer_id)
    return respond(_out(offer), headers=_etag(offer))


@bp.put("/<offer_id>")
@operation(
    "Replace an offer",
    "offers",
    body=OfferIn,
    responses={200: OfferOut, **VERSION_ERRORS},
    headers={"If-Match": "the version you read"},
)
@require(*WRITERS)
def replace_offer(offer_id: str):
    session = request_session()
    offer = store.replace_offer(session, current_principal(), offer_id, json_body(), if_match())
    session.commit()
    return respond(_out(offer), headers=_etag(offer))


@bp.patch("/<offer_id>")
@operation(
    "Change some fields of an offer",
    "offers",
    body=None,
    body_types=("application/json", "application/merge-patch+json"),
    responses={200: OfferOut, **VERSION_ERRORS},
    headers={"If-Match": "the version you read"},
)
@require(*WRITERS)
def patch_offer(offer_id: str):
    session = request_session()
    offer = store.patch_offer(session, current_principal(), offer_id, json_body(), if_match())
    session.commit()
    return respond(_out(offer), headers=_etag(offer))


@bp.delete("/<offer_id>")
@operation(
    "Archive an offer (history kept)",
    "offers",
    responses={200: OfferOut, 412: "the offer changed since the version in If-Match"},
    headers={"If-Match": "optional: the version you read"},
)
@require(*WRITERS)
def archive_offer(offer_id: str):
    session = request_session()
    offer = store.archive_offer(session, current_principal(), offer_id, if_match(required=False))
    session.commit()
    return respond(_out(offer), headers=_etag(offer))


@bp.get("/<offer_id>/history")
@operation("History of an offer", "offers", responses={200: OfferHistory})
def offer_history(offer_id: str):
    changes = store.offer_history(request_session(), offer_id)
    return respond(
        OfferHistory(
            offer_id=offer_id,
            changes=[
                OfferChangeOut(
                    version=c.version, action=c.action, actor=c.actor, at=c.at, changes=c.changes
                )
                for c in changes
            ],
        )
    )
