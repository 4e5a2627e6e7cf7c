"""A counselling centre's cases: one per person it counsels, found by the centre's own
pseudonymous reference, gathering everything about the person in one place.

A case is opened by the first intake or agreement that names a ``person_ref``
(``note_case``) and lists, newest first, the recommendation requests made for the person
(each intake or "ask again"), the referrals with their status history, and every agreement
(closed ones too) with its reviews and closing. The list of cases filters by what needs the
counsellor: open, a review due, steps overdue, closed.

Only the ``cases`` row stores the reference next to the key (as an agreement does); erasure
deletes it (``erase_case``), so afterwards nothing links the centre's reference to the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework import agreements as ag
from casework import audit, lifecycle, referrals
from casework.register import erase_case, note_case, person_refs
from casework.tables import Agreement, Case, Referral, ReferralEvent
from catalog.tables import Offer
from lotse.accounts import Centre, Principal
from lotse.errors import FieldError, Forbidden, InvalidInput, NotFound
from lotse.pseudonyms import person_key
from matcher.tables import RecommendationRequest

#: Filters of the case list.
CASE_FILTERS: tuple[str, ...] = ("open", "review_due", "overdue_steps", "closed", "all")
LIST_LIMIT = 500


def _centre_of(actor: Principal) -> str:
    if actor.role != "counsellor" or not actor.centre_id:
        raise Forbidden("only counsellors work with their centre's cases")
    return actor.centre_id


@dataclass
class CaseSummary:
    """One line of the case list."""

    person_ref: str
    opened_at: datetime
    updated_at: datetime
    state: str  # open or closed
    agreement: dict[str, Any] | None = None
    agreements: int = 0
    open_referrals: int = 0
    referrals: int = 0
    review_due: bool = False
    review_overdue: bool = False
    overdue_steps: int = 0
    next_review: date | None = None
    closed_on: date | None = None


@dataclass
class CaseListing:
    items: list[CaseSummary] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _matches(summary: CaseSummary, status: str) -> bool:
    if status == "all":
        return True
    if status == "review_due":
        return summary.review_due
    if status == "overdue_steps":
        return summary.overdue_steps > 0
    return summary.state == status


def list_cases(
    session: Session,
    actor: Principal,
    *,
    q: str | None = None,
    status: str = "open",
    today: date | None = None,
) -> CaseListing:
    """The centre's cases, most recently worked on first, optionally only those whose
    reference contains ``q``; ``status`` one of ``CASE_FILTERS``. A case is closed when it
    has agreements, none of them open, and no referral under way."""
    if status not in CASE_FILTERS:
        raise InvalidInput([FieldError("status", "one of " + ", ".join(CASE_FILTERS))])
    centre = _centre_of(actor)
    stmt = select(Case).where(Case.centre_id == centre)
    if q:
        stmt = stmt.where(func.lower(Case.person_ref).contains(q.strip().lower()))
    cases = list(session.scalars(stmt.order_by(Case.updated_at.desc()).limit(LIST_LIMIT)))
    listing = ag.list_agreements(session, actor, status="all", today=today)
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for item in listing.items:
        by_ref.setdefault(item["person_ref"], []).append(item)
    counts = session.execute(
        select(
            Referral.person_key,
            func.count(),
            func.sum(when((Referral.status.in_(lifecycle.OPEN), 1), else_=0)),
        )
        .where(Referral.centre_id == centre, Referral.person_key.in_([c.person_key for c in cases]))
        .group_by(Referral.person_key)
    )
    referral_counts = {key: (int(n or 0), int(open_ or 0)) for key, n, open_ in counts}
    out = CaseListing(counts=dict.fromkeys(CASE_FILTERS, 0))
    for case in cases:
        mine = sorted(by_ref.get(case.person_ref, []), key=lambda a: a["start_date"], reverse=True)
        current = next((a for a in mine if a["status"] in ("draft", "signed")), None)
        n, open_referrals = referral_counts.get(case.person_key, (0, 0))
        closed = bool(mine) and current is None and open_referrals == 0
        latest = current or (mine[0] if mine else None)
        summary = CaseSummary(
            person_ref=case.person_ref,
            opened_at=case.opened_at,
            updated_at=case.updated_at,
            state="closed" if closed else "open",
            agreement=latest,
            agreements=len(mine),
            referrals=n,
            open_referrals=open_referrals,
            review_due=bool(current and current["review_due"]),
            review_overdue=bool(current and current["review_overdue"]),
            overdue_steps=sum(a["overdue_steps"] for a in mine),
            next_review=current["next_review"] if current else None,
            closed_on=latest["closed_on"] if closed and latest else None,
        )
        for name in CASE_FILTERS:
            out.counts[name] += _matches(summary, name)
        if _matches(summary, status):
            out.items.append(summary)
    return out


def _referral_dict(
    referral: Referral, offer: Offer, events: list[ReferralEvent], person_ref: str | None
) -> dict[str, Any]:
    return {
        "id": referral.id,
        "request_id": referral.request_id,
        "status": referral.status,
        "created_at": referral.created_at,
        "updated_at": referral.updated_at,
        "consent_at": referral.consent_at,
        "person_ref": person_ref,
        "offer": offer,
        "events": events,
        "open": referral.status in lifecycle.OPEN,
    }


def case_file(
    session: Session, actor: Principal, person_ref: str, *, today: date | None = None
) -> dict[str, Any]:
    """Everything the centre holds about one person, newest first: requests (intakes),
    referrals with their history, agreements with reviews and closing. ``NotFound`` when
    the centre knows nobody by that reference. The read is audited."""
    centre = _centre_of(actor)
    ref = (person_ref or "").strip()
    if not ref:
        raise NotFound("no case without a reference")
    key = person_key(centre, ref)
    case = session.get(Case, (centre, key))
    found = session.execute(
        select(Agreement)
        .where(
            Agreement.centre_id == centre,
            Agreement.person_key == key,
            Agreement.anonymised_at.is_(None),
        )
        .order_by(Agreement.created_at.desc())
    )
    agreements = [ag.describe_agreement(session, a, today) for a in found.scalars()]
    rows = session.execute(
        select(Referral, Offer)
        .join(Offer, Offer.id == Referral.offer_id)
        .where(Referral.centre_id == centre, Referral.person_key == key)
        .order_by(Referral.created_at.desc())
    ).all()
    refs = [_referral_dict(r, o, referrals.referral_events(session, r.id), ref) for r, o in rows]
    requests = list(
        session.scalars(
            select(RecommendationRequest)
            .where(
                RecommendationRequest.centre_id == centre,
                RecommendationRequest.person_key == key,
            )
            .order_by(RecommendationRequest.served_at.desc())
            .limit(200)
        )
    )
    if case is None and not agreements and not refs and not requests:
        raise NotFound(f"no case with the reference '{ref}'")
    audit.record(session, actor, "read", centre_id=centre, person_key=key)
    referred_from: dict[str, int] = {}
    for r in refs:
        if r["request_id"]:
            referred_from[r["request_id"]] = referred_from.get(r["request_id"], 0) + 1
    return {
        "person_ref": case.person_ref if case else ref,
        "opened_at": case.opened_at if case else None,
        "updated_at": case.updated_at if case else None,
        "requests": [
            {
                "id": req.request_id,
                "served_at": req.served_at,
                "needs": list((req.context or {}).get("needs") or []),
                "place": (req.context or {}).get("municipality"),
                "model_version": req.model_version,
                "referrals": referred_from.get(req.request_id, 0),
            }
            for req in requests
        ],
        "referrals": refs,
        "agreements": agreements,
        "open_agreement": next((a for a in agreements if a["status"] in ("draft", "signed")), None),
    }


def centre_referral_rows(
    session: Session,
    actor: Principal,
    *,
    person_ref: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The centre's referrals, newest change first, each with its offer and the person's
    reference (from the case register); optionally one person's, or one status."""
    centre = _centre_of(actor)
    rows = referrals.centre_referrals(session, actor, person_ref, limit, status=status)
    refs = person_refs(session, centre, (r.person_key for r, _o in rows))
    return [_referral_dict(r, o, [], refs.get(r.person_key)) for r, o in rows]


# --- the agency's inbox --------------------------------------------------------------------


def agency_inbox(
    session: Session,
    actor: Principal,
    *,
    offer_id: str | None = None,
    status: str | None = None,
    referral_id: str | None = None,
) -> list[dict[str, Any]]:
    """Referrals to the agency's offers, newest first, with what the person agreed to share
    when consenting: the centre, its reference for the person (to speak about them with
    the centre), and the pseudonymous summary of the request (age band, German level,
    needs). Never a name or contact: the agency reaches the person through the centre."""
    if status and status not in lifecycle.STATUSES:
        raise InvalidInput([FieldError("status", "one of " + ", ".join(lifecycle.STATUSES))])
    rows = referrals.agency_referrals(
        session, actor, status, offer_id=offer_id, referral_id=referral_id
    )
    centres = {
        c.id: c
        for c in session.scalars(
            select(Centre).where(Centre.id.in_({r.centre_id for r, _o in rows}))
        )
    }
    contexts = {
        req.request_id: req.context or {}
        for req in session.scalars(
            select(RecommendationRequest).where(
                RecommendationRequest.request_id.in_(
                    {r.request_id for r, _o in rows if r.request_id}
                )
            )
        )
    }
    by_centre: dict[str, set[str]] = {}
    for r, _o in rows:
        by_centre.setdefault(r.centre_id, set()).add(r.person_key)
    refs: dict[tuple[str, str], str] = {}
    for centre_id, keys in by_centre.items():
        for key, ref in person_refs(session, centre_id, keys).items():
            refs[(centre_id, key)] = ref
    out = []
    for r, o in rows:
        context = contexts.get(r.request_id or "", {})
        centre = centres.get(r.centre_id)
        out.append(
            {
                **_referral_dict(r, o, [], refs.get((r.centre_id, r.person_key))),
                "centre_name": centre.name if centre else r.centre_id,
                "centre_address": centre.address if centre else "",
                "shared": {
                    "age_band": context.get("age_band"),
                    "german_level": context.get("german_level"),
                    "needs": list(context.get("needs") or []),
                },
                "next": agency_next(r.status),
            }
        )
    return out


def agency_referral(session: Session, actor: Principal, referral_id: str) -> dict[str, Any]:
    """One referral of the agency's inbox (``Forbidden`` for another agency's)."""
    referral = referrals.get_referral(session, actor, referral_id)
    if actor.role != "admin" and not actor.may_edit_agency(referral.agency_id):
        raise Forbidden("this referral is to another agency's offer")
    rows = agency_inbox(session, actor, referral_id=referral.id)
    return rows[0]


def agency_next(status: str) -> list[str]:
    """What the agency side may set next, per the lifecycle."""
    return [
        s
        for s in lifecycle.STATUSES
        if s in lifecycle.allowed_next(status) and "agency" in lifecycle.SET_BY.get(s, ())
    ]


def counsellor_next(status: str) -> list[str]:
    """What the counselling side may set next, per the lifecycle."""
    return [
        s
        for s in lifecycle.STATUSES
        if s in lifecycle.allowed_next(status) and "counsellor" in lifecycle.SET_BY.get(s, ())
    ]


__all__ = [
    "CASE_FILTERS",
    "agency_inbox",
    "case_file",
    "centre_referral_rows",
    "erase_case",
    "list_cases",
    "note_case",
    "person_refs",
]
