"""``/v1/referrals`` and ``/v1/agency/referrals``: referring people to offers and following up."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from casework import referrals
from casework.origin import origin_of_request
from service.auth import current_principal, require
from service.db import request_session
from service.io import parse_body, parse_query, respond
from service.openapi import operation

bp = Blueprint("referrals", __name__)

Status = Literal["accepted", "declined", "enrolled", "completed", "dropped", "rejected_by_provider"]


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=64)
    offer_id: str = Field(min_length=1, max_length=64)
    consent: bool


class ReferralPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    reason: str | None = Field(None, max_length=40)
    note: str | None = Field(None, max_length=2000)


class ReferralEventOut(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    reason: str | None
    note: str | None


class ReferralOut(BaseModel):
    """A referral with its status history (no personal data)."""

    id: str
    request_id: str | None
    offer_id: str
    agency_id: str
    centre_id: str
    status: str
    consent_at: datetime
    created_at: datetime
    updated_at: datetime
    events: list[ReferralEventOut]


class AgencyReferral(BaseModel):
    id: str
    offer_id: str
    offer_title: str
    status: str
    created_at: datetime
    updated_at: datetime


class AgencyReferralList(BaseModel):
    """Referrals to the agency's offers, newest change first."""

    items: list[AgencyReferral]


class AgencyReferralQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = None
    since: datetime | None = None


def _out(referral) -> ReferralOut:
    events = referrals.referral_events(request_session(), referral.id)
    return ReferralOut(
        id=referral.id,
        request_id=referral.request_id,
        offer_id=referral.offer_id,
        agency_id=referral.agency_id,
        centre_id=referral.centre_id,
        status=referral.status,
        consent_at=referral.consent_at,
        created_at=referral.created_at,
        updated_at=referral.updated_at,
        events=[
            ReferralEventOut(
                from_status=e.from_status,
                to_status=e.to_status,
                at=e.at,
                actor=e.actor,
                reason=e.reason,
                note=e.note,
            )
            for e in events
        ],
    )


@bp.post("/v1/referrals")
@operation(
    "Refer a person to an offer",
    "referrals",
    body=ReferralIn,
    responses={
        201: ReferralOut,
        200: ReferralOut,
        409: "the offer is not active",
    },
)
@require("counsellor", "admin")
def create_referral():
    """201 with a new referral; 200 with the person's open referral to the offer when there
    is one (it stays the one)."""
    body = parse_body(ReferralIn)
    session = request_session()
    origin = origin_of_request(session, body.request_id)
    referral, created = referrals.refer(
        session, current_principal(), origin, body.offer_id, body.consent
    )
    session.commit()
    return respond(_out(referral), 201 if created else 200)


@bp.get("/v1/referrals/<referral_id>")
@operation("Read a referral", "referrals", responses={200: ReferralOut})
@require("counsellor", "agency", "admin")
def get_referral(referral_id: str):
    session = request_session()
    out = _out(referrals.get_referral(session, current_principal(), referral_id))
    session.commit()  # the read is audited
    return respond(out)


@bp.patch("/v1/referrals/<referral_id>")
@operation(
    "Change a referral's status",
    "referrals",
    body=ReferralPatch,
    responses={200: ReferralOut, 409: "an illegal transition, or no free place left to enrol"},
)
@require("counsellor", "agency", "admin")
def patch_referral(referral_id: str):
    body = parse_body(ReferralPatch)
    session = request_session()
    referral = referrals.change_status(
        session, current_principal(), referral_id, body.status, body.reason, body.note
    )
    session.commit()
    return respond(_out(referral))


@bp.get("/v1/agency/referrals")
@operation(
    "Referrals to my agency's offers",
    "referrals",
    query=AgencyReferralQuery,
    responses={200: AgencyReferralList},
)
@require("agency", "admin")
def agency_referrals():
    query = parse_query(AgencyReferralQuery)
    rows = referrals.agency_referrals(
        request_session(), current_principal(), query.status, query.since
    )
    return respond(
        AgencyReferralList(
            items=[
                AgencyReferral(
                    id=r.id,
                    offer_id=o.id,
                    offer_title=o.title,
                    status=r.status,
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                )
                for r, o in rows
            ]
        )
    )
