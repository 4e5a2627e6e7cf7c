"""The domain's validation messages on German pages: fixed ones by their own catalogue
entry, ones with values by their shape — raised by the domain itself where that is easy, so
a changed wording in the domain breaks this test rather than the page."""

from __future__ import annotations

import re

import pytest

from catalog.schema import validate_offer
from lotse.errors import InvalidInput
from service.web import page_errors

#: English words that must not survive on a German page (field codes aside).
ENGLISH = re.compile(
    r"\b(the|is|are|must|already|used|by|goal|step|only|give|name|one of|these|would|times)\b"
)


def _offer(**fields):
    base = {
        "external_id": "x1", "title": "Deutschkurs", "category": "integration_course",
        "organization": "VHS", "municipality": "Wetzlar", "latitude": 50.55,
        "longitude": 8.5, "status": "active",
    }  # fmt: skip
    return {**base, **fields}


def _domain_messages() -> list[str]:
    out = []
    bad = [
        _offer(min_age=30, max_age=20, capacity_total=2, capacity_free=5),
        _offer(min_german_level="B2", max_german_level="A1"),
        _offer(latitude=10.0),
        _offer(service_area_type="district", service_area="Nirgendwo"),
        _offer(service_area_type="state", service_area="Atlantis"),
        _offer(service_area_type="municipality"),
        _offer(category="kita_zzz"),
    ]
    for data in bad:
        with pytest.raises(InvalidInput) as raised:
            validate_offer(data)
        out += [e.message for e in raised.value.errors]
    return out


SAMPLES = [  # messages with values the pages show, as the domain words them
    "'k-17' is already used by another offer of this agency",
    "'k-17' is already used by row 4 of this file",
    "has a value in column 9, which has no header",
    "every goal needs an outcome; missing goal(s) 1, 2",
    "1 to 100 characters",
    "2026-Q4 is not over yet; the latest quarter to report on is 2026-Q3",
    "there is no goal 3",
    "no step 12 in this agreement",
    "2027-01-01 lies in the future",
    "'declined' needs a reason: too_far, other",
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_validation_messages_read_german_on_german_pages(app):
    messages = _domain_messages() + SAMPLES
    assert len(messages) > 15
    with app.test_request_context("/agency/", headers={"Accept-Language": "de"}):
        shown = {m: page_errors.message(m) for m in messages}
    english = {m: s for m, s in shown.items() if s == m or ENGLISH.search(s)}
    assert not english, english


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_message_nobody_knows_is_shown_as_written(app):
    with app.test_request_context("/agency/", headers={"Accept-Language": "de"}):
        assert page_errors.message("something entirely new") == "something entirely new"


def _gate_messages() -> list[str]:
    """The promotion gate's reasons, offline and online, as the domain words them."""
    from models.counterfactual import gate
    from models.experiments import _online_decision

    out = []
    for lo, hi in ((0.01, 0.05), (-0.05, -0.01), (-0.02, 0.03)):
        diff = {"estimate": (lo + hi) / 2, "ci": [lo, hi], "one_sided": [lo, hi]}
        estimates = {"reference": "v1", "people": 700, "differences": {"v2": {"sndcg@5": diff}}}
        out.append(gate(estimates, "v2")[1])
        arms = {"control": {"people": 40}, "challenger": {"people": 38}}
        report = {
            "control": "v1",
            "matured_days": 28.0,
            "planned_people": 78,
            "people_in": 78,
            "arms": arms,
            "differences": {"gain": diff},
        }
        out.append(_online_decision(report, "v2")[1])
        mixed = {"interleaved": {"requests": 90, "people": 41}}
        interleaved = {**report, "design": "interleave", "arms": mixed}
        out.append(_online_decision(interleaved, "v2")[1])
    planned = {"planned_people": 60, "people_in": 60}
    no_matured = {"note": "no matured requests yet", "differences": {}, **planned}
    out.append(_online_decision(no_matured, "v2")[1])
    out.append(_online_decision({"control": "v1", "differences": {}, **planned}, "v2")[1])
    out.append(_online_decision({"planned_people": 60, "people_in": 12}, "v2")[1])
    out.append(_online_decision({"planned_people": None}, "v2")[1])
    out.append(f"v2 not promoted: {out[0]}; promote with force to override")
    noise = next(m for m in out if m.startswith("not distinguishable") and "4 times" in m)
    out.append(f"v2 not promoted: {noise}; promote with force to override")
    out += [
        "an online comparison is already running (v3); stop it first",
        "v1 is the active version; compare another one",
        "no online comparison is running",
    ]
    return out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_gates_reasons_read_german_on_german_pages(app):
    messages = _gate_messages()
    with app.test_request_context("/analyst/", headers={"Accept-Language": "de"}):
        shown = {m: page_errors.message(m) for m in messages}
    english = {m: s for m, s in shown.items() if s == m or ENGLISH.search(s)}
    assert not english, english
    assert any("einseitig" in s for s in shown.values())
    assert sum("gemischten Listen" in s for s in shown.values()) == 3
    assert any("12 der 60 geplanten Personen" in s for s in shown.values())
    # "not distinguishable" says, offline and online alike, what the data could have shown
    assert sum("in 4 von 5 Fällen" in s for s in shown.values()) == 4
