"""Where a referral comes from: the recommendation request it was made from."""

from __future__ import annotations

from sqlalchemy.orm import Session

from casework.referrals import ReferralOrigin
from lotse.errors import FieldError, InvalidInput
from lotse.i18n import N_
from matcher.tables import RecommendationRequest


def origin_of_request(session: Session, request_id: str) -> ReferralOrigin:
    """The centre and person key of a served recommendation request (422 when unknown, or
    when the request was made without a person reference, since a referral needs a person)."""
    request = session.get(RecommendationRequest, request_id)
    if request is None:
        raise InvalidInput([FieldError("request_id", f"no recommendation request '{request_id}'")])
    if not request.centre_id or not request.person_key:
        raise InvalidInput(
            [
                FieldError(
                    "request_id",
                    N_(
                        "that recommendation was made without a person_ref; ask again with the "
                        "person's pseudonymous reference to refer them"
                    ),
                )
            ]
        )
    return ReferralOrigin(
        request_id=request_id, centre_id=request.centre_id, person_key=request.person_key
    )
