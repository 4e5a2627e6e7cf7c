"""``/v1/agreements``: integration agreements — goals, agreed steps, signatures, reviews,
closing; the printable agreement (German beside the person's language) for both sides to
sign, the person's "my next steps" sheet, and the PDF of what was signed.

Counsellors act only within their own centre (another centre's agreement is 403); admin may
act everywhere. The rules live in ``casework.agreements``; these views parse, call, serialise.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Any, Literal

from flask import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from casework import agreements, documents
from casework.agreements import AgreementIn, AgreementPatch, CloseIn, ReviewIn, SignatureIn
from lotse.errors import NotFound
from service.auth import current_principal, require
from service.db import request_session
from service.io import if_match, parse_body, parse_query, respond
from service.openapi import operation
from service.printing import agreement_html, finish_record, next_steps_html, sign_and_record

bp = Blueprint("agreements", __name__, url_prefix="/v1/agreements")
CASEWORKERS = ("counsellor", "admin")


class GoalOut(BaseModel):
    index: int
    category: str
    priority: int
    target: str
    target_by: date | None = None
    outcome: str | None


class StepReferralOut(BaseModel):
    """The referral a step made, with the offer it goes to (no personal data)."""

    id: str
    request_id: str | None
    offer_id: str
    offer_title: str
    organization: str
    municipality: str
    category: str
    status: str


class StepOut(BaseModel):
    id: int
    kind: str
    goal: int | None
    text: str | None
    responsible: str
    due: date | None
    status: str
    overdue: bool
    referral: StepReferralOut | None


class ObstacleOut(BaseModel):
    code: str
    step_id: int | None
    text: str


class StepStatusOut(BaseModel):
    step_id: int
    status: str


class ReviewOut(BaseModel):
    id: int
    date: dt.date
    note: str
    successes: str
    obstacles: list[ObstacleOut]
    steps: list[StepStatusOut]
    next_review: dt.date | None
    by: str


class DocumentOut(BaseModel):
    """The record of what was signed: the print kept with the signature (``html_sha256``)
    and its PDF (``sha256``) once made. ``status``: pending, stored, or failed (``error``
    says why; the signature stands and the PDF can be made again)."""

    id: str
    kind: str
    language: str
    status: str
    sha256: str | None
    html_sha256: str
    error: str | None
    created_at: datetime
    rendered_at: datetime | None


class SignatureOut(BaseModel):
    party: str
    date: dt.date


class AgreementOut(BaseModel):
    """An agreement with its goals, steps (and their referrals), signatures and reviews.
    ``binding`` once both sides have signed."""

    id: str
    centre_id: str
    person_ref: str | None
    status: str
    binding: bool
    language: str
    municipality: str | None
    start_date: date
    review_every_months: int
    next_review: date | None
    review_due: bool
    review_overdue: bool
    signatures: list[SignatureOut]
    signed_on: date | None
    closed_on: date | None
    closing_note: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    goals: list[GoalOut]
    steps: list[StepOut]
    reviews: list[ReviewOut]
    documents: list[DocumentOut]


class AgreementSummary(BaseModel):
    id: str
    centre_id: str
    person_ref: str | None
    status: str
    municipality: str | None
    start_date: date
    signed_on: date | None
    closed_on: date | None
    next_review: date | None
    review_due: bool
    review_overdue: bool
    steps: int
    open_steps: int
    overdue_steps: int
    updated_at: datetime


class OverdueStepOut(StepOut):
    agreement_id: str
    person_ref: str | None


class AgreementList(BaseModel):
    """The centre's agreements (next review first), with due and overdue reviews and the
    steps whose due date has passed."""

    items: list[AgreementSummary]
    reviews_due: int
    reviews_overdue: int
    overdue_steps: list[OverdueStepOut]


class AgreementQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["open", "draft", "signed", "closed", "all"] = Field(
        "open", description="open = draft and signed"
    )
    review_due: bool | None = Field(
        None, description="true: next review past or within 14 days; false: the others"
    )
    centre_id: str | None = Field(None, max_length=64, description="admin: one centre only")


PersonLanguage = Literal["de", "ar", "fa", "uk", "ru", "tr", "en"]


class PrintQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lang: Literal["de", "en"] = Field("de", description="the first column's language")
    person: PersonLanguage | Literal["none"] | None = Field(
        None,
        description="the person's language beside it (default: the agreement's; de = plain "
        "German; none: one column)",
    )


class SheetQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lang: PersonLanguage | None = Field(None, description="default: the agreement's language")


def _out(agreement: Any) -> AgreementOut:
    return AgreementOut.model_validate(agreements.describe_agreement(request_session(), agreement))


@bp.post("")
@operation(
    "Create an agreement",
    "agreements",
    body=AgreementIn,
    responses={201: AgreementOut, 409: "the person already has an open agreement"},
)
@require(*CASEWORKERS)
def create_agreement():
    body = parse_body(AgreementIn)
    session = request_session()
    agreement = agreements.create_agreement(session, current_principal(), body)
    out = _out(agreement)
    session.commit()
    return respond(out, 201, {"Location": f"/v1/agreements/{agreement.id}"})


@bp.get("")
@operation(
    "List the centre's agreements",
    "agreements",
    query=AgreementQuery,
    responses={200: AgreementList},
)
@require(*CASEWORKERS)
def list_agreements():
    query = parse_query(AgreementQuery)
    session = request_session()
    listing = agreements.list_agreements(
        session,
        current_principal(),
        status=query.status,
        review_due=query.review_due,
        centre_id=query.centre_id,
    )
    session.commit()
    return respond(
        AgreementList(
            items=[AgreementSummary.model_validate(i) for i in listing.items],
            reviews_due=listing.reviews_due,
            reviews_overdue=listing.reviews_overdue,
            overdue_steps=[OverdueStepOut.model_validate(s) for s in listing.overdue_steps],
        )
    )


@bp.get("/<agreement_id>")
@operation("Read an agreement", "agreements", responses={200: AgreementOut})
@require(*CASEWORKERS)
def get_agreement(agreement_id: str):
    session = request_session()
    out = _out(agreements.get_agreement(session, current_principal(), agreement_id))
    session.commit()
    return respond(out, headers={"ETag": f'"{out.version}"'})


@bp.patch("/<agreement_id>")
@operation(
    "Change an agreement",
    "agreements",
    body=AgreementPatch,
    responses={
        200: AgreementOut,
        409: "not in this state (closed, or signed and binding)",
        412: "the agreement changed since the version in If-Match",
    },
    headers={"If-Match": "optional: the version you read (412 when it changed since)"},
)
@require(*CASEWORKERS)
def patch_agreement(agreement_id: str):
    body = parse_body(AgreementPatch)
    session = request_session()
    agreement = agreements.update_agreement(
        session, current_principal(), agreement_id, body, expected_version=if_match(False)
    )
    out = _out(agreement)
    session.commit()
    return respond(out, headers={"ETag": f'"{out.version}"'})


@bp.post("/<agreement_id>/sign")
@operation(
    "Sign an agreement (one side); the signature that completes it stores the signed "
    "agreement as PDF (see documents)",
    "agreements",
    body=SignatureIn,
    responses={
        200: AgreementOut,
        409: "already signed, or not ready to sign",
        412: "the agreement changed since the version in If-Match",
    },
    headers={"If-Match": "optional: the version you read (412 when it changed since)"},
)
@require(*CASEWORKERS)
def sign_agreement(agreement_id: str):
    body = parse_body(SignatureIn)
    session = request_session()
    agreement, document_id = sign_and_record(
        session,
        current_principal(),
        agreement_id,
        body.party,
        body.date,
        expected_version=if_match(False),
    )
    session.commit()  # the signature, and the print of what was signed, hold from here
    if document_id is not None:
        finish_record(session, document_id)
    out = _out(agreement)
    session.commit()
    return respond(out, headers={"ETag": f'"{out.version}"'})


@bp.post("/<agreement_id>/reviews")
@operation(
    "Record a review",
    "agreements",
    body=ReviewIn,
    responses={
        201: AgreementOut,
        409: "only a signed agreement is reviewed",
        412: "the agreement changed since the version in If-Match",
    },
    headers={"If-Match": "optional: the version you read (412 when it changed since)"},
)
@require(*CASEWORKERS)
def review_agreement(agreement_id: str):
    body = parse_body(ReviewIn)
    session = request_session()
    agreement = agreements.add_review(
        session, current_principal(), agreement_id, body, expected_version=if_match(False)
    )
    out = _out(agreement)
    session.commit()
    return respond(out, 201, {"ETag": f'"{out.version}"'})


@bp.post("/<agreement_id>/close")
@operation(
    "Close an agreement",
    "agreements",
    body=CloseIn,
    responses={
        200: AgreementOut,
        409: "only a signed agreement can be closed",
        412: "the agreement changed since the version in If-Match",
    },
    headers={"If-Match": "optional: the version you read (412 when it changed since)"},
)
@require(*CASEWORKERS)
def close_agreement(agreement_id: str):
    body = parse_body(CloseIn)
    session = request_session()
    agreement = agreements.close_agreement(
        session, current_principal(), agreement_id, body, expected_version=if_match(False)
    )
    out = _out(agreement)
    session.commit()
    return respond(out, headers={"ETag": f'"{out.version}"'})


@bp.get("/<agreement_id>/print")
@operation(
    "Printable agreement (HTML): German or English beside the person's language",
    "agreements",
    query=PrintQuery,
    responses={200: "the agreement to print and sign|text/html"},
)
@require(*CASEWORKERS)
def print_agreement(agreement_id: str):
    query = parse_query(PrintQuery)
    session = request_session()
    data = agreements.printable_agreement(session, current_principal(), agreement_id)
    session.commit()
    person = data["language"] if query.person is None else query.person
    html = agreement_html(data, query.lang, None if person == "none" else person)
    return _html(html, query.lang)


@bp.get("/<agreement_id>/next-steps")
@operation(
    'The person\'s "my next steps" sheet (HTML), in their language',
    "agreements",
    query=SheetQuery,
    responses={200: "the person's steps, dates, places and contacts|text/html"},
)
@require(*CASEWORKERS)
def next_steps(agreement_id: str):
    query = parse_query(SheetQuery)
    session = request_session()
    data = agreements.printable_agreement(session, current_principal(), agreement_id)
    session.commit()
    lang = query.lang or data["language"]
    return _html(next_steps_html(data, lang), lang)


def _html(html: str, lang: str) -> Response:
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Language"] = lang
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/<agreement_id>/documents/<document_id>.pdf")
@operation(
    "The PDF of what was signed",
    "agreements",
    responses={200: "the signed agreement|application/pdf", 404: "no such document, or no PDF yet"},
)
@require(*CASEWORKERS)
def document_pdf(agreement_id: str, document_id: str):
    session = request_session()
    agreements.printable_agreement(session, current_principal(), agreement_id)  # access, audit
    doc = documents.get_document(session, agreement_id, document_id)
    session.commit()
    if doc.pdf is None:
        raise NotFound(f"the PDF of document '{document_id}' is {doc.status}")
    resp = Response(doc.pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="agreement-{agreement_id}.pdf"'
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Digest"] = f"sha-256={doc.sha256}"
    return resp


@bp.post("/<agreement_id>/documents/<document_id>/render")
@operation(
    "Make the PDF of what was signed again (after a failure)",
    "agreements",
    responses={200: AgreementOut},
)
@require(*CASEWORKERS)
def render_document(agreement_id: str, document_id: str):
    session = request_session()
    agreement = agreements.get_agreement(session, current_principal(), agreement_id)
    documents.get_document(session, agreement_id, document_id)
    session.commit()
    finish_record(session, document_id)
    out = _out(agreement)
    session.commit()
    return respond(out)
