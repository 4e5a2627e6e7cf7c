"""The acceptance scenario on the demo catalogue: the Syrian nurse in Wetzlar gets
sensible offers for all three needs, each with reasons, and explain says why a course in
Hamburg or a C1 course was left out."""

from __future__ import annotations

import pytest

from catalog.demo import generate_catalogue
from matcher.engine import explain_row, rank_offers
from matcher.snapshot import Snapshot
from tests.matcher.catalogue import TODAY, resolved

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> tuple[list[dict], Snapshot]:
    offers = [o for _agency, o in generate_catalogue(10_000, seed=7, today=TODAY)]
    return offers, Snapshot.from_records([{**o, "id": str(i)} for i, o in enumerate(offers)])


def test_syrian_nurse_in_wetzlar_on_the_demo_catalogue(demo):
    _offers, s = demo
    rec = rank_offers(s, resolved())
    assert [s.need for s in rec.results[:3]] == ["language", "childcare", "recognition"]
    for sug in rec.results:
        codes = {r.code for r in sug.reasons}
        assert "distance" in codes or "online" in codes
        assert sug.distance_km is None or sug.distance_km <= 25
    language = [s for s in rec.results if s.need == "language"]
    assert all("level" in {r.code for r in s.reasons} for s in language)
    childcare = [s for s in rec.results if s.need == "childcare"]
    assert all("childcare" in {r.code for r in s.reasons} for s in childcare)


def test_explain_hamburg_and_c1_on_the_demo_catalogue(demo):
    offers, s = demo
    p = resolved()
    hamburg = next(
        i
        for i, o in enumerate(offers)
        if o["municipality"] == "Hamburg" and o["category"] == "integration_course"
    )
    failed = {r.code: r.text for r in explain_row(s, hamburg, p).rules if not r.passed}
    assert "distance" in failed and "beyond the person's 25 km" in failed["distance"]
    c1 = next(
        i
        for i, o in enumerate(offers)
        if o["municipality"] == "Wetzlar" and o["target_german_level"] == "C1"
    )
    failed = {r.code: r.text for r in explain_row(s, c1, p).rules if not r.passed}
    assert "german_level" in failed and "the person's level is A2" in failed["german_level"]
