"""Team-draft interleaving: fair turns, every item once, and the engine's merged lists keep
their guarantees (eligible offers only, every need in the coverage window, teams recorded)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from matcher.engine import coverage_window, explain_row, rank_offers
from matcher.interleaving import CHALLENGER, CONTROL, shared_prefix, team_draft
from matcher.scoring import RuleScoreRanker
from tests.factories import WETZLAR
from tests.matcher.catalogue import SCENARIO, offer, resolved, snapshot_of
from tests.matcher.test_engine import FarthestFirst, RandomRanker


def test_team_draft_takes_turns_and_every_item_once():
    control, challenger = [1, 2, 3, 4, 5], [5, 4, 3, 2, 1]
    merged, team_of = team_draft(control, challenger, random.Random(0))
    assert sorted(merged) == [1, 2, 3, 4, 5] and len(set(merged)) == 5
    # after every second pick the teams have as many picks
    for n in range(2, len(merged) + 1, 2):
        counts = Counter(team_of[i] for i in merged[:n])
        assert counts[CONTROL] == counts[CHALLENGER]
    # a team only ever picks its own best item still free
    free = set(control)
    for item in merged:
        own = control if team_of[item] == CONTROL else challenger
        assert item == next(x for x in own if x in free)
        free.discard(item)


def test_team_draft_first_pick_is_a_fair_coin():
    rng = random.Random(7)
    firsts = Counter(team_draft([1, 2], [2, 1], rng)[1][1] for _ in range(4000))
    # item 1 goes to control when control picks first, else challenger picks 2 first and
    # control then takes 1: item 1 is control's either way
    assert firsts[CONTROL] == 4000
    leads = Counter(team_draft([1, 2], [3, 4], rng)[0][0] for _ in range(4000))
    assert leads[1] / 4000 == pytest.approx(0.5, abs=0.03)


def test_team_draft_with_identical_lists_splits_credit_evenly():
    rng = random.Random(3)
    owned = Counter()
    for _ in range(2000):
        _merged, team_of = team_draft([1, 2, 3, 4], [1, 2, 3, 4], rng)
        owned[team_of[1]] += 1
    assert owned[CONTROL] / 2000 == pytest.approx(0.5, abs=0.04)


def test_team_draft_fills_from_the_longer_list_when_one_runs_out():
    merged, team_of = team_draft([1], [2, 3, 4], random.Random(1))
    assert sorted(merged) == [1, 2, 3, 4]
    assert team_of[1] == CONTROL and {team_of[i] for i in (2, 3, 4)} == {CHALLENGER}


@pytest.mark.parametrize("seed", range(6))
def test_interleaved_lists_keep_the_engines_guarantees(seed):
    s = snapshot_of(SCENARIO)
    p = resolved()
    rec = rank_offers(s, p, rival=FarthestFirst(), rng=random.Random(seed), k=6)
    assert rec.results, "the scenario has eligible offers"
    for sug in rec.results:
        assert explain_row(s, s.row_of[sug.offer_id], p).eligible
        assert sug.propensity is None  # not enumerated for interleaved lists
    window = coverage_window(len(p.needs))
    assert {sug.need for sug in rec.results[:window]} == {n.category for n in p.needs}
    record = rec.policy["interleaved"]
    assert record["control"] == RuleScoreRanker.version and record["challenger"] == "perverse"
    assert len(record["teams"]) == len(rec.results)
    assert set(record["teams"]) <= {CONTROL, CHALLENGER}


def _more_courses() -> dict:
    """The scenario with eight more German courses, 1 to 8 km apart: enough eligible offers
    for two rankers to disagree on which make a short list."""
    lat = WETZLAR[0]
    more = {
        f"ik-{i}": offer(f"ik-{i}", title=f"Integrationskurs {i}", latitude=lat + i / 111.0)
        for i in range(1, 9)
    }
    return {**SCENARIO, **more}


def test_interleaving_shows_offers_of_both_rankers():
    s = snapshot_of(_more_courses())
    p = resolved()
    alone = [x.offer_id for x in rank_offers(s, p, k=6).results]
    rival = [x.offer_id for x in rank_offers(s, p, ranker=FarthestFirst(), k=6).results]
    assert set(alone) != set(rival)
    seen = set()
    for seed in range(20):
        rec = rank_offers(s, p, rival=FarthestFirst(), rng=random.Random(seed), k=6)
        teams = rec.policy["interleaved"]["teams"]
        for sug, team in zip(rec.results, teams, strict=True):
            # an offer only one ranker lists is always that ranker's
            if sug.offer_id in alone and sug.offer_id not in rival:
                assert team == CONTROL
            if sug.offer_id in rival and sug.offer_id not in alone:
                assert team == CHALLENGER
            seen.add(sug.offer_id)
    assert seen & (set(alone) - set(rival)) and seen & (set(rival) - set(alone))


def test_no_rival_no_interleaving_record():
    rec = rank_offers(snapshot_of(SCENARIO), resolved(), ranker=RandomRanker(1))
    assert rec.policy is None


def test_the_common_beginning_is_counted_and_is_a_coin_flip_whatever_the_rest():
    assert shared_prefix([1, 2, 3], [1, 2, 4], [1, 2, 3]) == 2
    assert shared_prefix([2, 1], [1, 2], [1, 2]) == 0  # moved: not what both ranked there
    assert shared_prefix([], [1], [1]) == 0
    rng = random.Random(5)
    owners = Counter()
    for _ in range(3000):
        merged, team_of = team_draft([7, 8, 1, 2], [7, 8, 3, 4], rng)
        assert merged[:2] == [7, 8]  # the common beginning stays in place
        owners[team_of[7], team_of[8]] += 1
    # each of the first two places is either team's, evenly, and never both the same team's
    assert set(owners) == {(CONTROL, CHALLENGER), (CHALLENGER, CONTROL)}
    assert owners[CONTROL, CHALLENGER] / 3000 == pytest.approx(0.5, abs=0.03)


def test_the_same_ranker_twice_shares_the_whole_list():
    s = snapshot_of(SCENARIO)
    rec = rank_offers(s, resolved(), ranker=RandomRanker(4), rival=RandomRanker(4), k=4)
    record = rec.policy["interleaved"]
    assert record["shared"] == len(rec.results) == 4
