"""Storage of casework: referrals and their status events; integration agreements with their
goals, steps and reviews; and the audit log.

A referral names its person only by ``person_key``, the salted hash of the centre's
pseudonymous reference (the same key the matcher stores on recommendation requests), so
export and erasure can find every row of one person without Lotse ever storing the reference
next to offers, impressions or reports.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lotse.db import Base, JsonType, utcnow

#: At most one open referral of one person to one offer: a second one (a double click, an
#: agreement drafted after a referral) reuses the first.
OPEN_REFERRAL_INDEX = "uq_referrals_open_per_offer"
OPEN_REFERRAL = "status IN ('proposed', 'accepted', 'enrolled')"


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        Index(
            OPEN_REFERRAL_INDEX,
            "centre_id",
            "person_key",
            "offer_id",
            unique=True,
            sqlite_where=text(OPEN_REFERRAL),
            postgresql_where=text(OPEN_REFERRAL),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    centre_id: Mapped[str] = mapped_column(ForeignKey("centres.id"), index=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    consent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    created_by: Mapped[str] = mapped_column(String(100))


class ReferralEvent(Base):
    """One status change: from, to, when, by whom, and why (reason code plus free text)."""

    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)


# --- integration agreements --------------------------------------------------------------
#
# An agreement is the one place that stores the centre's own ``person_ref`` (next to its
# ``person_key``): the print view and the counsellor's list need a handle the counsellor
# recognises, and the reference is the centre's own pseudonym, scoped to it by every read.
# Referrals, requests and impressions keep only ``person_key``. Erasure clears ``person_ref``
# and replaces ``person_key`` with a random value (see ``casework.privacy``).


#: The partial unique index that allows one open (draft or signed) agreement per centre and
#: person; erased agreements are out of casework and do not count.
OPEN_AGREEMENT_INDEX = "uq_agreements_open_per_person"
OPEN_AGREEMENT = "status IN ('draft', 'signed') AND anonymised_at IS NULL"


class Agreement(Base):
    """An integration agreement between one person and one counselling centre.

    ``status``: draft → signed (both signatures) → closed. Only signed and closed agreements
    are binding and count in reports. ``version`` moves with every change (see
    ``casework.agreements``).
    """

    __tablename__ = "agreements"
    __table_args__ = (
        Index(
            OPEN_AGREEMENT_INDEX,
            "centre_id",
            "person_key",
            unique=True,
            sqlite_where=text(OPEN_AGREEMENT),
            postgresql_where=text(OPEN_AGREEMENT),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    centre_id: Mapped[str] = mapped_column(ForeignKey("centres.id"), index=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    #: The centre's own pseudonymous reference; NULL once erased or purged.
    person_ref: Mapped[str | None] = mapped_column(String(100))
    #: Where the agreement counts in reports (given, or the place of its recommendations).
    municipality: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="draft")
    start_date: Mapped[date] = mapped_column(Date)
    review_every_months: Mapped[int] = mapped_column(Integer, default=3)
    next_review: Mapped[date | None] = mapped_column(Date, index=True)
    person_signed_on: Mapped[date | None] = mapped_column(Date)
    counsellor_signed_on: Mapped[date | None] = mapped_column(Date)
    #: The later of the two signature dates: from then on the agreement is binding.
    signed_on: Mapped[date | None] = mapped_column(Date, index=True)
    closed_on: Mapped[date | None] = mapped_column(Date, index=True)
    closing_note: Mapped[str | None] = mapped_column(Text)
    #: The web user who counsels the person (who drafted, or who signed for the centre);
    #: the print view names them. None for agreements made through the API.
    counsellor_username: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    #: Set when erasure or retention anonymised the agreement; it is then out of casework.
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    #: The person's preferred language for printouts (``lotse.i18n.PERSON_LANGUAGES``).
    language: Mapped[str] = mapped_column(String(8), default="de", server_default="de")


class AgreementGoal(Base):
    """One goal: a need category, its priority (1 = first) and a target in words."""

    __tablename__ = "agreement_goals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=1)
    target: Mapped[str | None] = mapped_column(Text)
    #: By when the target is to be reached ("B1 by June 2027": target "B1", this date).
    target_by: Mapped[date | None] = mapped_column(Date)
    #: reached, partly_reached or not_reached; set when the agreement is closed.
    outcome: Mapped[str | None] = mapped_column(String(16))


class AgreementStep(Base):
    """One agreed step: a referral to an offer or another action, who does it and by when."""

    __tablename__ = "agreement_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    #: Index (``AgreementGoal.position``) of the goal the step serves, if any.
    goal: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    responsible: Mapped[str] = mapped_column(String(24))
    due: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    referral_id: Mapped[str | None] = mapped_column(ForeignKey("referrals.id"), index=True)


class AgreementReview(Base):
    """A joint review: per-step statuses, a note, successes and obstacles (codes + text)."""

    __tablename__ = "agreement_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    held_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    successes: Mapped[str | None] = mapped_column(Text)
    #: ``[{"code", "step_id", "text"}]``; codes from ``casework.agreements.OBSTACLES``.
    obstacles: Mapped[list] = mapped_column(JsonType, default=list)
    #: ``[{"step_id", "status"}]`` as recorded at this review.
    step_statuses: Mapped[list] = mapped_column(JsonType, default=list)
    next_review: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))


class AgreementDocument(Base):
    """The record of what was signed: the bilingual agreement as printed at the moment the
    signature completed it (``html``, kept in the same transaction as the signature), and
    the PDF made from it with its SHA-256.

    ``status``: ``pending`` until the PDF is stored (``stored``); ``failed`` with ``error``
    when rendering failed — the signature stands either way, and the PDF can be made again
    from ``html``, which is what was signed.
    """

    __tablename__ = "agreement_documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    html: Mapped[str] = mapped_column(Text)
    html_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    rendered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who read or changed which case, when. Never personal details: the case is named by
    agreement id and/or ``person_key`` only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16), index=True)
    centre_id: Mapped[str | None] = mapped_column(String(64), index=True)
    agreement_id: Mapped[str | None] = mapped_column(String(36), index=True)
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)


class Case(Base):
    """The centre's register of the people it counsels: one row per centre and person.

    It holds the centre's own pseudonymous ``person_ref`` next to ``person_key`` (as an
    agreement does), so that the case list can be searched by reference and referral lists
    can name whose referral it is; every other record of the person keeps only the key.
    A case is opened by the first intake or agreement that names the reference and erased
    with the person (``casework.privacy``)."""

    __tablename__ = "cases"

    centre_id: Mapped[str] = mapped_column(ForeignKey("centres.id"), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_ref: Mapped[str] = mapped_column(String(100), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
