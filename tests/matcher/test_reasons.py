"""Reasons drawn from the outcome history: named only with enough referrals behind them
(a rate of one or two could tell of a single person), and only when the rate is high."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from matcher.features import feature_matrix
from matcher.history import OutcomeEvent, OutcomeHistory
from matcher.reasons import reasons_for
from tests.matcher.catalogue import SCENARIO, resolved, snapshot_of

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
FINISHED = {
    "en": "most who started with this provider finished",
    "de": "die meisten, die bei diesem Träger begonnen haben, haben abgeschlossen",
}


def _reasons(courses: int, ending: str, lang: str = "en") -> list[str]:
    snapshot = snapshot_of(SCENARIO)
    row = 0
    history = OutcomeHistory()
    events = []
    for n in range(courses):
        for i, status in enumerate(("enrolled", ending)):
            events.append(
                OutcomeEvent(
                    2 * n + i + 1,
                    f"r{n}",
                    "another offer of the same provider",
                    str(snapshot.orgs[row]),
                    str(snapshot.areas[row]),
                    status,
                    NOW - timedelta(days=1),
                )
            )
    history.apply(events)
    p = resolved()
    x = feature_matrix(snapshot, np.array([row]), p, history=history, now=NOW)
    return [r.text for r in reasons_for(snapshot, row, p, x[0], lang)]


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_provider_whose_courses_are_mostly_finished_says_so(lang):
    assert FINISHED[lang] in _reasons(8, "completed", lang)


def test_not_from_a_few_courses_nor_from_courses_given_up():
    assert FINISHED["en"] not in _reasons(3, "completed")  # too few to name
    assert FINISHED["en"] not in _reasons(8, "dropped")
