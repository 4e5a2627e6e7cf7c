"""The centre's cases: the register, the list's filters, one person's file, the agency's
inbox, and erasure taking the reference with it (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest

from casework import agreements as ag
from casework import cases, privacy, referrals
from casework.origin import origin_of_request
from casework.tables import Case
from lotse.accounts import Principal
from lotse.db import transaction
from lotse.errors import Forbidden, NotFound
from lotse.pseudonyms import person_key
from tests.casework.cases import COUNSELLOR, TODAY, draft, served_request, signed, store_offers

AGENCY = Principal(role="agency", agency_id="vhs-wetzlar")
OTHER_CENTRE = Principal(role="counsellor", centre_id="mbe-hamm")


@pytest.fixture
def offers(sessions):
    with transaction(sessions) as s:
        return store_offers(s)


def test_cases_filter_by_what_needs_the_counsellor(sessions, offers):
    with transaction(sessions) as s:
        signed(s, "P-due", [offers["ik"]], on=date(2027, 1, 5))  # review due by TODAY
        draft(s, "P-draft", [offers["kita"]])
        closed = signed(s, "P-closed", [offers["iq"]], on=date(2027, 1, 5))
        described = ag.describe_agreement(s, closed)
        for step in described["steps"]:
            referrals.change_status(
                s, COUNSELLOR, step["referral"]["id"], "declined", "found_other_offer"
            )
        ag.close_agreement(
            s,
            COUNSELLOR,
            closed.id,
            ag.CloseIn(
                outcomes=[{"goal": g["index"], "outcome": "reached"} for g in described["goals"]]
            ),
            today=TODAY,
        )
        cases.note_case(s, "mbe-wetzlar", "P-intake-only")
    with transaction(sessions) as s:
        listing = cases.list_cases(s, COUNSELLOR, status="all", today=TODAY)
        by_ref = {c.person_ref: c for c in listing.items}
        assert set(by_ref) == {"P-due", "P-draft", "P-closed", "P-intake-only"}
        assert by_ref["P-closed"].state == "closed" and by_ref["P-closed"].closed_on
        assert by_ref["P-due"].review_due and by_ref["P-due"].state == "open"
        assert by_ref["P-intake-only"].state == "open" and by_ref["P-intake-only"].agreements == 0
        assert [
            c.person_ref
            for c in cases.list_cases(s, COUNSELLOR, status="closed", today=TODAY).items
        ] == ["P-closed"]
        assert [
            c.person_ref
            for c in cases.list_cases(s, COUNSELLOR, status="review_due", today=TODAY).items
        ] == ["P-due"]
        assert [
            c.person_ref for c in cases.list_cases(s, COUNSELLOR, q="draft", today=TODAY).items
        ] == ["P-draft"]
        assert listing.counts["closed"] == 1
        # another centre sees none of them
        assert cases.list_cases(s, OTHER_CENTRE, status="all", today=TODAY).items == []
        with pytest.raises(Forbidden):
            cases.list_cases(s, AGENCY)


def test_case_file_gathers_requests_referrals_and_agreements(sessions, offers):
    with transaction(sessions) as s:
        request_id = served_request(s, "P-1", [offers["ik"], offers["kita"]])
        cases.note_case(s, "mbe-wetzlar", "P-1")
        origin = origin_of_request(s, request_id)
        first, created = referrals.refer(s, COUNSELLOR, origin, offers["ik"], True)
        again, created_again = referrals.refer(s, COUNSELLOR, origin, offers["ik"], True)
        assert created and not created_again and again.id == first.id
        referrals.change_status(s, AGENCY, first.id, "accepted")
        signed(s, "P-1", [offers["kita"]])
    with transaction(sessions) as s:
        found = cases.case_file(s, COUNSELLOR, "P-1", today=TODAY)
        mine = {r["id"]: r for r in found["requests"]}  # the agreement's draft asked again
        assert mine[request_id]["referrals"] == 1
        statuses = {r["offer"].id: r["status"] for r in found["referrals"]}
        assert statuses[offers["ik"]] == "accepted"
        history = next(r for r in found["referrals"] if r["id"] == first.id)["events"]
        assert [e.to_status for e in history] == ["proposed", "accepted"]
        assert found["open_agreement"]["status"] == "signed"
        rows = cases.centre_referral_rows(s, COUNSELLOR)
        assert {r["person_ref"] for r in rows} == {"P-1"}
        inbox = cases.agency_inbox(s, AGENCY, offer_id=offers["ik"])
        assert [r["person_ref"] for r in inbox] == ["P-1"]
        assert inbox[0]["shared"]["german_level"] == "A2"
        assert "enrolled" in inbox[0]["next"]
        with pytest.raises(NotFound):
            cases.case_file(s, COUNSELLOR, "P-nobody")
        with pytest.raises(NotFound):  # another centre knows nobody by that reference
            cases.case_file(s, OTHER_CENTRE, "P-1")


def test_erasure_takes_the_case_and_its_reference(sessions, offers):
    with transaction(sessions) as s:
        draft(s, "P-erase", [offers["ik"]])
        key = person_key("mbe-wetzlar", "P-erase")
        assert s.get(Case, ("mbe-wetzlar", key)) is not None  # the agreement opened it
    with transaction(sessions) as s:
        privacy.erase_person(s, COUNSELLOR, "P-erase")
    with transaction(sessions) as s:
        assert s.get(Case, ("mbe-wetzlar", key)) is None
        with pytest.raises(NotFound):
            cases.case_file(s, COUNSELLOR, "P-erase")
