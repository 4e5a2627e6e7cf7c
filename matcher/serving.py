"""Serving one recommendation: recommend, then log what was served, in one transaction.

The engine (``matcher.engine``) knows nothing of the database's request log and the log
(``matcher.impressions``) nothing of ranking; this is where the two meet, for the API, the
pages and the benchmark alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lotse.errors import FieldError, InvalidInput
from matcher.engine import Recommendation, recommend
from matcher.impressions import log_impressions

#: Why a person cannot be named without a centre.
NO_CENTRE = (
    "a person_ref needs the counselling centre the person belongs to: leave person_ref out, "
    "or ask with a counsellor's token or an admin token made with --centre"
)


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
    (no commit: the caller commits with whatever else the request wrote).

    A request that names a person (``person_ref``) is stored under the person's key in
    ``centre_id``: without a centre (admin acting for none) it could never be exported or
    erased, so it is refused (``InvalidInput`` on ``person_ref``) before any work."""
    ref = (
        profile.get("person_ref")
        if isinstance(profile, dict)
        else getattr(profile, "person_ref", None)
    )
    if not centre_id and isinstance(ref, str) and ref.strip():
        field = options.get("field_prefix", "") + "person_ref"
        raise InvalidInput([FieldError(field, NO_CENTRE)])
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
