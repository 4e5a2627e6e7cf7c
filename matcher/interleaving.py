"""Team-draft interleaving: one list made from two rankers' lists, for comparing them online.

Comparing two rankers by letting each serve half of the people (an A/B split) measures
differences between people as much as between rankers: with a referral or less per person
and gains from 0 to 7, a few hundred people per arm cannot tell models apart that differ by a
tenth of a point of gain. Interleaving compares them *within* every request instead
(Radlinski, Kurup & Joachims, "How does clickthrough data reflect retrieval quality?", CIKM
2008): the person sees one list whose places the two rankers fill in turns, and every offer
remembers which ranker (its *team*) put it there. Which team picks first in each round is a
fair coin, so neither ranker is favoured by position; an offer both rankers want goes to
whichever picks it first. What people then take up and how it ends credits the team that
placed it (``models.experiments``).

Where both lists begin alike, the merged list begins so too, whatever the coins say, and
which team owns each of those first places is a coin flip: a referral there says nothing about
which ranker is better and only adds noise. ``shared_prefix`` counts those places, and the
comparison leaves them out (its expectation is unchanged, its variance smaller).

Both input lists are already need-covered (``matcher.engine.cover_needs``); the merged order
is covered again by the engine, because two covered lists can interleave into one that is not.
"""

from __future__ import annotations

import random

#: The two sides of an online comparison: what serves now and the version compared with it.
CONTROL, CHALLENGER = "control", "challenger"
TEAMS = (CONTROL, CHALLENGER)


def team_draft(
    control: list[int], challenger: list[int], rng: random.Random
) -> tuple[list[int], dict[int, str]]:
    """Every item of both lists once, in team-draft order, and the team of each item.

    Each round, the team with fewer picks so far picks next (a fair coin when they have as
    many); a team picks its own best item not yet in the merged list. When one list runs out,
    the other fills the rest."""
    lists = {CONTROL: control, CHALLENGER: challenger}
    cursor = dict.fromkeys(TEAMS, 0)
    picks = dict.fromkeys(TEAMS, 0)
    merged: list[int] = []
    team_of: dict[int, str] = {}
    while True:
        for team in TEAMS:
            items = lists[team]
            while cursor[team] < len(items) and items[cursor[team]] in team_of:
                cursor[team] += 1
        open_teams = [t for t in TEAMS if cursor[t] < len(lists[t])]
        if not open_teams:
            return merged, team_of
        if len(open_teams) == 1:
            team = open_teams[0]
        elif picks[CONTROL] != picks[CHALLENGER]:
            team = min(TEAMS, key=picks.__getitem__)
        else:
            team = CONTROL if rng.random() < 0.5 else CHALLENGER
        item = lists[team][cursor[team]]
        merged.append(item)
        team_of[item] = team
        picks[team] += 1


def shared_prefix(shown: list[int], control: list[int], challenger: list[int]) -> int:
    """How many first places of ``shown`` both rankers put there themselves: the length of
    the common beginning of all three lists."""
    n = 0
    for a, b, c in zip(shown, control, challenger, strict=False):
        if not a == b == c:
            break
        n += 1
    return n
