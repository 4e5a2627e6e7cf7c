"""Serving one recommendation: recommend, then log what was served, in one transaction.

The engine (``matcher.engine``) knows nothing of the database's request log and the log
(``matcher.impressions``) nothing of ranking; this is where the two meet, for the API, the
pages and the benchmark alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import taxonomy
from lotse.errors import FieldError, InvalidInput, NotFound
from matcher.engine import Recommendation, Suggestion, current_snapshot, recommend
from matcher.features import FEATURE_NAMES
from matcher.impressions import log_impressions
from matcher.profile import resolve_profile, validate_profile
from matcher.reasons import reasons_for
from matcher.snapshot import SnapshotCache
from matcher.tables import Impression, RecommendationRequest

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


def replay_recommendation(
    session: Session,
    request_id: str,
    profile: Any,
    *,
    snapshots: SnapshotCache | None = None,
    lang: str = "en",
) -> Recommendation:
    """What request ``request_id`` showed, again: the same offers in the same places, with
    the same scores, and reasons worded in ``lang`` from the features stored when it was
    served. Nothing is logged: showing a list again (the back button, a language switch, the
    return from a referral) is not a new request, so it must not add fresh "not taken up"
    rows to the training data. Offers archived since are left out. ``NotFound`` for an
    unknown request."""
    logged = session.get(RecommendationRequest, request_id)
    if logged is None:
        raise NotFound(f"no recommendation request '{request_id}'")
    resolved = resolve_profile(validate_profile(profile))
    snapshot = current_snapshot(session, snapshots)
    rows = session.execute(
        select(Impression).where(Impression.request_id == request_id).order_by(Impression.position)
    ).scalars()
    lists: dict[str, list[Suggestion]] = {"results": [], "waitlist": []}
    for imp in rows:
        row = snapshot.row_of.get(imp.offer_id)
        if row is None or imp.shown_in not in lists:
            continue
        stored = imp.features or {}
        x = np.array([np.nan if stored.get(n) is None else float(stored[n]) for n in FEATURE_NAMES])
        distance = stored.get("distance_km")
        lists[imp.shown_in].append(
            Suggestion(
                rank=imp.position,
                offer_id=imp.offer_id,
                title=str(snapshot.titles[row]),
                category=taxonomy.CATEGORIES[int(snapshot.cat[row])],
                need=imp.need,
                score=imp.score,
                distance_km=None if distance is None else round(float(distance), 1),
                reasons=reasons_for(snapshot, row, resolved, x, lang),
                features=x,
                propensity=1.0 if imp.propensity is None else imp.propensity,
            )
        )
    context = logged.context or {}
    return Recommendation(
        request_id=request_id,
        model_version=logged.model_version,
        feature_schema=logged.feature_schema,
        catalog_seq=logged.catalog_seq,
        place=resolved.place,
        needs=resolved.needs,
        results=lists["results"],
        waitlist=lists["waitlist"],
        excluded=dict(context.get("excluded") or {}),
        eligible_count=int(context.get("eligible") or 0),
        k=logged.k,
        profile=resolved,
        policy=context.get("policy"),
    )
