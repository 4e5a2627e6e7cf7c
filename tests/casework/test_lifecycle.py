"""The referral lifecycle table, pinned."""

from hypothesis import given
from hypothesis import strategies as st

from casework import lifecycle


def test_final_statuses_have_no_way_out():
    for status in lifecycle.FINAL:
        assert lifecycle.allowed_next(status) == frozenset()


def test_every_status_reachable_from_proposed():
    seen, todo = set(), ["proposed"]
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo.extend(lifecycle.allowed_next(s))
    assert seen == set(lifecycle.STATUSES)


def test_negative_outcomes_need_reasons_and_sides_are_respected():
    assert set(lifecycle.REASONS) == {"declined", "dropped", "rejected_by_provider"}
    assert lifecycle.SET_BY["declined"] == {"counsellor"}
    assert lifecycle.SET_BY["rejected_by_provider"] == {"agency"}


@given(a=st.sampled_from(lifecycle.STATUSES), b=st.sampled_from(lifecycle.STATUSES))
def test_no_going_back_to_proposed_and_no_self_loops(a, b):
    if b == "proposed" or a == b:
        assert not lifecycle.is_legal(a, b)
