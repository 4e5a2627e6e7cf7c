"""What was recommended: every served request and each offer it showed (impressions).

These rows are the ranker's future training data: which offers a person was shown, at which
position, with the exact feature values the ranker saw, and (through referrals, later) what
came of it. They are pseudonymous: a request keeps a salted hash of the person's reference
(never the reference itself) and a coarse, non-identifying summary of the profile.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lotse.db import Base, JsonType, utcnow


class RecommendationRequest(Base):
    """One served ``POST /v1/recommendations``."""

    __tablename__ = "recommendation_requests"
    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    served_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    feature_schema: Mapped[str] = mapped_column(String(32))
    catalog_seq: Mapped[int] = mapped_column(Integer)
    centre_id: Mapped[str | None] = mapped_column(ForeignKey("centres.id"), index=True)
    #: ``lotse.pseudonyms.person_key`` of the centre's person reference: links a person's
    #: requests and referrals (grouped training splits, export, erasure) without storing it.
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)
    k: Mapped[int] = mapped_column(Integer)
    lang: Mapped[str] = mapped_column(String(8))
    #: Pseudonymous profile summary (age band, level, needs, ...) and the screening counts.
    context: Mapped[dict] = mapped_column(JsonType, default=dict)


class Impression(Base):
    """One offer shown in one request's results or waitlist."""

    __tablename__ = "impressions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("recommendation_requests.request_id", ondelete="CASCADE"), index=True
    )
    #: Not indexed: nothing looks impressions up by offer (offers are archived, never
    #: deleted), and such an index costs every request one random-page insert per shown
    #: offer (docs/benchmarks.md, "The impression write").
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    #: The category code of the need the offer was shown for (as resolved: leaf or parent).
    need: Mapped[str] = mapped_column(String(64))
    #: "results" or "waitlist".
    shown_in: Mapped[str] = mapped_column(String(16))
    #: 1-based rank within its list.
    position: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    #: ``{feature name: value}``, exactly as served (None for NaN).
    features: Mapped[dict] = mapped_column(JsonType, default=dict)
    #: Probability that the serving policy showed this offer at this position (1 without
    #: exploration; None for impressions logged before it was recorded).
    propensity: Mapped[float | None] = mapped_column(Float)
