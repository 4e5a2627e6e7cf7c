"""``/v1/persons/{person_ref}``: data protection — export and erasure of one person's data.

``person_ref`` is the counselling centre's own pseudonymous reference; counsellors act for
their own centre, admin names it with ``?centre_id=``. The rules are in ``casework.privacy``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from casework import privacy
from service.api.agreements import AgreementOut
from service.auth import current_principal, require
from service.db import db
from service.io import parse_query, respond
from service.openapi import operation

bp = Blueprint("persons", __name__, url_prefix="/v1/persons")
CASEWORKERS = ("counsellor", "admin")


class PersonQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    centre_id: str | None = Field(None, max_length=64, description="required for admin")


class ReferralEventOut(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    reason: str | None
    note: str | None


class ExportedReferral(BaseModel):
    id: str
    request_id: str | None
    offer_id: str
    offer_title: str | None
    agency_id: str
    status: str
    consent_at: datetime
    created_at: datetime
    updated_at: datetime
    created_by: str
    events: list[ReferralEventOut]


class ExportedImpression(BaseModel):
    offer_id: str
    need: str
    shown_in: str
    position: int
    score: float


class ExportedRecommendation(BaseModel):
    request_id: str
    served_at: datetime
    model_version: str
    lang: str
    context: dict[str, Any]
    impressions: list[ExportedImpression]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    agreement_id: str | None


class PersonExport(BaseModel):
    """Everything held about one person of one centre: agreements, referrals with their
    history, recommendations served, and who read or changed the case."""

    person_ref: str
    centre_id: str
    exported_at: datetime
    agreements: list[AgreementOut]
    referrals: list[ExportedReferral]
    recommendations: list[ExportedRecommendation]
    audit: list[AuditOut]


class ErasureOut(BaseModel):
    """What erasure did: drafts deleted; binding agreements, referrals and recommendations
    anonymised (unlinked from the person, free text cleared) so aggregates survive."""

    agreements_deleted: int
    agreements_anonymised: int
    referrals_anonymised: int
    requests_anonymised: int
    audit_entries_unlinked: int


@bp.get("/<person_ref>/export")
@operation("Export one person's data", "persons", query=PersonQuery, responses={200: PersonExport})
@require(*CASEWORKERS)
def export_person(person_ref: str):
    query = parse_query(PersonQuery)
    session = db()
    data = privacy.export_person(session, current_principal(), person_ref, query.centre_id)
    out = PersonExport.model_validate(data)
    session.commit()
    return respond(out, headers={"Cache-Control": "no-store"})


@bp.delete("/<person_ref>")
@operation("Erase one person's data", "persons", query=PersonQuery, responses={200: ErasureOut})
@require(*CASEWORKERS)
def erase_person(person_ref: str):
    query = parse_query(PersonQuery)
    session = db()
    report = privacy.erase_person(session, current_principal(), person_ref, query.centre_id)
    session.commit()
    return respond(ErasureOut(**report.counts()))
