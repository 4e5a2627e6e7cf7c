"""Data protection: export and erasure of one person's data, and the retention period.

A person is looked up by the centre's pseudonymous reference, turned into ``person_key``
(``lotse.pseudonyms``), so one centre can never reach another centre's people.

Erasure keeps what reports and the ranker need while cutting every link to the person:

- draft agreements (never binding, never counted) are deleted with their goals and steps;
- the signed records (the print and PDF of what was signed, ``agreement_documents``) are
  deleted: they name the person and hold the free texts;
- binding agreements (signed, closed) are anonymised: ``person_ref`` cleared, ``person_key``
  replaced by a random value, every free text (targets, step texts, review notes, successes,
  obstacle texts, closing note) cleared; categories, dates, statuses, obstacle codes and
  outcomes stay, so monitoring totals do not change;
- referrals get the same random value instead of ``person_key``, and their event notes are
  cleared (status history and reason codes stay: the funnel and training labels need them);
- recommendation requests get the same random value, their context is cut down to coarse
  segments (``KEPT_CONTEXT``), and each impression's distance is rounded to
  ``DISTANCE_ROUNDING_KM`` (exact distances to known offer locations could locate a home);
- intake drafts that counsellors' open sessions hold for the person are deleted;
- earlier audit entries lose their ``person_key``; the erasure itself is logged with it, so
  "was this person erased, when, by whom" stays answerable.

The random value is drawn once per erasure and stored nowhere else, so nothing leads back
from it to the reference; one value per person (not per row) keeps counts of distinct people
and the ranker's person-grouped splits as they were.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from casework import audit, intake
from casework.agreements import centre_for_actor, describe_agreement
from casework.documents import document_summary, documents_of
from casework.register import erase_case
from casework.tables import (
    Agreement,
    AgreementDocument,
    AgreementGoal,
    AgreementReview,
    AgreementStep,
    Referral,
    ReferralEvent,
)
from catalog.tables import Offer
from lotse.accounts import Principal
from lotse.db import utcnow
from lotse.errors import FieldError, InvalidInput
from lotse.pseudonyms import person_key
from lotse.settings import current
from matcher.tables import Impression, RecommendationRequest

#: Context entries of a recommendation request kept after erasure: coarse segments that
#: training and evaluation use, none of which names or locates a person on its own.
KEPT_CONTEXT: tuple[str, ...] = (
    "age_band",
    "gender",
    "german_level",
    "needs",
    "derived_needs",
    "municipality",
)
DISTANCE_ROUNDING_KM = 5.0


def retention_days() -> int:
    """``LOTSE_RETENTION_DAYS`` (default 1095, three years): how long closed agreements are
    kept before ``lotse casework purge`` anonymises them (validated by the settings)."""
    return current().retention_days


#: The longest ``person_ref`` that creation accepts (profiles and agreements).
MAX_PERSON_REF = 100


def clean_person_ref(person_ref: str) -> str:
    """A ``person_ref`` as creation stores it (surrounding whitespace dropped, 1 to 100
    characters; any character, ``/``, ``.`` and ``..`` included); ``InvalidInput`` else."""
    ref = person_ref.strip()
    if not 1 <= len(ref) <= MAX_PERSON_REF:
        raise InvalidInput([FieldError("person_ref", f"1 to {MAX_PERSON_REF} characters")])
    return ref


def _person(actor: Principal, person_ref: str, centre_id: str | None) -> tuple[str, str, str]:
    """The reference (as creation stored it), centre and ``person_key`` an export or erasure
    is about."""
    ref = clean_person_ref(person_ref)
    centre = centre_for_actor(actor, centre_id)
    return ref, centre, person_key(centre, ref)


# --- export --------------------------------------------------------------------------------


def _referral_dict(session: Session, referral: Referral, offer: Offer | None) -> dict[str, Any]:
    events = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.id)
    )
    return {
        "id": referral.id,
        "request_id": referral.request_id,
        "offer_id": referral.offer_id,
        "offer_title": offer.title if offer else None,
        "agency_id": referral.agency_id,
        "status": referral.status,
        "consent_at": referral.consent_at,
        "created_at": referral.created_at,
        "updated_at": referral.updated_at,
        "created_by": referral.created_by,
        "events": [
            {
                "from_status": e.from_status,
                "to_status": e.to_status,
                "at": e.at,
                "actor": e.actor,
                "reason": e.reason,
                "note": e.note,
            }
            for e in events
        ],
    }


def _request_dict(session: Session, req: RecommendationRequest) -> dict[str, Any]:
    impressions = session.scalars(
        select(Impression)
        .where(Impression.request_id == req.request_id)
        .order_by(Impression.shown_in, Impression.position)
    )
    return {
        "request_id": req.request_id,
        "served_at": req.served_at,
        "model_version": req.model_version,
        "lang": req.lang,
        "context": req.context or {},
        "impressions": [
            {
                "offer_id": i.offer_id,
                "need": i.need,
                "shown_in": i.shown_in,
                "position": i.position,
                "score": i.score,
            }
            for i in impressions
        ],
    }


def export_person(
    session: Session,
    actor: Principal,
    person_ref: str,
    centre_id: str | None = None,
    *,
    today: date | None = None,
) -> dict[str, Any]:
    """Everything Lotse holds about one person of one centre: agreements (with goals, steps,
    reviews and the PDF of what was signed, base64), referrals with their history, recommendations served with what they
    showed, and who read or changed the case (audit). The export is audited too."""
    person_ref, centre, key = _person(actor, person_ref, centre_id)
    agreements = session.scalars(
        select(Agreement)
        .where(
            Agreement.centre_id == centre,
            Agreement.person_key == key,
            Agreement.anonymised_at.is_(None),
        )
        .order_by(Agreement.created_at)
    )
    described = []
    for a in agreements:
        entry = describe_agreement(session, a, today)
        entry["documents"] = [
            {**document_summary(d), "pdf_base64": _base64(d.pdf)}
            for d in documents_of(session, a.id)
        ]
        described.append(entry)
    referral_rows = session.execute(
        select(Referral, Offer)
        .outerjoin(Offer, Offer.id == Referral.offer_id)
        .where(Referral.centre_id == centre, Referral.person_key == key)
        .order_by(Referral.created_at)
    ).all()
    requests = session.scalars(
        select(RecommendationRequest)
        .where(
            RecommendationRequest.centre_id == centre,
            RecommendationRequest.person_key == key,
        )
        .order_by(RecommendationRequest.served_at)
    )
    audit.record(session, actor, "export", centre_id=centre, person_key=key)
    session.flush()
    return {
        "person_ref": person_ref,
        "centre_id": centre,
        "exported_at": utcnow(),
        "agreements": described,
        "referrals": [_referral_dict(session, r, o) for r, o in referral_rows],
        "recommendations": [_request_dict(session, r) for r in requests],
        "audit": [
            {"at": e.at, "actor": e.actor, "action": e.action, "agreement_id": e.agreement_id}
            for e in audit.entries_for_person(session, key)
        ],
    }


# --- erasure -------------------------------------------------------------------------------


@dataclass
class ErasureReport:
    """What an erasure or purge did (counts only)."""

    agreements_deleted: int = 0
    agreements_anonymised: int = 0
    referrals_anonymised: int = 0
    requests_anonymised: int = 0
    audit_entries_unlinked: int = 0
    agreement_ids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k != "agreement_ids"}


def new_token() -> str:
    """A random stand-in for a person key: same shape, tied to nothing."""
    return secrets.token_hex(32)


def _base64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None


def _delete_documents(session: Session, ids: Sequence[str]) -> None:
    if ids:
        session.execute(
            delete(AgreementDocument).where(AgreementDocument.agreement_id.in_(list(ids)))
        )


def _delete_agreements(session: Session, ids: Sequence[str]) -> None:
    if not ids:
        return
    for table in (AgreementDocument, AgreementReview, AgreementStep, AgreementGoal):
        session.execute(delete(table).where(table.agreement_id.in_(list(ids))))
    session.execute(delete(Agreement).where(Agreement.id.in_(list(ids))))


def _anonymise_agreements(session: Session, ids: Sequence[str], token: str) -> None:
    if not ids:
        return
    ids = list(ids)
    _delete_documents(session, ids)
    session.execute(
        update(Agreement)
        .where(Agreement.id.in_(ids))
        .values(person_key=token, person_ref=None, closing_note=None, anonymised_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(AgreementGoal)
        .where(AgreementGoal.agreement_id.in_(ids))
        .values(target=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(AgreementStep)
        .where(AgreementStep.agreement_id.in_(ids))
        .values(text=None)
        .execution_options(synchronize_session=False)
    )
    for review in session.scalars(
        select(AgreementReview).where(AgreementReview.agreement_id.in_(ids))
    ):
        review.note = None
        review.successes = None
        review.obstacles = [
            {"code": o.get("code"), "step_id": o.get("step_id"), "text": ""}
            for o in (review.obstacles or [])
        ]


def _anonymise_referrals(session: Session, ids: Sequence[str], token: str) -> None:
    if not ids:
        return
    session.execute(
        update(Referral)
        .where(Referral.id.in_(list(ids)))
        .values(person_key=token)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ReferralEvent)
        .where(ReferralEvent.referral_id.in_(list(ids)))
        .values(note=None)
        .execution_options(synchronize_session=False)
    )


def coarse_context(context: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a request's context that survives erasure (``KEPT_CONTEXT``)."""
    return {k: v for k, v in (context or {}).items() if k in KEPT_CONTEXT}


def _round_distance(features: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(features or {})
    d = out.get("distance_km")
    if isinstance(d, int | float):
        out["distance_km"] = round(d / DISTANCE_ROUNDING_KM) * DISTANCE_ROUNDING_KM
    return out


def _anonymise_requests(session: Session, request_ids: Sequence[str], token: str) -> None:
    """Unlink requests from the person but keep them (and their impressions) for training:
    a random key, coarse context, rounded distances."""
    if not request_ids:
        return
    ids = list(request_ids)
    for req in session.scalars(
        select(RecommendationRequest).where(RecommendationRequest.request_id.in_(ids))
    ):
        req.person_key = token
        req.context = coarse_context(req.context)
    for imp in session.scalars(select(Impression).where(Impression.request_id.in_(ids))):
        imp.features = _round_distance(imp.features)


def erase_person(
    session: Session, actor: Principal, person_ref: str, centre_id: str | None = None
) -> ErasureReport:
    """Erase one person of one centre (see the module docstring for what stays, and how
    it is unlinked). Idempotent: erasing again finds nothing and reports zeros."""
    _ref, centre, key = _person(actor, person_ref, centre_id)
    token = new_token()
    report = ErasureReport()
    agreements = list(
        session.execute(
            select(Agreement.id, Agreement.status).where(
                Agreement.centre_id == centre,
                Agreement.person_key == key,
                Agreement.anonymised_at.is_(None),
            )
        )
    )
    drafts = [i for i, status in agreements if status == "draft"]
    binding = [i for i, status in agreements if status != "draft"]
    referral_ids = list(
        session.scalars(
            select(Referral.id).where(Referral.centre_id == centre, Referral.person_key == key)
        )
    )
    request_ids = list(
        session.scalars(
            select(RecommendationRequest.request_id).where(
                RecommendationRequest.centre_id == centre,
                RecommendationRequest.person_key == key,
            )
        )
    )
    _delete_agreements(session, drafts)
    _anonymise_agreements(session, binding, token)
    _anonymise_referrals(session, referral_ids, token)
    _anonymise_requests(session, request_ids, token)
    intake.erase_drafts(session, centre, key)
    erase_case(session, centre, key)
    report.agreements_deleted = len(drafts)
    report.agreements_anonymised = len(binding)
    report.referrals_anonymised = len(referral_ids)
    report.requests_anonymised = len(request_ids)
    report.audit_entries_unlinked = audit.unlink_person(session, key)
    report.agreement_ids = [*drafts, *binding]
    audit.record(session, actor, "erase", centre_id=centre, person_key=key)
    session.flush()
    session.expire_all()
    return report


# --- retention -----------------------------------------------------------------------------


def expired_agreements(session: Session, days: int, today: date | None = None) -> list[Agreement]:
    """Closed agreements whose closing lies more than ``days`` days back, not yet anonymised."""
    cutoff = (today or utcnow().date()) - timedelta(days=days)
    return list(
        session.scalars(
            select(Agreement)
            .where(
                Agreement.status == "closed",
                Agreement.closed_on < cutoff,
                Agreement.anonymised_at.is_(None),
            )
            .order_by(Agreement.closed_on)
        )
    )


def purge_expired(
    session: Session,
    actor: Principal | str,
    *,
    days: int | None = None,
    today: date | None = None,
    dry_run: bool = False,
) -> ErasureReport:
    """Anonymise closed agreements older than the retention period, with the referrals of
    their steps and the recommendations those came from (each as erasure does). A
    recommendation that also fed a referral still in use is left linked.
    ``dry_run`` only counts."""
    expired = expired_agreements(session, days or retention_days(), today)
    report = ErasureReport(agreement_ids=[a.id for a in expired])
    report.agreements_anonymised = len(expired)
    tokens: dict[tuple[str, str], str] = {}
    by_person: dict[tuple[str, str], list[str]] = {}
    for a in expired:
        by_person.setdefault((a.centre_id, a.person_key), []).append(a.id)
        tokens.setdefault((a.centre_id, a.person_key), new_token())
    for (centre, key), ids in by_person.items():
        referral_ids = [
            r
            for r in session.scalars(
                select(AgreementStep.referral_id).where(AgreementStep.agreement_id.in_(ids))
            )
            if r is not None
        ]
        request_ids = {
            r
            for r in session.scalars(
                select(Referral.request_id).where(Referral.id.in_(referral_ids))
            )
            if r is not None
        }
        still_used = set(
            session.scalars(
                select(Referral.request_id).where(
                    Referral.request_id.in_(request_ids), Referral.id.not_in(referral_ids)
                )
            )
        )
        requests = sorted(request_ids - still_used)
        report.referrals_anonymised += len(referral_ids)
        report.requests_anonymised += len(requests)
        if dry_run:
            continue
        token = tokens[(centre, key)]
        _anonymise_agreements(session, ids, token)
        _anonymise_referrals(session, referral_ids, token)
        _anonymise_requests(session, requests, token)
        report.audit_entries_unlinked += audit.unlink_agreements(session, ids)
        live = session.scalar(
            select(Agreement.id).where(
                Agreement.centre_id == centre,
                Agreement.person_key == key,
                Agreement.anonymised_at.is_(None),
            )
        )
        if live is None:
            erase_case(session, centre, key)
        for agreement_id in ids:
            audit.record(session, actor, "purge", centre_id=centre, agreement_id=agreement_id)
    if not dry_run:
        session.flush()
        session.expire_all()
    return report
