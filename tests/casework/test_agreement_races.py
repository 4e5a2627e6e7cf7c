"""Agreements changed by two people at once: each race is two threads with their own
sessions, released together, on a SQLite file and on PostgreSQL. Whoever loses is told so
(412 for a stale version, 409 when the state moved on); no change is lost and no state is
reached that no order of the two could reach."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from casework import agreements as ag
from casework.tables import Agreement, AgreementReview
from lotse.db import transaction
from lotse.errors import Conflict, StaleVersion
from tests.casework.cases import COUNSELLOR, TODAY, draft, signed, store_offers
from tests.races import ROUNDS, failures, race, successes


@pytest.fixture
def offers(sessions):
    with transaction(sessions) as s:
        return store_offers(s)


def in_session(sessions, work, *args, **kwargs):
    """An action for ``race``: ``work(session, COUNSELLOR, *args, **kwargs)`` in a unit of
    work of its own."""

    def action():
        with transaction(sessions) as session:
            return work(session, COUNSELLOR, *args, today=TODAY, **kwargs)

    return action


def stored(sessions, agreement_id: str) -> tuple[Agreement, int]:
    """The agreement as committed, and how many reviews it has."""
    with transaction(sessions) as s:
        reviews = s.scalar(
            select(func.count())
            .select_from(AgreementReview)
            .where(AgreementReview.agreement_id == agreement_id)
        )
        return s.get(Agreement, agreement_id), reviews


def test_two_changes_from_one_version_one_wins_and_the_other_is_stale(sessions, offers):
    for r in range(ROUNDS):
        with transaction(sessions) as s:
            a = draft(s, f"P-{r}", [offers["ik"]])
        aid, version = a.id, a.version
        outcomes = race(
            *(
                in_session(
                    sessions,
                    ag.update_agreement,
                    aid,
                    ag.AgreementPatch(municipality=place),
                    expected_version=version,
                )
                for place in ("Hamm", "Gießen")
            )
        )
        assert len(successes(outcomes)) == 1, outcomes
        assert [type(e) for e in failures(outcomes)] == [StaleVersion]
        agreement, _ = stored(sessions, aid)
        assert agreement.version == version + 1
        assert agreement.municipality == successes(outcomes)[0].municipality


def test_changes_without_a_version_are_applied_one_after_the_other(sessions, offers):
    for r in range(ROUNDS):
        with transaction(sessions) as s:
            a = draft(s, f"P-{r}", [offers["ik"]])
        aid, version = a.id, a.version
        outcomes = race(
            *(
                in_session(
                    sessions, ag.update_agreement, aid, ag.AgreementPatch(review_every_months=m)
                )
                for m in (2, 6)
            )
        )
        assert all(isinstance(e, Conflict) for e in failures(outcomes)), outcomes
        agreement, _ = stored(sessions, aid)
        # every change that was acknowledged made its own version: none overwrote another
        assert agreement.version == version + len(successes(outcomes))


def test_both_sides_signing_at_once_make_it_binding_once(sessions, offers):
    for r in range(ROUNDS):
        with transaction(sessions) as s:
            a = draft(s, f"P-{r}", [offers["ik"]])
        aid, version = a.id, a.version
        outcomes = race(
            in_session(sessions, ag.sign_agreement, aid, "person", date(2027, 1, 5)),
            in_session(sessions, ag.sign_agreement, aid, "counsellor", date(2027, 1, 7)),
        )
        assert not failures(outcomes), outcomes
        # exactly one signature completed it
        assert sorted(a.status for a in outcomes) == ["draft", "signed"]
        agreement, _ = stored(sessions, aid)
        assert agreement.status == "signed"
        assert (agreement.person_signed_on, agreement.counsellor_signed_on) == (
            date(2027, 1, 5),
            date(2027, 1, 7),
        )
        assert agreement.signed_on == date(2027, 1, 7)
        assert agreement.next_review == date(2027, 4, 7)
        assert agreement.version == version + 2


def test_a_side_signing_twice_at_once_signs_once(sessions, offers):
    for r in range(ROUNDS):
        with transaction(sessions) as s:
            a = draft(s, f"P-{r}", [offers["ik"]])
        aid, version = a.id, a.version
        sign = in_session(sessions, ag.sign_agreement, aid, "person", TODAY)
        outcomes = race(sign, sign)
        assert len(successes(outcomes)) == 1
        assert [type(e) for e in failures(outcomes)] == [Conflict]
        agreement, _ = stored(sessions, aid)
        assert (agreement.status, agreement.version) == ("draft", version + 1)


REVIEW = ag.ReviewIn(date=date(2027, 4, 1), note="halfway")
CLOSE = ag.CloseIn(
    date=date(2027, 4, 2), outcomes=[{"goal": g, "outcome": "reached"} for g in range(3)]
)


def test_a_review_and_a_closing_from_one_version_exactly_one_wins(sessions, offers):
    for r in range(ROUNDS):
        with transaction(sessions) as s:
            a = signed(s, f"P-{r}", [offers["ik"]])
        aid, version = a.id, a.version
        outcomes = race(
            in_session(sessions, ag.add_review, aid, REVIEW, expected_version=version),
            in_session(sessions, ag.close_agreement, aid, CLOSE, expected_version=version),
        )
        assert len(successes(outcomes)) == 1, outcomes
        assert all(isinstance(e, Conflict | StaleVersion) for e in failures(outcomes))
        agreement, reviews = stored(sessions, aid)
        assert agreement.version == version + 1
        if isinstance(outcomes[0], BaseException):  # the closing won
            assert (agreement.status, agreement.next_review, reviews) == ("closed", None, 0)
        else:
            assert (agreement.status, reviews) == ("signed", 1)


def test_a_review_and_a_closing_at_once_never_review_a_closed_agreement(sessions, offers):
    for r in range(ROUNDS):
        with transaction(sessions) as s:
            a = signed(s, f"P-{r}", [offers["ik"]])
        aid, version = a.id, a.version
        outcomes = race(
            in_session(sessions, ag.add_review, aid, REVIEW),
            in_session(sessions, ag.close_agreement, aid, CLOSE),
        )
        assert successes(outcomes), outcomes
        assert all(isinstance(e, Conflict) for e in failures(outcomes)), outcomes
        reviewed, closed = (not isinstance(o, BaseException) for o in outcomes)
        agreement, reviews = stored(sessions, aid)
        # what one order or the other gives: a review is never recorded after the closing
        assert reviews == int(reviewed)
        if closed:
            assert (agreement.status, agreement.next_review) == ("closed", None)
        else:
            assert agreement.status == "signed"
        assert agreement.version == version + len(successes(outcomes))


def test_two_creations_for_one_person_leave_one_open_agreement(sessions, offers):
    for r in range(ROUNDS):
        data = ag.AgreementIn(person_ref=f"P-{r}", goals=[{"category": "language"}])
        create = in_session(sessions, ag.create_agreement, data)
        outcomes = race(create, create)
        assert len(successes(outcomes)) == 1, outcomes
        [lost] = failures(outcomes)
        assert isinstance(lost, Conflict) and "already has an open agreement" in lost.detail
        with transaction(sessions) as s:
            open_ones = s.scalars(
                select(Agreement.id).where(
                    Agreement.person_ref == f"P-{r}", Agreement.status.in_(("draft", "signed"))
                )
            ).all()
        assert open_ones == [a.id for a in successes(outcomes)]
