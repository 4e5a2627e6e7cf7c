"""Small hand-made cases for casework tests: offers, served recommendations, agreements.

Recommendation requests are written as rows (as ``matcher.impressions`` would log them), so
these tests need no ranker and no catalogue snapshot.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from casework import agreements as ag
from catalog.store import create_offer
from lotse.accounts import Principal, ensure_centre
from lotse.pseudonyms import person_key
from matcher.tables import Impression, RecommendationRequest
from tests.factories import offer_data

ADMIN = Principal(role="admin", name="test")
COUNSELLOR = Principal(role="counsellor", centre_id="mbe-wetzlar")
OTHER_CENTRE = Principal(role="counsellor", centre_id="mbe-hamm")
ANALYST = Principal(role="analyst", name="test-analyst")
TODAY = date(2027, 6, 1)

OFFERS: dict[str, dict[str, Any]] = {
    "ik": offer_data(external_id="ik"),
    "kita": offer_data(
        external_id="kita", title="Kita Sonnenschein", category="daycare",
        min_german_level=None, max_german_level=None, target_german_level=None,
        min_age=0, max_age=6,
    ),
    "iq": offer_data(
        external_id="iq", title="IQ Anerkennungsberatung", category="recognition_counselling",
        min_german_level=None, max_german_level=None, target_german_level=None,
    ),
    "ik-hamm": offer_data(external_id="ik-hamm", municipality="Hamm", title="Integrationskurs Hamm"),
}  # fmt: skip


def store_offers(session: Session) -> dict[str, str]:
    """The four offers above (agency ``vhs-wetzlar``); returns ``{key: offer id}``."""
    ensure_centre(session, "mbe-wetzlar")
    ensure_centre(session, "mbe-hamm")
    return {k: create_offer(session, ADMIN, "vhs-wetzlar", v).id for k, v in OFFERS.items()}


def served_request(
    session: Session,
    person_ref: str,
    offer_ids: list[str],
    *,
    centre_id: str = "mbe-wetzlar",
    municipality: str = "Wetzlar",
) -> str:
    """A logged recommendation for one person that showed ``offer_ids``; its request_id."""
    request_id = str(uuid.uuid4())
    session.add(
        RecommendationRequest(
            request_id=request_id,
            model_version="rules-v2",
            feature_schema="test",
            catalog_seq=1,
            centre_id=centre_id,
            person_key=person_key(centre_id, person_ref),
            k=len(offer_ids),
            lang="de",
            context={
                "age_band": "27-34",
                "gender": "female",
                "german_level": "A2",
                "residence_status": "recognised_refugee",
                "benefits": ["sgb2"],
                "children": 2,
                "needs": ["language"],
                "municipality": municipality,
                "regulated_profession": "nurse",
            },
        )
    )
    session.flush()
    for i, offer_id in enumerate(offer_ids):
        session.add(
            Impression(
                request_id=request_id,
                offer_id=offer_id,
                need="language",
                shown_in="results",
                position=i + 1,
                score=1.0 - i / 10,
                features={"distance_km": 3.14 + i, "level_fit": 1.0},
            )
        )
    session.flush()
    return request_id  # fmt: skip


def referral_steps(request_id: str, offer_ids: list[str], due: date | None = None) -> list[dict]:
    return [
        {"kind": "referral", "request_id": request_id, "offer_id": o, "consent": True,
         "responsible": "agency", "due": due}
        for o in offer_ids
    ]  # fmt: skip


GOALS = [
    {"category": "language", "priority": 1, "target": "reach B1 by June 2027"},
    {"category": "childcare", "priority": 2, "target": "daycare place for the younger child"},
    {"category": "recognition", "priority": 3, "target": "nursing diploma recognised"},
]


def draft(
    session: Session,
    person_ref: str,
    offer_ids: list[str],
    *,
    actor: Principal = COUNSELLOR,
    municipality: str = "Wetzlar",
    goals: list[dict] | None = None,
    extra_steps: list[dict] | None = None,
    today: date = TODAY,
) -> Any:
    """A draft agreement whose steps are referrals to ``offer_ids`` from one recommendation."""
    request_id = served_request(
        session,
        person_ref,
        offer_ids,
        centre_id=actor.centre_id or "mbe-wetzlar",
        municipality=municipality,
    )
    data = ag.AgreementIn(
        person_ref=person_ref,
        start_date=date(2027, 1, 4),
        goals=GOALS if goals is None else goals,
        steps=[*referral_steps(request_id, offer_ids, date(2027, 2, 1)), *(extra_steps or [])],
    )
    return ag.create_agreement(session, actor, data, today=today)


def signed(
    session: Session,
    person_ref: str,
    offer_ids: list[str],
    *,
    on: date = date(2027, 1, 5),
    **kwargs: Any,
) -> Any:
    """A draft (``draft``) that both sides signed on ``on``."""
    agreement = draft(session, person_ref, offer_ids, **kwargs)
    actor = kwargs.get("actor", COUNSELLOR)
    for party in ("person", "counsellor"):
        ag.sign_agreement(session, actor, agreement.id, party, on, today=TODAY)
    return agreement
