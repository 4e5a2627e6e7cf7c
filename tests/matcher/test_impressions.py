"""Every served recommendation is logged: request, offers shown, positions, exact features;
pseudonymous (no raw person reference); erasable per person."""

from __future__ import annotations

import json
import math

from sqlalchemy import func, select

from lotse.accounts import ensure_centre
from lotse.db import transaction
from lotse.pseudonyms import person_key
from matcher.features import FEATURE_NAMES
from matcher.impressions import age_band, erase_person
from matcher.serving import serve_recommendations
from matcher.tables import Impression, RecommendationRequest
from tests.matcher.catalogue import SCENARIO, TODAY, nurse_profile, store_offers


def test_served_recommendation_is_logged_with_exact_features(sessions):
    with transaction(sessions) as session:
        store_offers(session, SCENARIO)
        ensure_centre(session, "mbe-wetzlar")
    with transaction(sessions) as session:
        rec = serve_recommendations(session, nurse_profile(), centre_id="mbe-wetzlar", today=TODAY)
    with transaction(sessions) as session:
        req = session.get(RecommendationRequest, rec.request_id)
        assert req.model_version == "rules-v2" and req.centre_id == "mbe-wetzlar"
        assert req.person_key == person_key("mbe-wetzlar", "case-4711")
        stored = json.dumps(req.context)
        assert "case-4711" not in stored and "Krankenschwester" not in stored
        assert req.context["age_band"] == "27-34" and req.context["needs"] == [
            "language",
            "childcare",
            "recognition",
        ]
        rows = session.scalars(
            select(Impression).order_by(Impression.shown_in, Impression.position)
        ).all()
    shown = [(s, "results") for s in rec.results] + [(s, "waitlist") for s in rec.waitlist]
    assert len(rows) == len(shown)
    by_key = {(r.shown_in, r.position): r for r in rows}
    for sug, where in shown:
        row = by_key[(where, sug.rank)]
        assert row.offer_id == sug.offer_id and row.need == sug.need and row.score == sug.score
        assert set(row.features) == set(FEATURE_NAMES)  # JSONB does not keep key order
        for name, value in zip(FEATURE_NAMES, sug.features, strict=True):
            stored_value = row.features[name]
            assert (stored_value is None and math.isnan(value)) or stored_value == value


def test_erasure_removes_a_persons_requests(sessions):
    with transaction(sessions) as session:
        store_offers(session, SCENARIO)
        ensure_centre(session, "mbe-wetzlar")
    with transaction(sessions) as session:
        serve_recommendations(session, nurse_profile(), centre_id="mbe-wetzlar", today=TODAY)
        serve_recommendations(
            session, nurse_profile(person_ref="other"), centre_id="mbe-wetzlar", today=TODAY
        )
    with transaction(sessions) as session:
        assert erase_person(session, "mbe-wetzlar", "case-4711") == 1
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(RecommendationRequest)) == 1
        keys = set(session.scalars(select(RecommendationRequest.person_key)))
        assert keys == {person_key("mbe-wetzlar", "other")}
        left = session.scalar(select(func.count()).select_from(Impression))
        assert left > 0


def test_age_bands():
    assert [age_band(a) for a in (0, 17, 18, 26, 27, 34, 80)] == [
        "0-17", "0-17", "18-26", "18-26", "27-34", "27-34", "65-120",
    ]  # fmt: skip
