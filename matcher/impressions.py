"""Logging what was served, so that a ranker can later learn from outcomes.

Every served recommendation writes one ``RecommendationRequest`` and one ``Impression`` per
offer shown (results and waitlist), with the exact feature values used, in the same
transaction as the response. If logging fails, the request fails (loudly, a 500): a
recommendation a counsellor acts on must be traceable — referrals name its ``request_id`` —
and silently missing impressions would bias training data towards whatever failed less.

Nothing personal is stored: the person's reference only as ``lotse.pseudonyms.person_key``
(an HMAC with a server secret, scoped to the centre — the key referrals use too), the profile
only as a coarse summary (age band, level, needs, counts), never free text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from lotse.db import utcnow
from lotse.pseudonyms import person_key
from matcher.engine import Recommendation
from matcher.features import AGE_BANDS, feature_dict
from matcher.tables import Impression, RecommendationRequest

_INSERT_REQUEST = insert(RecommendationRequest.__table__)
_INSERT_IMPRESSION = insert(Impression.__table__)


def age_band(age: int) -> str:
    """An age band such as "27-34": coarse enough not to identify, fine enough for MBE (27+) / JMD (12–27)."""
    for lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return f"{lo}-{hi}"
    return "unknown"


def request_context(rec: Recommendation) -> dict[str, Any]:
    """The pseudonymous summary of a request's profile that training may use."""
    prof = rec.profile.profile
    return {
        "age_band": age_band(prof.age),
        "gender": prof.gender,
        "german_level": prof.german_level,
        "literate": prof.literate,
        "residence_status": prof.residence_status,
        "benefits": list(prof.benefits),
        "children": len(prof.children_ages),
        "young_children": sum(1 for a in prof.children_ages if a < 6),
        "needs": [n.category for n in rec.needs],
        "derived_needs": [n.category for n in rec.needs if n.derived],
        "regulated_profession": rec.profile.profession.key if rec.profile.profession else None,
        "municipality": rec.place.place,
        "max_distance_km": prof.max_distance_km,
        "online_ok": prof.online_ok,
        "wheelchair": prof.wheelchair,
        "availability": prof.availability.model_dump(),
        "eligible": rec.eligible_count,
        "excluded": rec.excluded,
        "policy": rec.policy,
    }


def log_impressions(
    session: Session,
    rec: Recommendation,
    *,
    centre_id: str | None,
    person_ref: str | None,
    lang: str = "en",
    arm: str | None = None,
) -> int:
    """Record a served recommendation and its impressions (bulk insert, no commit); returns
    the number of impressions. ``arm`` names the side of an online comparison that served
    it ("control" or "challenger"), if one was running."""
    # Core inserts on the session's connection: one row and one executemany, no ORM layer
    # and no unit-of-work bookkeeping on this per-request path.
    connection = session.connection()
    connection.execute(
        _INSERT_REQUEST,
        [
            {
                "request_id": rec.request_id,
                "served_at": utcnow(),
                "model_version": rec.model_version,
                "feature_schema": rec.feature_schema,
                "catalog_seq": rec.catalog_seq,
                "centre_id": centre_id,
                "person_key": person_key(centre_id or "", person_ref) if person_ref else None,
                "k": rec.k,
                "lang": lang,
                "context": {**request_context(rec), "arm": arm},
            }
        ],
    )
    rows = [
        {
            "request_id": rec.request_id,
            "offer_id": s.offer_id,
            "need": s.need,
            "shown_in": shown_in,
            "position": s.rank,
            "score": s.score,
            "features": feature_dict(s.features),
            "propensity": s.propensity,
        }
        for shown_in, items in (("results", rec.results), ("waitlist", rec.waitlist))
        for s in items
    ]
    if rows:
        connection.execute(_INSERT_IMPRESSION, rows)
    return len(rows)


def erase_person(session: Session, centre_id: str, person_ref: str) -> int:
    """Delete every logged request (and its impressions) of one person of one centre;
    returns how many requests. For the erasure of ``DELETE /v1/persons/{person_ref}``."""
    key = person_key(centre_id, person_ref)
    ids = list(
        session.scalars(
            select(RecommendationRequest.request_id).where(RecommendationRequest.person_key == key)
        )
    )
    if ids:
        session.execute(delete(Impression).where(Impression.request_id.in_(ids)))
        session.execute(
            delete(RecommendationRequest).where(RecommendationRequest.request_id.in_(ids))
        )
    return len(ids)
