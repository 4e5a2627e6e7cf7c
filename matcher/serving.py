"""Serving one recommendation: recommend, then log what was served, in one transaction.

The engine (``matcher.engine``) knows nothing of the database's request log and the log
(``matcher.impressions``) nothing of ranking; this is where the two meet, for the API, the
pages and the benchmark alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from matcher.engine import Recommendation, recommend
from matcher.impressions import log_impressions


def serve_recommendations(
    session: Session,
    profile: Any,
    *,
    centre_id: str | None,
    lang: str = "en",
    arm: str | None = None,
    **options: Any,
) -> Recommendation:
    """Recommend (``matcher.engine.recommend`` with ``options``) and log what was served
    (no commit: the caller commits with whatever else the request wrote)."""
    rec = recommend(session, profile, lang=lang, **options)
    log_impressions(
        session,
        rec,
        centre_id=centre_id,
        person_ref=rec.profile.profile.person_ref,
        lang=lang,
        arm=arm,
    )
    return rec
