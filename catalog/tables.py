"""Storage of the catalogue: offers, their change history, and the catalogue sequence.

Every write to the catalogue takes the next value of ``catalog_state.seq`` in its own
transaction and stamps it on the offers it touched. Readers that keep a snapshot (the matcher)
ask for "offers with seq > the one I have" and so see every edit on their next request.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lotse.db import Base, JsonType, utcnow


class CatalogState(Base):
    """A single row holding the catalogue's sequence number (its version)."""

    __tablename__ = "catalog_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("agency_id", "external_id", name="uq_offers_agency_external"),
        Index("ix_offers_municipality_category", "municipality", "category"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # looked up through the unique (agency_id, external_id) index
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), index=True)
    organization: Mapped[str] = mapped_column(String(200))
    municipality: Mapped[str] = mapped_column(String(100))
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(5))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    languages: Mapped[list] = mapped_column(JsonType, default=list)
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    genders: Mapped[list] = mapped_column(JsonType, default=list)
    residence_statuses: Mapped[list] = mapped_column(JsonType, default=list)
    benefits_required: Mapped[list] = mapped_column(JsonType, default=list)
    min_german_level: Mapped[str | None] = mapped_column(String(4))
    max_german_level: Mapped[str | None] = mapped_column(String(4))
    target_german_level: Mapped[str | None] = mapped_column(String(4))
    literacy_required: Mapped[bool] = mapped_column(Boolean, default=False)
    target_groups: Mapped[list] = mapped_column(JsonType, default=list)
    days: Mapped[list] = mapped_column(JsonType, default=list)
    times: Mapped[list] = mapped_column(JsonType, default=list)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    hours_per_week: Mapped[float | None] = mapped_column(Float)
    capacity_total: Mapped[int | None] = mapped_column(Integer)
    capacity_free: Mapped[int | None] = mapped_column(Integer)
    childcare: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_eur: Mapped[float] = mapped_column(Float, default=0.0)
    wheelchair_accessible: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: HSDS service area: municipality, district, state or country, and its name.
    service_area_type: Mapped[str | None] = mapped_column(String(16))
    service_area: Mapped[str | None] = mapped_column(String(100))
    professions: Mapped[list] = mapped_column(JsonType, default=list)
    location_approximate: Mapped[bool] = mapped_column(Boolean, default=False)

    #: Fields from an import source that Lotse does not model (e.g. the rest of an HSDS
    #: service), kept so that nothing an agency sent is lost.
    extra: Mapped[dict | None] = mapped_column(JsonType)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    seq: Mapped[int] = mapped_column(Integer, default=0, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )

    # Optimistic locking in the database itself: every ORM UPDATE of an offer says
    # "WHERE version = <the version read>", so of two writers that both read version N only
    # one writes N+1; the other matches no row (StaleDataError, answered as 412). Checking
    # If-Match against the row read earlier is not enough: another transaction may commit
    # between that read and the write. The code sets ``version`` itself.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class OfferChange(Base):
    """One entry of an offer's history: who changed which fields from what to what, and when."""

    __tablename__ = "offer_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # create, update, archive, import
    actor: Mapped[str] = mapped_column(String(100))
    #: The web user who made the change (username), when it was made in the pages.
    username: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: ``{field: [old, new]}``; JSON-safe values (dates as ISO strings).
    changes: Mapped[dict] = mapped_column(JsonType, default=dict)
