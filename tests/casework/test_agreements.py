"""Agreements in the domain: the draft → signed → closed lifecycle, steps from suggestions,
the review schedule, late steps, scope, and the audit entries every read and change leaves."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from casework import agreements as ag
from casework.tables import AuditEntry, Referral
from lotse.db import transaction
from lotse.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from lotse.pseudonyms import person_key
from tests.casework.cases import (
    ADMIN,
    ANALYST,
    COUNSELLOR,
    OTHER_CENTRE,
    TODAY,
    draft,
    served_request,
    signed,
    store_offers,
)


@pytest.fixture
def offers(sessions):
    with transaction(sessions) as s:
        return store_offers(s)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 11, 15), 3, date(2028, 2, 15)),
        (date(2027, 5, 31), 12, date(2028, 5, 31)),
    ],
)
def test_add_months_clamps_to_the_month_end(day, months, expected):
    assert ag.add_months(day, months) == expected


def test_steps_from_suggestions_become_referrals_linked_to_the_request(sessions, offers):
    with transaction(sessions) as s:
        a = draft(s, "P-1", [offers["ik"], offers["kita"], offers["iq"]])
        data = ag.describe_agreement(s, a, TODAY)
    assert data["status"] == "draft" and not data["binding"]
    assert data["person_ref"] == "P-1" and data["municipality"] == "Wetzlar"
    assert [st["kind"] for st in data["steps"]] == ["referral"] * 3
    # each referral step serves the goal of its offer's need (language, childcare, recognition)
    assert [st["goal"] for st in data["steps"]] == [0, 1, 2]
    with transaction(sessions) as s:
        refs = s.scalars(select(Referral)).all()
    assert {r.status for r in refs} == {"proposed"}
    assert {r.person_key for r in refs} == {person_key("mbe-wetzlar", "P-1")}
    assert len({r.request_id for r in refs}) == 1 and refs[0].request_id is not None


def test_a_referral_step_needs_consent_and_the_same_person(sessions, offers):
    with transaction(sessions) as s:
        other = served_request(s, "P-2", [offers["ik"]])
    step = {"kind": "referral", "request_id": other, "offer_id": offers["ik"]}
    with pytest.raises(InvalidInput) as info, transaction(sessions) as s:
        ag.create_agreement(s, COUNSELLOR, ag.AgreementIn(person_ref="P-1", steps=[step]))
    assert info.value.errors[0].field == "steps.0.consent"
    with pytest.raises(InvalidInput) as info, transaction(sessions) as s:
        ag.create_agreement(
            s, COUNSELLOR, ag.AgreementIn(person_ref="P-1", steps=[{**step, "consent": True}])
        )
    assert info.value.errors[0].field == "steps.0.request_id"
    with pytest.raises(InvalidInput) as info, transaction(sessions) as s:
        ag.create_agreement(
            s, COUNSELLOR, ag.AgreementIn(person_ref="P-1", steps=[{"kind": "action"}])
        )
    assert {e.field for e in info.value.errors} == {"steps.0.text", "steps.0.responsible"}
    with transaction(sessions) as s:
        assert s.scalars(select(Referral)).all() == []


def test_goal_categories_and_goal_indexes_are_checked(sessions, offers):
    with pytest.raises(Exception, match="did you mean"):
        ag.AgreementIn(person_ref="P-1", goals=[{"category": "languag"}])
    action = {"kind": "action", "text": "Termin", "responsible": "person", "goal": 3}
    with pytest.raises(InvalidInput) as info, transaction(sessions) as s:
        ag.create_agreement(
            s, COUNSELLOR,
            ag.AgreementIn(person_ref="P-1", goals=[{"category": "work"}], steps=[action]),
        )  # fmt: skip
    assert info.value.errors[0].field == "steps.0.goal"


def test_signing_makes_it_binding_and_schedules_the_first_review(sessions, offers):
    with transaction(sessions) as s:
        a = draft(s, "P-1", [offers["ik"]])
        ag.sign_agreement(s, COUNSELLOR, a.id, "counsellor", date(2027, 1, 5), today=TODAY)
        assert a.status == "draft" and a.next_review is None
        with pytest.raises(Conflict):
            ag.sign_agreement(s, COUNSELLOR, a.id, "counsellor", date(2027, 1, 5), today=TODAY)
        ag.sign_agreement(s, COUNSELLOR, a.id, "person", date(2027, 1, 7), today=TODAY)
        assert a.status == "signed" and a.signed_on == date(2027, 1, 7)
        assert a.next_review == date(2027, 4, 7)
        with pytest.raises(Conflict):
            ag.sign_agreement(s, COUNSELLOR, a.id, "person", None, today=TODAY)


def test_signing_needs_goals_and_steps_and_no_future_date(sessions, offers):
    with transaction(sessions) as s:
        a = ag.create_agreement(s, COUNSELLOR, ag.AgreementIn(person_ref="P-9"), today=TODAY)
        with pytest.raises(Conflict, match="at least one goal"):
            ag.sign_agreement(s, COUNSELLOR, a.id, "person", None, today=TODAY)
        with pytest.raises(InvalidInput):
            ag.sign_agreement(s, COUNSELLOR, a.id, "person", date(2027, 6, 2), today=TODAY)


def test_one_open_agreement_per_person(sessions, offers):
    with transaction(sessions) as s:
        draft(s, "P-1", [offers["ik"]])
    with pytest.raises(Conflict, match="already has an open agreement"), transaction(sessions) as s:
        ag.create_agreement(s, COUNSELLOR, ag.AgreementIn(person_ref="P-1"), today=TODAY)


def test_a_signed_agreement_keeps_its_goals_and_steps(sessions, offers):
    with transaction(sessions) as s:
        a = signed(s, "P-1", [offers["ik"]])
        with pytest.raises(Conflict, match="binding"):
            ag.update_agreement(s, COUNSELLOR, a.id, ag.AgreementPatch(goals=[]))
        with pytest.raises(StaleVersion):
            ag.update_agreement(
                s, COUNSELLOR, a.id, ag.AgreementPatch(review_every_months=6), expected_version=1
            )
        ag.update_agreement(s, COUNSELLOR, a.id, ag.AgreementPatch(review_every_months=6))
        assert a.next_review == date(2027, 7, 5)


def test_drafts_change_freely(sessions, offers):
    with transaction(sessions) as s:
        a = draft(s, "P-1", [offers["ik"], offers["kita"]])
        step_ids = [st["id"] for st in ag.describe_agreement(s, a)["steps"]]
        patch = ag.AgreementPatch(
            remove_steps=[step_ids[1]],
            steps=[{"kind": "action", "text": "Zeugnisse übersetzen lassen",
                    "responsible": "person", "due": date(2027, 3, 1), "goal": 2}],
        )  # fmt: skip
        ag.update_agreement(s, COUNSELLOR, a.id, patch, expected_version=a.version)
        steps = ag.describe_agreement(s, a)["steps"]
        assert [st["kind"] for st in steps] == ["referral", "action"]
        with pytest.raises(InvalidInput, match="goal 2"):
            ag.update_agreement(
                s, COUNSELLOR, a.id, ag.AgreementPatch(goals=[{"category": "language"}])
            )


def test_reviews_set_step_statuses_and_move_the_schedule(sessions, offers):
    with transaction(sessions) as s:
        a = signed(s, "P-1", [offers["ik"], offers["kita"]])
        steps = [st["id"] for st in ag.describe_agreement(s, a)["steps"]]
        # a referral step is not done while its referral is still proposed
        early = ag.ReviewIn(date=date(2027, 4, 5), steps=[{"step_id": steps[0], "status": "done"}])
        with pytest.raises(InvalidInput, match="still proposed"), s.begin_nested():
            ag.add_review(s, COUNSELLOR, a.id, early, today=TODAY)
        review = ag.ReviewIn(
            date=date(2027, 4, 5),
            steps=[{"step_id": steps[0], "status": "done"},
                   {"step_id": steps[1], "status": "obstacle"}],
            referrals=[{"step_id": steps[0], "status": "enrolled"}],
            note="gutes Gespräch", successes="Kurs begonnen",
            obstacles=[{"code": "childcare_missing", "step_id": steps[1], "text": "Warteliste"}],
        )  # fmt: skip
        ag.add_review(s, COUNSELLOR, a.id, review, today=TODAY)
        data = ag.describe_agreement(s, a, TODAY)
    assert data["next_review"] == date(2027, 7, 5)
    assert [st["status"] for st in data["steps"]] == ["done", "obstacle"]
    assert data["steps"][0]["referral"]["status"] == "enrolled"
    assert data["reviews"][0]["obstacles"][0]["code"] == "childcare_missing"
    bad = ag.ReviewIn(date=date(2027, 4, 5), steps=[{"step_id": 999, "status": "done"}])
    with pytest.raises(InvalidInput) as info, transaction(sessions) as s:
        ag.add_review(s, COUNSELLOR, a.id, bad, today=TODAY)
    assert info.value.errors[0].field == "steps.0.step_id"
    with pytest.raises(InvalidInput), transaction(sessions) as s:
        ag.add_review(s, COUNSELLOR, a.id, ag.ReviewIn(date=date(2027, 1, 1)), today=TODAY)


def test_drafts_are_not_reviewed_and_closing_needs_every_goal(sessions, offers):
    with transaction(sessions) as s:
        d = draft(s, "P-2", [offers["ik"]])
        with pytest.raises(Conflict):
            ag.add_review(s, COUNSELLOR, d.id, ag.ReviewIn(), today=TODAY)
        with pytest.raises(Conflict):
            ag.close_agreement(s, COUNSELLOR, d.id, ag.CloseIn(outcomes=[]), today=TODAY)
        a = signed(s, "P-1", [offers["ik"]])
        partial = ag.CloseIn(outcomes=[{"goal": 0, "outcome": "reached"}])
        with pytest.raises(InvalidInput, match="missing goal"):
            ag.close_agreement(s, COUNSELLOR, a.id, partial, today=TODAY)
        full = ag.CloseIn(
            date=date(2027, 5, 30),
            outcomes=[{"goal": 0, "outcome": "reached"}, {"goal": 1, "outcome": "partly_reached"},
                      {"goal": 2, "outcome": "not_reached"}],
        )  # fmt: skip
        ag.close_agreement(s, COUNSELLOR, a.id, full, today=TODAY)
        assert a.status == "closed" and a.next_review is None
        data = ag.describe_agreement(s, a, TODAY)
        assert [g["outcome"] for g in data["goals"]] == ["reached", "partly_reached", "not_reached"]
        with pytest.raises(Conflict):
            ag.update_agreement(s, COUNSELLOR, a.id, ag.AgreementPatch(municipality="Gießen"))


def test_listing_shows_due_reviews_and_late_steps(sessions, offers):
    with transaction(sessions) as s:
        due = signed(s, "P-1", [offers["ik"]], on=date(2027, 3, 1))  # review 2027-06-01
        later = signed(s, "P-2", [offers["kita"]], on=date(2027, 5, 20))  # review 2027-08-20
        draft(s, "P-3", [offers["iq"]])
    with transaction(sessions) as s:
        listing = ag.list_agreements(s, COUNSELLOR, today=TODAY)
        assert [i["id"] for i in listing.items][:2] == [due.id, later.id]
        assert len(listing.items) == 3
        assert listing.reviews_due == 1 and listing.reviews_overdue == 0
        # the referral steps were due 2027-02-01 and are still only proposed: late
        assert {st["agreement_id"] for st in listing.overdue_steps} == {due.id, later.id}
        only_due = ag.list_agreements(s, COUNSELLOR, review_due=True, today=date(2027, 6, 2))
        assert [i["id"] for i in only_due.items] == [due.id]
        assert only_due.reviews_overdue == 1
        not_due = ag.list_agreements(s, COUNSELLOR, review_due=False, today=TODAY)
        assert due.id not in [i["id"] for i in not_due.items] and len(not_due.items) == 2
        assert ag.list_agreements(s, OTHER_CENTRE, today=TODAY).items == []
        assert len(ag.list_agreements(s, ADMIN, status="all", today=TODAY).items) == 3
        assert ag.list_agreements(s, COUNSELLOR, status="closed", today=TODAY).items == []


def test_late_step_rules():
    step = ag.AgreementStep(due=date(2027, 5, 1), status="open")
    assert ag.step_overdue(step, None, TODAY)
    assert ag.step_overdue(step, "accepted", TODAY)
    assert not ag.step_overdue(step, "enrolled", TODAY)
    assert not ag.step_overdue(step, None, date(2027, 5, 1))
    step.status = "done"
    assert not ag.step_overdue(step, None, TODAY)


def test_other_centres_and_other_roles_are_refused(sessions, offers):
    with transaction(sessions) as s:
        a = signed(s, "P-1", [offers["ik"]])
    calls = [
        lambda s: ag.get_agreement(s, OTHER_CENTRE, a.id),
        lambda s: ag.update_agreement(s, OTHER_CENTRE, a.id, ag.AgreementPatch()),
        lambda s: ag.add_review(s, OTHER_CENTRE, a.id, ag.ReviewIn(), today=TODAY),
        lambda s: ag.printable_agreement(s, OTHER_CENTRE, a.id),
        lambda s: ag.list_agreements(s, ANALYST),
        lambda s: ag.list_agreements(s, OTHER_CENTRE, centre_id="mbe-wetzlar"),
        lambda s: ag.create_agreement(
            s, OTHER_CENTRE, ag.AgreementIn(person_ref="P-1", centre_id="mbe-wetzlar")
        ),
    ]
    for call in calls:
        with pytest.raises(Forbidden), transaction(sessions) as s:
            call(s)
    with pytest.raises(NotFound), transaction(sessions) as s:
        ag.get_agreement(s, COUNSELLOR, "nope")
    with pytest.raises(InvalidInput, match="centre_id"), transaction(sessions) as s:
        ag.create_agreement(s, ADMIN, ag.AgreementIn(person_ref="P-5"))


def test_every_read_and_change_is_audited_without_personal_details(sessions, offers):
    with transaction(sessions) as s:
        a = signed(s, "P-1", [offers["ik"]])
        ag.get_agreement(s, COUNSELLOR, a.id)
        ag.printable_agreement(s, COUNSELLOR, a.id)
        ag.list_agreements(s, COUNSELLOR, today=TODAY)
    with transaction(sessions) as s:
        every = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    # the referral step is audited by casework.referrals, without an agreement id
    assert [e.action for e in every if e.agreement_id is None] == ["create"]
    entries = [e for e in every if e.agreement_id is not None]
    assert [e.action for e in entries] == ["create", "sign", "sign", "read", "print", "list"]
    assert {e.actor for e in entries} == {"counsellor:mbe-wetzlar"}
    assert {e.agreement_id for e in entries} == {a.id}
    assert {e.person_key for e in entries} == {person_key("mbe-wetzlar", "P-1")}
    for e in entries:
        assert "P-1" not in " ".join(str(v) for v in vars(e).values())


def test_municipality_is_stored_by_its_official_name(sessions, offers):
    """Reports group by municipality: it is a controlled vocabulary, never the text typed."""
    from pydantic import ValidationError

    data = ag.AgreementIn(person_ref="P-1", municipality="Nurnberg")
    assert data.municipality == "Nürnberg"
    assert ag.AgreementIn(person_ref="P-1", municipality="Hamburg-Wilhelmsburg").municipality == (
        "Hamburg"
    )
    with pytest.raises(ValidationError, match="unknown place"):
        ag.AgreementIn(person_ref="P-1", municipality="Frau Yilmaz' Wohnheim, 2. Stock")
    with transaction(sessions) as s:
        a = ag.create_agreement(s, COUNSELLOR, data, today=TODAY)
        ag.update_agreement(s, COUNSELLOR, a.id, ag.AgreementPatch(municipality="Muenchen"))
        assert a.municipality == "München"
        ag.update_agreement(s, COUNSELLOR, a.id, ag.AgreementPatch(municipality=""))
        assert a.municipality is None
    with pytest.raises(ValidationError, match="ambiguous"):
        ag.AgreementPatch(municipality="Neustadt")


def test_municipality_from_the_recommendations_is_the_official_name(sessions, offers):
    with transaction(sessions) as s:
        a = draft(s, "P-1", [offers["ik"]], municipality="Berlin (Tempelhof, Schöneberg)")
        assert a.municipality == "Berlin"
        b = draft(s, "P-2", [offers["ik"]], municipality="Frau Yilmaz' Wohnheim")
        assert b.municipality is None
