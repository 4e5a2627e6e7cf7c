"""Referrals: a person, with recorded consent, is referred to an offer; the agency and the
counsellor move the referral through its lifecycle (``casework.lifecycle``).

Enrolment takes a free place: the offer's ``capacity_free`` is decremented by one conditional
UPDATE in the same transaction as the status change, so two enrolments cannot both take the
last place. Every change is an event with who, when and why.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from casework import audit, lifecycle
from casework.tables import Referral, ReferralEvent
from catalog.store import get_offer, next_seq, record_change
from catalog.tables import Offer
from lotse.accounts import Principal, ensure_centre
from lotse.db import changed_rows, utcnow
from lotse.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from lotse.i18n import N_
from lotse.pseudonyms import person_key


@dataclass(frozen=True)
class ReferralOrigin:
    """Where a referral comes from: the centre and person key of the recommendation request."""

    request_id: str | None
    centre_id: str
    person_key: str


def open_referral(session: Session, centre_id: str, key: str, offer_id: str) -> Referral | None:
    """The person's open (proposed, accepted, enrolled) referral to the offer, if any."""
    return session.scalar(
        select(Referral).where(
            Referral.centre_id == centre_id,
            Referral.person_key == key,
            Referral.offer_id == offer_id,
            Referral.status.in_(lifecycle.OPEN),
        )
    )


def create_referral(
    session: Session, actor: Principal, origin: ReferralOrigin, offer_id: str, consent: bool
) -> Referral:
    """Record a proposed referral; refuses without the person's recorded consent."""
    return refer(session, actor, origin, offer_id, consent)[0]


def refer(
    session: Session, actor: Principal, origin: ReferralOrigin, offer_id: str, consent: bool
) -> tuple[Referral, bool]:
    """``(referral, created)``: a new proposed referral, or the person's open referral to the
    same offer (``created`` False) — a double click, or an agreement drafted after the
    referral, must not refer the person twice (nor count twice in the training data). Two
    at once: the database's unique index lets one in, the other gets the first one back.
    Refuses without the person's recorded consent."""
    if consent is not True:
        raise InvalidInput(
            [FieldError("consent", N_("the person's consent must be recorded before a referral"))]
        )
    if not actor.may_read_centre(origin.centre_id):
        raise Forbidden("this recommendation belongs to another counselling centre")
    offer = get_offer(session, offer_id)
    if offer.archived or offer.status != "active":
        raise Conflict(f"offer {offer_id} is not active; it cannot take referrals")
    ensure_centre(session, origin.centre_id)
    existing = open_referral(session, origin.centre_id, origin.person_key, offer.id)
    if existing is not None:
        return existing, False
    now = utcnow()
    referral = Referral(
        id=str(uuid.uuid4()),
        request_id=origin.request_id,
        offer_id=offer.id,
        agency_id=offer.agency_id,
        centre_id=origin.centre_id,
        person_key=origin.person_key,
        status="proposed",
        consent_at=now,
        created_at=now,
        updated_at=now,
        created_by=actor.actor,
    )
    try:
        with session.begin_nested():
            session.add(referral)
            session.flush()
    except IntegrityError:
        # another request referred the person to this offer at the same moment
        winner = open_referral(session, origin.centre_id, origin.person_key, offer.id)
        if winner is None:
            raise
        return winner, False
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            from_status=None,
            to_status="proposed",
            at=now,
            actor=actor.actor,
        )
    )
    audit.record(
        session, actor, "create", centre_id=referral.centre_id, person_key=referral.person_key
    )
    return referral, True


def get_referral(
    session: Session, actor: Principal, referral_id: str, *, for_update: bool = False
) -> Referral:
    """A referral visible to ``actor``: its centre's counsellors, its agency, admin.
    ``for_update`` locks the row (PostgreSQL) so two status changes cannot interleave."""
    referral = session.get(Referral, referral_id, with_for_update=for_update)
    if referral is None:
        raise NotFound(f"no referral with id '{referral_id}'")
    if not (actor.may_read_centre(referral.centre_id) or actor.may_edit_agency(referral.agency_id)):
        raise Forbidden("this referral belongs to another centre or agency")
    audit.record(
        session,
        actor,
        "update" if for_update else "read",
        centre_id=referral.centre_id,
        person_key=referral.person_key,
    )
    return referral


def _check_reason(status: str, reason: str | None) -> None:
    options = lifecycle.REASONS.get(status)
    if options is None:
        return
    if not reason:
        raise InvalidInput(
            [FieldError("reason", f"'{status}' needs a reason: {', '.join(options)}")]
        )
    if reason not in options:
        raise InvalidInput(
            [
                FieldError(
                    "reason", f"unknown reason '{reason}' for {status}; one of {', '.join(options)}"
                )
            ]
        )


class NoFreePlace(Conflict):
    """Enrolment refused: the offer has no free place left."""


def take_place(session: Session, actor: Principal, offer_id: str) -> None:
    """Take one free place of an offer, atomically; ``Conflict`` when none is left.

    Offers with unknown capacity (``capacity_free`` null) accept enrolments without counting.
    """
    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"no offer with id '{offer_id}'")
    if offer.capacity_free is None:
        return
    seq = next_seq(session)
    result = session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.capacity_free > 0)
        .values(
            capacity_free=Offer.capacity_free - 1,
            version=Offer.version + 1,
            seq=seq,
            last_modified=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if changed_rows(result) != 1:
        raise NoFreePlace("the offer has no free place left; the referral stays as it was")
    session.refresh(offer)
    record_change(
        session,
        offer,
        "enrolment",
        actor.actor,
        {"capacity_free": [offer.capacity_free + 1, offer.capacity_free]},
    )


def change_status(
    session: Session,
    actor: Principal,
    referral_id: str,
    status: str,
    reason: str | None = None,
    note: str | None = None,
) -> Referral:
    """Move a referral to ``status``; 409 (``Conflict``) for an illegal transition."""
    referral = get_referral(session, actor, referral_id, for_update=True)
    if status not in lifecycle.STATUSES or status == "proposed":
        raise InvalidInput([FieldError("status", "one of " + ", ".join(lifecycle.SET_BY))])
    if actor.role != "admin":
        side = "agency" if actor.may_edit_agency(referral.agency_id) else "counsellor"
        if side not in lifecycle.SET_BY[status]:
            raise Forbidden(f"the {side} side may not set '{status}'")
    if not lifecycle.is_legal(referral.status, status):
        nxt = sorted(lifecycle.allowed_next(referral.status))
        raise Conflict(
            f"a referral that is '{referral.status}' cannot become '{status}'"
            + (f"; it can become {', '.join(nxt)}" if nxt else "; it is closed")
        )
    _check_reason(status, reason)
    previous, now = referral.status, utcnow()
    # Only from the status read above: of two changes racing from the same status (two
    # enrolments would take two places), one finds the row moved on and gets 409. The row
    # lock of get_referral does this on PostgreSQL; SQLite has no SELECT ... FOR UPDATE.
    moved = session.execute(
        update(Referral)
        .where(Referral.id == referral.id, Referral.status == previous)
        .values(status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(moved) != 1:
        raise Conflict("the referral was changed by someone else meanwhile; read it again")
    set_committed_value(referral, "status", status)
    set_committed_value(referral, "updated_at", now)
    if status == "enrolled":
        take_place(session, actor, referral.offer_id)
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            from_status=previous,
            to_status=status,
            at=now,
            actor=actor.actor,
            reason=reason,
            note=(note or None),
        )
    )
    session.flush()
    return referral


def referral_events(session: Session, referral_id: str) -> list[ReferralEvent]:
    return list(
        session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.id)
        )
    )


def agency_referrals(
    session: Session,
    actor: Principal,
    status: str | None = None,
    since: datetime | None = None,
    *,
    offer_id: str | None = None,
    referral_id: str | None = None,
) -> list[tuple[Referral, Offer]]:
    """Referrals to the actor's agency's offers, newest first (no personal data)."""
    if actor.role == "agency":
        agency_id = actor.agency_id
    elif actor.role == "admin":
        agency_id = None
    else:
        raise Forbidden("only agencies see referrals to their offers")
    stmt = select(Referral, Offer).join(Offer, Offer.id == Referral.offer_id)
    if agency_id:
        stmt = stmt.where(Referral.agency_id == agency_id)
    if status:
        stmt = stmt.where(Referral.status == status)
    if offer_id:
        stmt = stmt.where(Referral.offer_id == offer_id)
    if referral_id:
        stmt = stmt.where(Referral.id == referral_id)
    if since:
        stmt = stmt.where(Referral.updated_at > since)
    return [
        (r, o) for r, o in session.execute(stmt.order_by(Referral.updated_at.desc()).limit(500))
    ]


def centre_referrals(
    session: Session,
    actor: Principal,
    person_ref: str | None = None,
    limit: int = 200,
    *,
    status: str | None = None,
) -> list[tuple[Referral, Offer]]:
    """The actor's centre's referrals with their offers, newest change first; optionally only
    one person's (found by their key, never by a stored reference)."""
    if actor.role != "counsellor" or not actor.centre_id:
        raise Forbidden("only counsellors see their centre's referrals")
    stmt = (
        select(Referral, Offer)
        .join(Offer, Offer.id == Referral.offer_id)
        .where(Referral.centre_id == actor.centre_id)
    )
    if person_ref:
        stmt = stmt.where(Referral.person_key == person_key(actor.centre_id, person_ref))
    if status:
        stmt = stmt.where(Referral.status == status)
    stmt = stmt.order_by(Referral.updated_at.desc()).limit(limit)
    return [(r, o) for r, o in session.execute(stmt)]
