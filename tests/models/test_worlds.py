"""The zoo's truth and the whole loop in two worlds: in each, driven only through the API,
the learned model is better in the world's truth, the counterfactual estimate says so, and
the gate refuses the ones broken on purpose (small, fast configurations;
``bench/learning_bench.py`` runs the full ones)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from catalog.demo import generate_catalogue
from models.simulation import SimulatedPerson
from models.worlds import (
    KNOWN_OUTCOME_ORDER,
    LearningRun,
    Truth,
    ceiling,
    dcg,
    known_outcomes,
    oracle_ratio,
    people_for,
    world_named,
    zoo,
)

PLACES = 3


def _person(**profile) -> SimulatedPerson:
    base = {
        "person_ref": "p", "age": 30, "gender": "female", "german_level": "A1",
        "location": {"latitude": 50.55, "longitude": 8.5}, "languages": ["ar"],
        "children_ages": [], "benefits": ["none"], "needs": ["integration_course"],
        "availability": {"days": [], "times": []}, "online_ok": False, "max_distance_km": 25,
    }  # fmt: skip
    return SimulatedPerson("p", {**base, **profile}, 0.0, 10.0, False, False)


def _offer(**fields):
    return {"id": "o1", "category": "integration_course", "latitude": 50.55, "longitude": 8.5,
            "organization": "VHS", "languages": ["de"], **fields}  # fmt: skip


def test_every_world_has_an_exact_truth_per_person_and_offer():
    for world in zoo():
        t = world.truth(_person(), _offer(), 0.0)
        assert isinstance(t, Truth) and 0 <= t.take_up <= 1 and 0 <= t.gain <= 7
        assert world.value(_person(), _offer(), 0.0) == pytest.approx(t.take_up * t.gain)
        assert world.attention(1) == 1 and world.attention(5) < world.attention(2)


def test_the_truths_say_what_the_worlds_promise():
    fees = world_named("fees")
    poor, paying = _person(benefits=["sgb2"]), _person(benefits=["none"])
    assert fees.value(poor, _offer(cost_eur=50), 0) < 0.1 * fees.value(poor, _offer(), 0)
    assert fees.value(paying, _offer(cost_eur=50), 0) > 0.5 * fees.value(paying, _offer(), 0)
    lang = world_named("first_language")
    with_support = _offer(languages=["de", "ar"])
    assert lang.value(_person(), with_support, 0) > 3 * lang.value(_person(), _offer(), 0)
    b1 = _person(german_level="B1")
    assert lang.value(b1, with_support, 0) == pytest.approx(lang.value(b1, _offer(), 0))
    cliff = world_named("level_cliff")
    assert cliff.value(_person(), _offer(target_german_level="A2"), 0) > 4 * cliff.value(
        _person(), _offer(target_german_level="B2"), 0
    )
    shift = world_named("quality_shift")
    before = [shift.value(_person(), _offer(organization=f"O{i}"), 0.0) for i in range(20)]
    after = [shift.value(_person(), _offer(organization=f"O{i}"), 0.9) for i in range(20)]
    assert sum(a != b for a, b in zip(before, after, strict=True)) >= 5


def test_the_oracle_ratio_is_one_for_the_best_order_and_less_otherwise():
    values = [0.1, 2.0, 0.5, 1.0, 0.0, 3.0]
    assert oracle_ratio(sorted(values, reverse=True)[:5], values) == pytest.approx(1.0)
    assert oracle_ratio(values[:5], values) < 1.0
    assert oracle_ratio([0, 0], [0, 0, 0]) is None
    assert dcg([1.0, 1.0]) == pytest.approx(1 + 1 / np.log2(3))


def test_the_ceiling_says_what_coverage_costs_and_which_half_of_the_model_errs():
    """Six offers for a person with two needs in the fees world: the cheap ones are worth
    more to a person on benefits, and the one offer of the second need is worth least, so
    coverage costs the truth itself something; a model whose take-up half ignores fees is
    wrong exactly where the truth's take-up half is put in its place."""
    world = world_named("fees")
    person = _person(benefits=["sgb2"], needs=["integration_course", "childcare"])
    offers = [
        _offer(id="free1"),
        _offer(id="free2", latitude=50.56),
        _offer(id="paid1", cost_eur=80),
        _offer(id="paid2", cost_eur=80, latitude=50.56),
        _offer(id="free3", latitude=50.58),
        _offer(id="care", category="daycare", latitude=50.7),
    ]
    need = np.array([0, 0, 0, 0, 0, 1])
    truths = [world.truth(person, o, 0.0) for o in offers]
    true_take_up = np.array([t.take_up for t in truths])
    true_gain = np.array([t.gain for t in truths])
    blind = np.array([1.0, 0.9, 0.95, 0.85, 0.8, 0.1])  # fees unseen: paid ones rank high
    got = ceiling(world, person, offers, need, 2, blind, true_gain, phase=0.0)
    assert got is not None
    value = true_take_up * true_gain
    assert got["best"] == pytest.approx(dcg(sorted(value.tolist(), reverse=True)))
    # the truth under coverage: the daycare offer is forced into the first three places
    assert got["truth"] < got["best"]
    order = [0, 1, 5, 4, 2]
    assert got["truth"] == pytest.approx(dcg(value[order].tolist()))
    assert got["model"] < got["truth"]
    # the take-up half is what errs: the truth's in its place recovers the ceiling
    assert got["true take-up × model outcome"] == pytest.approx(got["truth"])
    assert got["model take-up × true outcome"] == pytest.approx(got["model"])
    assert got["model, needs not covered"] != got["model"]
    nothing = ceiling(world, person, offers, need, 2, np.zeros(6), np.zeros(6), 0.0)
    assert nothing is not None and nothing["best"] > 0
    poor = _person(location={"latitude": 10.0, "longitude": 10.0})
    assert ceiling(world, poor, offers[:1], need[:1], 1, np.ones(1), np.ones(1), 0.0) is None


def test_the_best_known_outcome_is_the_posterior_of_what_the_run_observed():
    """Where an organisation's hidden quality decides completion, what the run's referrals
    tell of it: completions raise the posterior, drops lower it, steps before enrolment
    say nothing, an unseen organisation keeps the prior (0.5); other worlds have none."""
    world = world_named("provider_quality")
    done = [("enrolled", None), ("completed", None)]
    lost = [("enrolled", None), ("dropped", "other")]
    observed = [
        *[("Good", done, 0.1)] * 4,
        *[("Poor", lost, 0.2)] * 4,
        *[("Shy", [("declined", "no_longer_interested")], 0.3)] * 6,
    ]
    known = known_outcomes(world, observed)
    assert known is not None
    assert known("Good") > 0.75 and known("Poor") < 0.25
    assert known("Shy") == pytest.approx(0.5, abs=1e-6) == known("Nobody")
    # one completion says less than four
    assert 0.5 < known_outcomes(world, observed[:1])("Good") < known("Good")
    assert known_outcomes(world_named("fees"), observed) is None
    # the world where half the organisations change sides: a completion before the change
    # tells the opposite of a flipped organisation's quality after it
    shift = world_named("quality_shift")
    flipped = next(f"org{i}" for i in range(100) if shift.hidden(f"flip:org{i}") > 0)
    kept = next(f"org{i}" for i in range(100) if shift.hidden(f"flip:org{i}") <= 0)
    early = known_outcomes(shift, [(flipped, done, 0.2)] * 3 + [(kept, done, 0.2)] * 3)
    assert early is not None and early(flipped) < 0.5 < early(kept)
    # and the ceiling orders by it next to the others
    person = _person()
    offers = [_offer(id="a", organization="Good"), _offer(id="b", organization="Poor")]
    got = ceiling(world, person, offers, np.array([0, 0]), 1, np.ones(2), np.ones(2), 0.0,
                  known=known)  # fmt: skip
    assert got is not None and KNOWN_OUTCOME_ORDER in got
    plain = ceiling(world, person, offers, np.array([0, 0]), 1, np.ones(2), np.ones(2), 0.0)
    assert plain is not None and KNOWN_OUTCOME_ORDER not in plain


def _api(client):
    def api(method, path, body=None, *, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = client.open(path, method=method, json=body, headers=headers)
        return resp.status_code, resp.get_json(silent=True)

    return api


def _catalogue(n: int, seed: int):
    pairs = generate_catalogue(n, seed=seed)
    biggest = {m for m, _ in Counter(o["municipality"] for _, o in pairs).most_common(PLACES)}
    return [(a, o) for a, o in pairs if o["municipality"] in biggest]


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # learning is not a database matter
@pytest.mark.parametrize("world_name", ["fees", "first_language"])
def test_the_learned_model_is_better_in_truth_and_broken_ones_are_refused(
    world_name, app, client, make_token
):
    """At this size (700 people) the offline estimate cannot yet tell the model from the
    rules (docs/benchmarks.md: nor at 1500), so what must hold is: the model is better in the
    world's truth once it serves, the naive metrics on the logs still favour the order that
    served them (why they do not decide), and models broken on purpose are refused."""
    tokens = {
        "admin": make_token("admin")["Authorization"].split()[1],
        "counsellor": make_token("counsellor", centre_id="zoo")["Authorization"].split()[1],
        "analyst": make_token("analyst")["Authorization"].split()[1],
    }
    run = LearningRun(world_named(world_name), _api(client), tokens, seed=0)
    run.import_catalogue(_catalogue(2000, seed=0))
    run.load_catalogue()
    places = run.places()
    people = people_for(places, 700, seed=1)
    run.serve(people, 0, len(people))
    judged = people_for(places, 120, seed=99)
    before = run.judge(judged, phase=1.0)
    version = run.train()
    promoted, answer = run.promote(version["version"])
    comparison = answer["comparison"]
    naive = comparison["candidate_metrics"]["ndcg@5"], comparison["active_metrics"]["ndcg@5"]
    if not promoted:
        run.promote(version["version"], force=True)
    after = run.judge(judged, phase=1.0)
    assert after["ratio"] > before["ratio"]  # better in the world's truth, not just offline
    assert naive[0] < naive[1]  # ... yet the logs' naive NDCG says it is worse
    for control in ("shuffled-labels", "flipped:distance_km"):
        broken = run.train(control)
        ok, reply = run.promote(broken["version"])
        assert not ok and reply["comparison"]["decision"] in ("worse", "noise"), control
