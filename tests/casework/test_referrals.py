"""Referrals in the domain: consent, scope, transitions, reasons, and the last free place."""

from __future__ import annotations

import threading

import pytest

from casework import referrals
from casework.referrals import ReferralOrigin
from catalog.store import create_offer, get_offer
from lotse.accounts import Principal, ensure_centre
from lotse.db import transaction
from lotse.errors import Conflict, Forbidden, InvalidInput
from lotse.pseudonyms import person_key
from tests.factories import offer_data

ADMIN = Principal(role="admin", name="test")
COUNSELLOR = Principal(role="counsellor", centre_id="mbe-wetzlar")
OTHER_CENTRE = Principal(role="counsellor", centre_id="mbe-hamm")
VHS = Principal(role="agency", agency_id="vhs-wetzlar")
OTHER_AGENCY = Principal(role="agency", agency_id="awo-essen")
ORIGIN = ReferralOrigin(
    request_id=None, centre_id="mbe-wetzlar", person_key=person_key("mbe-wetzlar", "P-001")
)


@pytest.fixture
def offer_id(sessions):
    with transaction(sessions) as s:
        ensure_centre(s, "mbe-wetzlar")
        return create_offer(s, ADMIN, "vhs-wetzlar", offer_data(capacity_free=1)).id


def refer(sessions, offer_id, actor=COUNSELLOR, person="P-001"):
    origin = ReferralOrigin(
        request_id=None, centre_id="mbe-wetzlar", person_key=person_key("mbe-wetzlar", person)
    )
    with transaction(sessions) as s:
        return referrals.create_referral(s, actor, origin, offer_id, consent=True).id


def move(sessions, rid, status, actor=COUNSELLOR, reason=None):
    with transaction(sessions) as s:
        return referrals.change_status(s, actor, rid, status, reason).status


def test_consent_is_required(sessions, offer_id):
    with pytest.raises(InvalidInput) as info, transaction(sessions) as s:
        referrals.create_referral(s, COUNSELLOR, ORIGIN, offer_id, consent=False)
    assert info.value.errors[0].field == "consent"


def test_other_centre_cannot_refer_or_read(sessions, offer_id):
    with pytest.raises(Forbidden), transaction(sessions) as s:
        referrals.create_referral(s, OTHER_CENTRE, ORIGIN, offer_id, consent=True)
    rid = refer(sessions, offer_id)
    for actor in (OTHER_CENTRE, OTHER_AGENCY):
        with pytest.raises(Forbidden), transaction(sessions) as s:
            referrals.get_referral(s, actor, rid)


def test_full_path_with_events(sessions, offer_id):
    rid = refer(sessions, offer_id)
    assert move(sessions, rid, "accepted", VHS) == "accepted"
    assert move(sessions, rid, "enrolled", VHS) == "enrolled"
    assert move(sessions, rid, "completed") == "completed"
    with transaction(sessions) as s:
        events = referrals.referral_events(s, rid)
        assert [e.to_status for e in events] == ["proposed", "accepted", "enrolled", "completed"]
        assert events[1].actor == "agency:vhs-wetzlar"
        assert get_offer(s, offer_id).capacity_free == 0


def test_illegal_transition_is_a_conflict(sessions, offer_id):
    rid = refer(sessions, offer_id)
    with pytest.raises(Conflict, match="cannot become 'completed'"):
        move(sessions, rid, "completed")
    move(sessions, rid, "declined", reason="too_far")
    with pytest.raises(Conflict, match="closed"):
        move(sessions, rid, "accepted", VHS)


def test_reasons_from_the_short_list_and_sides(sessions, offer_id):
    rid = refer(sessions, offer_id)
    with pytest.raises(InvalidInput, match="needs a reason"):
        move(sessions, rid, "rejected_by_provider", VHS)
    with pytest.raises(InvalidInput, match="unknown reason"):
        move(sessions, rid, "rejected_by_provider", VHS, reason="dislike")
    with pytest.raises(Forbidden):
        move(sessions, rid, "rejected_by_provider", COUNSELLOR, reason="not_eligible")
    with pytest.raises(Forbidden):
        move(sessions, rid, "declined", VHS, reason="too_far")
    assert (
        move(sessions, rid, "rejected_by_provider", VHS, reason="not_eligible")
        == "rejected_by_provider"
    )


def test_full_offer_cannot_be_enrolled_into(sessions, offer_id):
    first, second = refer(sessions, offer_id), refer(sessions, offer_id, person="P-002")
    move(sessions, first, "enrolled", VHS)
    with pytest.raises(Conflict, match="no free place"):
        move(sessions, second, "enrolled", VHS)
    with transaction(sessions) as s:
        assert referrals.get_referral(s, ADMIN, second).status == "proposed"
        assert get_offer(s, offer_id).capacity_free == 0


def test_two_concurrent_enrolments_take_the_last_place_once(sessions, offer_id):
    ids = [refer(sessions, offer_id, person=f"P-{i}") for i in range(2)]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def enrol(rid: str) -> None:
        barrier.wait()
        try:
            outcomes.append(move(sessions, rid, "enrolled", VHS))
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=enrol, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "enrolled"]
    with transaction(sessions) as s:
        assert get_offer(s, offer_id).capacity_free == 0


def test_a_second_referral_to_the_same_offer_reuses_the_open_one(sessions, offer_id):
    """A double click, or an agreement drafted after a referral, must not refer the person
    twice (nor log two take-ups for training); once the first is closed, a new one may be
    made."""
    with transaction(sessions) as s:
        first, created = referrals.refer(s, COUNSELLOR, ORIGIN, offer_id, True)
        again, created_again = referrals.refer(s, COUNSELLOR, ORIGIN, offer_id, True)
    assert created and not created_again and again.id == first.id
    assert move(sessions, first.id, "declined", reason="other") == "declined"
    with transaction(sessions) as s:
        third, created_third = referrals.refer(s, COUNSELLOR, ORIGIN, offer_id, True)
    assert created_third and third.id != first.id


def test_two_referrals_at_once_make_one(sessions, offer_id):
    from tests.races import ROUNDS, failures, race

    def attempt():
        with transaction(sessions) as s:
            return referrals.create_referral(s, COUNSELLOR, ORIGIN, offer_id, True).id

    for _ in range(ROUNDS):
        outcomes = race(attempt, attempt)
        assert not failures(outcomes), outcomes
        assert len(set(outcomes)) == 1
        move(sessions, outcomes[0], "declined", reason="other")
