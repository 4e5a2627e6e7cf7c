"""``/v1/recommendations``: suggested offers for a profile, and why any offer fits or not.

Texts (reasons, rule explanations) are English unless the request's ``Accept-Language``
prefers German. The ranker, the catalogue snapshot with its outcome history and exploration
come from ``service.ranking`` (one per process).
"""

from __future__ import annotations

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field

from matcher.engine import DEFAULT_K, MAX_K, Explanation, Recommendation, explain
from matcher.profile import ProfileIn
from matcher.serving import serve_recommendations
from service.auth import current_principal, require
from service.db import request_session
from service.io import parse_body, respond
from service.openapi import operation
from service.ranking import serving_options, snapshot_cache

bp = Blueprint("recommendations", __name__, url_prefix="/v1/recommendations")
READERS = ("counsellor", "admin")
LANGUAGES = ("en", "de")
FIELD_PREFIX = "profile."


class RecommendationQuery(BaseModel):
    """A profile and how many offers to suggest."""

    model_config = ConfigDict(extra="forbid")

    profile: ProfileIn
    k: int = Field(DEFAULT_K, ge=1, le=MAX_K)


class ExplainQuery(BaseModel):
    """A profile and the offer to check against it."""

    model_config = ConfigDict(extra="forbid")

    profile: ProfileIn
    offer_id: str = Field(min_length=1, max_length=36)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReasonOut(_Out):
    code: str
    text: str


class SuggestionOut(_Out):
    """One suggested offer, with the need it serves and why it fits."""

    rank: int
    offer_id: str
    title: str
    category: str
    need: str
    score: float
    distance_km: float | None
    reasons: list[ReasonOut]


class LocationOut(_Out):
    place: str
    latitude: float
    longitude: float


class NeedOut(_Out):
    """A need as understood; ``derived`` when a regulated profession raised it."""

    text: str
    category: str
    derived: bool = False


class ResolvedOut(_Out):
    location: LocationOut
    needs: list[NeedOut]


class RecommendationOut(_Out):
    """Suggested offers covering every need, waitlist alternatives, and exclusion counts
    (each excluded offer counted under the first rule it fails)."""

    request_id: str
    model_version: str
    resolved: ResolvedOut
    results: list[SuggestionOut]
    waitlist: list[SuggestionOut]
    excluded: dict[str, int]


class RuleOut(_Out):
    code: str
    passed: bool
    text: str


class ExplanationOut(_Out):
    """Every rule for one offer; ``waitlist`` when only capacity fails."""

    offer_id: str
    eligible: bool
    waitlist: bool
    rules: list[RuleOut]


def request_lang() -> str:
    """The text language: "de" when ``Accept-Language`` prefers German, else "en"."""
    return request.accept_languages.best_match(LANGUAGES) or "en"


def _out(rec: Recommendation) -> RecommendationOut:
    return RecommendationOut.model_validate(rec)


@bp.post("")
@operation(
    "Recommend offers for a profile",
    "recommendations",
    body=RecommendationQuery,
    responses={200: RecommendationOut},
    headers={"Accept-Language": "de for German texts (default English)"},
)
@require(*READERS)
def recommend():
    query = parse_body(RecommendationQuery)
    session = request_session()
    centre = current_principal().centre_id
    rec = serve_recommendations(
        session,
        query.profile,
        centre_id=centre,
        k=query.k,
        lang=request_lang(),
        field_prefix=FIELD_PREFIX,
        **serving_options(centre, query.profile.person_ref),
    )
    session.commit()
    return respond(_out(rec))


@bp.post("/explain")
@operation(
    "Explain which rules an offer passes for a profile",
    "recommendations",
    body=ExplainQuery,
    responses={200: ExplanationOut},
    headers={"Accept-Language": "de for German texts (default English)"},
)
@require(*READERS)
def explain_offer():
    query = parse_body(ExplainQuery)
    result: Explanation = explain(
        request_session(),
        query.profile,
        query.offer_id,
        snapshots=snapshot_cache(),
        lang=request_lang(),
        field_prefix=FIELD_PREFIX,
    )
    return respond(ExplanationOut.model_validate(result))
