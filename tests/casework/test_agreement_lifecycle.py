"""The agreement lifecycle's tables: every status is covered, every transition starts from
an action its status allows, and every refusal names why (the behaviour through the API is
pinned in test_agreements.py)."""

import pytest

from casework import agreement_lifecycle as lc
from lotse.errors import Conflict


def test_tables_cover_every_status_and_lead_somewhere_allowed():
    assert set(lc.ACTIONS) == set(lc.STATUSES) == set(lc.CHANGES)
    for (status, action), target in lc.NEXT.items():
        assert action in lc.ACTIONS[status]
        assert target in lc.STATUSES
    # nothing leads out of closed, and nothing changes there
    assert not lc.ACTIONS["closed"] and not lc.CHANGES["closed"]


@pytest.mark.parametrize("status", lc.STATUSES)
@pytest.mark.parametrize("action", ["update", "sign", "review", "close"])
def test_every_refused_action_has_its_reason(status, action):
    if action in lc.ACTIONS[status]:
        lc.check_action(status, action)
        return
    with pytest.raises(Conflict) as refused:
        lc.check_action(status, action)
    assert (status, action) in lc.REFUSALS
    assert str(refused.value) == lc.REFUSALS[status, action]


def test_a_signed_agreement_keeps_its_content_but_takes_a_new_schedule():
    lc.check_changes("signed", {"review_every_months", "next_review", "municipality"})
    with pytest.raises(Conflict, match="binding as signed; its goals, start_date cannot"):
        lc.check_changes("signed", {"goals", "start_date", "language"})
    with pytest.raises(Conflict, match="review schedule"):
        lc.check_changes("draft", {"next_review"})
    with pytest.raises(Conflict, match="closed agreement cannot change"):
        lc.check_changes("closed", {"language"})
    lc.check_changes("draft", set(lc.CONTENT | lc.DETAILS))
