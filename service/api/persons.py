"""``/v1/persons``: data protection — export and erasure of one person's data.

``person_ref`` is the counselling centre's own pseudonymous reference; counsellors act for
their own centre, admin names it with ``centre_id``. A reference may hold any character
(case numbers such as ``MBE/2026/017``, or ``..``), so it travels in the query or the body:

- ``GET /v1/persons/export?person_ref=…[&centre_id=…]``
- ``POST /v1/persons/erase`` with ``{"person_ref": …, "centre_id": …}``

The contract's paths (``GET /v1/persons/{person_ref}/export``, ``DELETE
/v1/persons/{person_ref}``) stay, with a ``path`` converter so that ``/`` works too
(percent-encoded or not); ``.`` and ``..`` as a whole segment are rewritten by most HTTP
clients before they are sent, so those use the query or body form. The rules are in
``casework.privacy``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from casework import privacy
from service.api.agreements import AgreementOut, DocumentOut
from service.auth import current_principal, require
from service.db import request_session
from service.io import parse_body, parse_query, respond
from service.openapi import operation

bp = Blueprint("persons", __name__, url_prefix="/v1/persons")
CASEWORKERS = ("counsellor", "admin")


class PersonQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    centre_id: str | None = Field(None, max_length=64, description="required for admin")


class PersonRef(PersonQuery):
    """One person: the centre's reference (any characters, 1 to 100) and, for admin, the
    centre."""

    person_ref: str = Field(
        max_length=1000, description="the centre's pseudonymous reference, e.g. MBE/2026/017"
    )


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


class ExportedDocument(DocumentOut):
    """The record of what was signed, with the PDF itself (base64; null until made)."""

    pdf_base64: str | None


class ExportedAgreement(AgreementOut):
    documents: list[ExportedDocument]  # type: ignore[assignment]


class PersonExport(BaseModel):
    """Everything held about one person of one centre: agreements, referrals with their
    history, recommendations served, and who read or changed the case."""

    person_ref: str
    centre_id: str
    exported_at: datetime
    agreements: list[ExportedAgreement]
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


def _export(person_ref: str, centre_id: str | None):
    session = request_session()
    data = privacy.export_person(session, current_principal(), person_ref, centre_id)
    out = PersonExport.model_validate(data)
    session.commit()
    return respond(out, headers={"Cache-Control": "no-store"})


def _erase(person_ref: str, centre_id: str | None):
    session = request_session()
    report = privacy.erase_person(session, current_principal(), person_ref, centre_id)
    session.commit()
    return respond(ErasureOut(**report.counts()))


@bp.get("/export")
@operation("Export one person's data", "persons", query=PersonRef, responses={200: PersonExport})
@require(*CASEWORKERS)
def export_person_by_query():
    query = parse_query(PersonRef)
    return _export(query.person_ref, query.centre_id)


@bp.post("/erase")
@operation("Erase one person's data", "persons", body=PersonRef, responses={200: ErasureOut})
@require(*CASEWORKERS)
def erase_person_by_body():
    body = parse_body(PersonRef)
    return _erase(body.person_ref, body.centre_id)


@bp.get("/<path:person_ref>/export")
@operation(
    "Export one person's data (reference in the path)",
    "persons",
    query=PersonQuery,
    responses={200: PersonExport},
)
@require(*CASEWORKERS)
def export_person(person_ref: str):
    return _export(person_ref, parse_query(PersonQuery).centre_id)


@bp.delete("/<path:person_ref>")
@operation(
    "Erase one person's data (reference in the path)",
    "persons",
    query=PersonQuery,
    responses={200: ErasureOut},
)
@require(*CASEWORKERS)
def erase_person(person_ref: str):
    return _erase(person_ref, parse_query(PersonQuery).centre_id)
