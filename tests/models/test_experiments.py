"""Interleaved comparisons: crediting referrals to the team that placed the offer, and the
intervals the gate decides on (right size when the versions are alike, a clear call when not)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.counterfactual import decide
from models.experiments import compare_teams, credit_teams


def _shown(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["request_id", "person_key", "offer_id", "team"])


def _outcomes(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["request_id", "offer_id", "status"])
    return frame.assign(updated_at=pd.Timestamp("2026-12-01", tz="UTC"))


def test_referrals_credit_the_team_that_placed_the_offer():
    shown = _shown(
        [
            ("r1", "p1", "a", "control"),
            ("r1", "p1", "b", "challenger"),
            ("r1", "p1", "c", "challenger"),
            ("r2", "p2", "a", "challenger"),
            ("r2", "p2", "d", "control"),
        ]
    )
    outcomes = _outcomes(
        [
            ("r1", "a", "declined"),  # referred (taken up), gains nothing
            ("r1", "b", "accepted"),
            ("r1", "b", "completed"),  # the same offer again: its best outcome counts
            ("r2", "d", "enrolled"),
            ("r2", "x", "completed"),  # not shown in this request: no team, no credit
            ("r9", "a", "completed"),  # another request altogether
        ]
    )
    credit = credit_teams(shown, outcomes).set_index("person_key")
    assert (
        credit.loc["p1", "taken_up_challenger"] == 1 and credit.loc["p1", "taken_up_control"] == 1
    )
    assert credit.loc["p1", "gain_challenger"] == 7 and credit.loc["p1", "gain_control"] == 0
    assert credit.loc["p1", "success_diff"] == 1
    assert credit.loc["p2", "gain_diff"] == -3 and credit.loc["p2", "taken_up_diff"] == -1
    assert (
        credit["gain_diff"].tolist()
        == (credit["gain_challenger"] - credit["gain_control"]).tolist()
    )


def test_the_shared_beginning_credits_nobody():
    shown = _shown(
        [
            ("r1", "p1", "a", "shared"),
            ("r1", "p1", "b", "challenger"),
            ("r2", "p2", "a", "shared"),
        ]
    )
    outcomes = _outcomes([("r1", "a", "completed"), ("r2", "a", "completed")])
    credit = credit_teams(shown, outcomes).set_index("person_key")
    assert credit["gain_diff"].tolist() == [0.0, 0.0]
    assert credit["gain_challenger"].sum() == credit["gain_control"].sum() == 0


def test_no_referral_at_all_credits_nobody():
    shown = _shown([("r1", "p1", "a", "control"), ("r1", "p1", "b", "challenger")])
    credit = credit_teams(shown, _outcomes([]))
    assert len(credit) == 1 and credit["gain_diff"].tolist() == [0.0]


def simulated_teams(rng: np.random.Generator, people: int, edge: float) -> pd.DataFrame:
    """Interleaved requests of ``people`` people (1–3 each): ten results split between the
    teams by a coin, each referred with 8 % chance — ``edge`` more for the challenger's —
    and ending well or not."""
    rows, outcomes = [], []
    for person in range(people):
        for r in range(int(rng.integers(1, 4))):
            rid = f"{person}-{r}"
            for slot in range(10):
                team = "challenger" if rng.random() < 0.5 else "control"
                offer = f"o{slot}"
                rows.append((rid, f"p{person}", offer, team))
                chance = 0.08 + (edge if team == "challenger" else 0.0)
                if rng.random() < chance:
                    outcomes.append((rid, offer, "completed" if rng.random() < 0.3 else "declined"))
    return credit_teams(_shown(rows), _outcomes(outcomes))


def test_alike_versions_are_rarely_called_different():
    """With no difference in truth, the one-sided 95 % call must come out either way in
    about 5 % of comparisons each: of 120 comparisons about 12 are called (14 with this
    seed); at most 20 are allowed — intervals a third too narrow would call about 30."""
    rng = np.random.default_rng(11)
    calls = []
    for i in range(120):
        report = compare_teams(simulated_teams(rng, 60, 0.0), draws=400, seed=i)
        calls.append(decide(tuple(report["differences"]["gain"]["one_sided"]), "", "x")[0])
    wrong = sum(call != "noise" for call in calls)
    assert wrong <= 20, calls


@pytest.mark.parametrize(("edge", "expected"), [(0.08, "promote"), (-0.06, "worse")])
def test_a_clear_difference_is_called(edge, expected):
    report = compare_teams(simulated_teams(np.random.default_rng(5), 300, edge), seed=1)
    mixed = report["arms"]["interleaved"]
    assert mixed["people"] == 300 and sum(mixed["wins"].values()) == mixed["requests"]
    one_sided = tuple(report["differences"]["taken_up"]["one_sided"])
    assert decide(one_sided, "", "x")[0] == expected


def test_few_people_show_counts_only():
    report = compare_teams(simulated_teams(np.random.default_rng(2), 4, 0.0))
    assert report["differences"] == {}
    assert report["arms"]["interleaved"]["suppressed"].startswith("fewer than")


def test_the_planned_people_are_the_first_served_whatever_comes_later():
    from models.experiments import first_people

    at = pd.Timestamp("2026-12-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "request_id": ["r1", "r2", "r3", "r4", "r5"],
            "person_key": ["b", "a", "c", "b", "d"],
            "served_at": [at, at, at + pd.Timedelta(hours=1), at + pd.Timedelta(days=9), at],
        }
    )
    # first served: a, b and d at the same moment (by key), then c
    assert set(first_people(frame, 2)["person_key"]) == {"a", "b"}
    kept = first_people(frame, 3)
    assert set(kept["person_key"]) == {"a", "b", "d"}
    assert "r4" in set(kept["request_id"])  # a planned person's later requests count
    assert first_people(frame, 10).equals(frame)
    assert first_people(frame.iloc[:0], 3).empty


def test_a_request_that_showed_nothing_still_counts_as_one():
    shown = _shown([("r1", "p1", "a", "challenger"), ("r2", "p2", None, "shared")])
    credit = credit_teams(shown, _outcomes([("r1", "a", "accepted")]))
    assert sorted(credit["person_key"]) == ["p1", "p2"]
    assert credit.set_index("person_key").loc["p2", "gain_diff"] == 0


def test_the_bootstrap_in_chunks_draws_the_same_numbers(monkeypatch):
    """Resampled a few draws at a time (bounded memory for a million people), the totals
    are those of one draws × people matrix."""
    import models.experiments as experiments

    columns = np.random.default_rng(0).integers(0, 5, size=(300, 3)).astype(float)
    whole = experiments.resampled_sums(columns, 50, np.random.default_rng(7))
    monkeypatch.setattr(experiments, "BOOTSTRAP_CELLS", 300 * 3)  # three draws a chunk
    chunked = experiments.resampled_sums(columns, 50, np.random.default_rng(7))
    np.testing.assert_allclose(chunked, whole)
    assert whole.shape == (50, 3)
    # the mean resampled total is the total
    np.testing.assert_allclose(whole.mean(axis=0), columns.sum(axis=0), rtol=0.05)
