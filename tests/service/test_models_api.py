"""The ranker lifecycle end to end: simulate a history, train, list, evaluate, promote (and be
refused), serve the new version without a restart in every worker, roll back."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.demo import seed_catalogue
from lotse.db import transaction
from matcher.features import FEATURE_NAMES, FEATURE_SCHEMA
from matcher.scoring import RuleScoreRanker
from models.registry import RankerArtifact, save_version
from models.tables import ModelVersion
from tests.races import race

URL = "/v1/models"
PROFILE = {
    "person_ref": "case-17",
    "age": 34,
    "location": {"place": "Wetzlar"},
    "german_level": "A1",
    "needs": ["Deutschkurs", "Arbeit"],
}


class ReversedRules:
    """A deliberately bad model: the rule score upside down."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        return -RuleScoreRanker().score(X)


@pytest.fixture
def trained(app, runner):
    """A demo catalogue, a simulated history and one trained version ``v1``."""
    with transaction(app.extensions["lotse"].sessions) as session:
        seed_catalogue(session, offers=600, seed=7)
    result = runner.invoke(args=["demo", "simulate", "--people", "500", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "simulated 500 requests" in result.output
    result = runner.invoke(args=["ranker", "train", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "trained v1" in result.output
    return app


def _recommend(client, headers) -> dict:
    resp = client.post("/v1/recommendations", json={"profile": PROFILE}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_only_analysts_and_admins(client, make_token):
    assert client.get(URL).status_code == 401
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    assert client.get(URL, headers=counsellor).status_code == 403
    assert client.post(f"{URL}/v1/promote", json={}, headers=counsellor).status_code == 403
    body = client.get(URL, headers=make_token("analyst")).get_json()
    assert body == {
        "active": None,
        "serving": "rules-v2",
        "challenger": None,
        "serving_error": None,
        "versions": [],
        "promotions": [],
    }


def test_lifecycle(trained, client, runner, make_token, tmp_path):
    analyst = make_token("analyst")
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")

    listed = client.get(URL, headers=analyst).get_json()
    (v1,) = listed["versions"]
    card = v1["card"]
    assert v1["version"] == "v1" and not v1["active"] and listed["serving"] == "rules-v2"
    assert card["features"] == {"names": list(FEATURE_NAMES), "schema_hash": FEATURE_SCHEMA}
    assert card["artifact_sha256"] == v1["sha256"]
    assert card["libraries"]["scikit-learn"] and card["seed"] == 1
    assert card["label_definition"]["labels"]["completed"] == 3
    assert set(card["metrics"]["baselines"]) == {
        "rule_score",
        "popularity",
        "random",
        "logistic_regression",
    }
    assert card["rows"]["train"]["rows"] > 0 and card["split"]["cutoff"]
    assert _recommend(client, counsellor)["model_version"] == "rules-v2"

    result = runner.invoke(args=["ranker", "evaluate", "v1", "--out", str(tmp_path / "r")])
    import traceback

    assert result.exit_code == 0, "".join(traceback.format_exception(*result.exc_info))
    for name in ("report.json", "report.md", "calibration.png", "importance.png"):
        assert (tmp_path / "r" / name).stat().st_size > 100

    resp = client.post(f"{URL}/v1/promote", json={"force": True, "reason": "demo"}, headers=analyst)
    assert resp.status_code == 200, resp.get_json()
    entry = resp.get_json()
    assert (entry["from_version"], entry["to_version"], entry["forced"]) == (None, "v1", True)
    assert entry["comparison"]["active"] == "rules-v2"
    assert entry["actor"].startswith("token:")  # who: the analyst's token
    assert _recommend(client, counsellor)["model_version"] == "v1"

    # another worker process of the same service switches too, without a restart
    from service.app import create_app

    other = create_app(
        {
            "TESTING": True,
            "model_check_seconds": 0,
            "data_dir": trained.extensions["lotse"].settings.data_dir,
            "database_url": trained.extensions["lotse"].settings.database_url,
        }
    )
    try:
        assert _recommend(other.test_client(), counsellor)["model_version"] == "v1"
    finally:
        other.extensions["lotse"].engine.dispose()

    # a worse candidate is refused, with the numbers
    with transaction(trained.extensions["lotse"].sessions) as session:
        bad = RankerArtifact(ReversedRules(), tuple(FEATURE_NAMES), FEATURE_SCHEMA)
        save_version(
            session, trained.extensions["lotse"].settings.data_dir, bad, card, "test", "v1"
        )
    resp = client.post(f"{URL}/v2/promote", json={}, headers=analyst)
    assert resp.status_code == 409 and resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert "force" in problem["detail"] and problem["comparison"]["active"] == "v1"
    cand = problem["comparison"]["candidate_metrics"]["ndcg@10"]
    assert cand < problem["comparison"]["active_metrics"]["ndcg@10"]
    assert _recommend(client, counsellor)["model_version"] == "v1"

    result = runner.invoke(args=["ranker", "rollback", "--reason", "test"])
    assert result.exit_code == 0 and "to the rule score" in result.output, result.output
    assert _recommend(client, counsellor)["model_version"] in ("v1", "rules-v2")
    trained.extensions["lotse_ranking"].active.refresh_now()
    assert _recommend(client, counsellor)["model_version"] == "rules-v2"

    result = runner.invoke(args=["ranker", "list"])
    assert result.exit_code == 0
    assert "v1" in result.output and "v2" in result.output and "rollback" in result.output


def test_unknown_version_is_404(client, make_token):
    resp = client.post(f"{URL}/v9/promote", json={"force": True}, headers=make_token("admin"))
    assert resp.status_code == 404


def test_make_run_bootstraps_a_demo_ranker_once(app):
    from casework.outcomes import record_simulated_referrals, workspace
    from models.lifecycle import ensure_demo_ranker

    lotse = app.extensions["lotse"]
    with transaction(lotse.sessions) as session:
        seed_catalogue(session, offers=600, seed=7)
    ws = workspace(lotse.sessions, lotse.settings.data_dir)
    said: list[str] = []
    first = ensure_demo_ranker(ws, record_simulated_referrals, people=400, seed=2, echo=said.append)
    assert any("simulating" in line for line in said) and any("training" in line for line in said)
    said.clear()
    assert ensure_demo_ranker(ws, record_simulated_referrals, people=400, echo=said.append) == first
    assert said == []  # nothing simulated or trained again


def test_a_version_trained_on_a_window_can_be_compared_and_promoted(trained, runner):
    # the window's dates have no time zone (as typed on the command line): the comparison
    # must read them as UTC, both for the candidate and when that version is the active one
    result = runner.invoke(args=["ranker", "train", "--seed", "2", "--since", "2000-01-01"])
    assert result.exit_code == 0 and "trained v2" in result.output, result.output
    result = runner.invoke(args=["ranker", "promote", "v2", "--force"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["ranker", "train", "--seed", "3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["ranker", "promote", "v3", "--force"])
    assert result.exit_code == 0, result.output


def test_two_promotions_at_once_one_wins_and_the_workers_follow_it(trained, make_token):
    analyst = make_token("analyst")
    lotse = trained.extensions["lotse"]
    with lotse.sessions() as session:
        card = session.get(ModelVersion, "v1").card
    for _ in range(3):
        with transaction(lotse.sessions) as session:
            pair = [
                save_version(
                    session,
                    lotse.settings.data_dir,
                    RankerArtifact(ReversedRules(), tuple(FEATURE_NAMES), FEATURE_SCHEMA),
                    card,
                    "test",
                    "v1",
                ).version
                for _ in range(2)
            ]

        def promote(version):
            def action():
                resp = trained.test_client().post(
                    f"{URL}/{version}/promote", json={"force": True}, headers=analyst
                )
                return resp.status_code, resp.get_json()

            return action

        outcomes = race(*(promote(v) for v in pair))
        assert sorted(status for status, _ in outcomes) == [200, 409], outcomes
        [won] = [body["to_version"] for status, body in outcomes if status == 200]
        [lost] = [body for status, body in outcomes if status == 409]
        assert "changed while this switch was decided" in lost["detail"]
        listed = trained.test_client().get(URL, headers=analyst).get_json()
        assert listed["active"] == won
        assert [v["version"] for v in listed["versions"] if v["status"] == "active"] == [won]
        assert listed["promotions"][0]["to_version"] == won
        trained.extensions["lotse_ranking"].active.refresh_now()
        assert trained.extensions["lotse_ranking"].active.serving == won


@pytest.mark.slow
def test_promotion_on_an_online_comparison(trained, client, make_token):
    """``evidence: online``: the gate decides on the version's online comparison against
    what serves now — 404 before any comparison, 409 while no outcome has matured, 200 once
    the challenger's arm has done better beyond noise; the promotion ends the comparison."""
    from matcher.tables import RecommendationRequest

    analyst, admin = make_token("analyst"), make_token("admin")
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    online = {"evidence": "online", "matured_days": 0}
    resp = client.post(f"{URL}/v1/promote", json=online, headers=analyst)
    assert resp.status_code == 404 and "not been compared online" in resp.get_json()["detail"]

    started = client.post(
        f"{URL}/experiment",
        json={"challenger": "v1", "share": 0.5, "people": 60},
        headers=analyst,
    )
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["planned_people"] == 60
    sessions = trained.extensions["lotse"].sessions
    arms = {"control": 0, "challenger": 0}
    for i in range(80):
        if i == 40:
            # 40 of the 60 planned people are in: the gate cannot tell yet, however good
            # the arms look
            early = client.post(f"{URL}/v1/promote", json=online, headers=analyst)
            assert early.status_code == 409
            assert "40 of its 60 planned people" in early.get_json()["comparison"]["why"]
        rec = client.post(
            "/v1/recommendations",
            json={"profile": {**PROFILE, "person_ref": f"online-{i}"}},
            headers=counsellor,
        ).get_json()
        with sessions() as s:
            arm = s.get(RecommendationRequest, rec["request_id"]).context["arm"]
        arms[arm] += 1
        referral = client.post(
            "/v1/referrals",
            json={
                "request_id": rec["request_id"],
                "offer_id": rec["results"][0]["offer_id"],
                "consent": True,
            },
            headers=counsellor,
        ).get_json()
        # the challenger's people are accepted, the control's decline: beyond noise (no one
        # enrols, so no place fills up and every request keeps its suggestions)
        steps = ["accepted"] if arm == "challenger" else ["declined"]
        for status in steps:
            body = {
                "status": status,
                "reason": "no_longer_interested" if status == "declined" else None,
            }
            patched = client.patch(f"/v1/referrals/{referral['id']}", json=body, headers=admin)
            assert patched.status_code == 200, patched.get_json()
    assert min(arms.values()) >= 20  # the hash split both ways

    # outcomes must be 28 days old by default: nothing has matured, so nothing is shown
    waiting = client.post(f"{URL}/v1/promote", json={"evidence": "online"}, headers=analyst)
    assert waiting.status_code == 409
    assert waiting.get_json()["comparison"]["decision"] == "noise"
    assert "cannot tell yet" in waiting.get_json()["comparison"]["why"]

    resp = client.post(f"{URL}/v1/promote", json=online, headers=analyst)
    assert resp.status_code == 200, resp.get_json()
    comparison = resp.get_json()["comparison"]
    assert comparison["evidence"] == "online comparison" and comparison["decision"] == "promote"
    assert comparison["differences"]["gain"]["one_sided"][0] > 0
    # judged on the 60 planned people, not the 80 served
    experiment = comparison["experiment"]
    assert experiment["planned_people"] == 60 and experiment["people_in"] == 80
    arms_judged = comparison["arms"]
    assert arms_judged["control"]["people"] + arms_judged["challenger"]["people"] == 60
    listed = client.get(URL, headers=analyst).get_json()
    assert listed["active"] == "v1" and listed["challenger"] is None  # comparison ended
    assert client.get(f"{URL}/experiment", headers=analyst).get_json()["running"] is False


@pytest.mark.slow
def test_promotion_on_an_interleaved_comparison(trained, client, make_token):
    """``design: interleave``: everyone covered sees one list of both versions' offers, each
    result's team recorded; referrals credit the team that placed the offer, and the gate
    promotes on the per-request difference once it is beyond noise."""
    from matcher.tables import RecommendationRequest

    analyst, admin = make_token("analyst"), make_token("admin")
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    # many eligible offers, so that the two versions' lists differ beyond their beginning
    BROAD = {**PROFILE, "location": {"place": "Berlin"}, "needs": ["Deutschkurs", "Arbeit"]}
    too_much = {"challenger": "v1", "share": 0.8}
    assert client.post(f"{URL}/experiment", json=too_much, headers=analyst).status_code == 422
    started = client.post(
        f"{URL}/experiment",
        json={"challenger": "v1", "share": 1.0, "design": "interleave", "people": 40},
        headers=analyst,
    )
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["design"] == "interleave"
    sessions = trained.extensions["lotse"].sessions
    credited = 0
    for i in range(40):
        rec = client.post(
            "/v1/recommendations",
            json={"profile": {**BROAD, "person_ref": f"mixed-{i}"}},
            headers=counsellor,
        ).get_json()
        with sessions() as s:
            context = s.get(RecommendationRequest, rec["request_id"]).context
        assert context["arm"] == "interleaved"
        record = context["policy"]["interleaved"]
        teams, shared = record["teams"], record["shared"]
        assert len(teams) == len(rec["results"])
        # the challenger's first own offer (past the beginning both versions share, which
        # counts for neither) is accepted, the control's declined
        own = teams[shared:]
        for team, status in (("challenger", "accepted"), ("control", "declined")):
            if team not in own:
                continue
            offer = rec["results"][shared + own.index(team)]["offer_id"]
            referral = client.post(
                "/v1/referrals",
                json={"request_id": rec["request_id"], "offer_id": offer, "consent": True},
                headers=counsellor,
            ).get_json()
            body = {
                "status": status,
                "reason": "no_longer_interested" if status == "declined" else None,
            }
            patched = client.patch(f"/v1/referrals/{referral['id']}", json=body, headers=admin)
            assert patched.status_code == 200, patched.get_json()
        credited += "challenger" in own
    assert credited >= 30

    report = client.get(f"{URL}/experiment?matured_days=0", headers=analyst).get_json()
    mixed = report["arms"]["interleaved"]
    assert mixed["people"] == 40 and mixed["wins"]["challenger"] >= 30
    assert mixed["wins"]["control"] == 0  # a declined referral gains nothing
    assert mixed["challenger"]["taken_up"] > 0.7 and mixed["control"]["gain"] == 0
    resp = client.post(
        f"{URL}/v1/promote", json={"evidence": "online", "matured_days": 0}, headers=analyst
    )
    assert resp.status_code == 200, resp.get_json()
    comparison = resp.get_json()["comparison"]
    assert comparison["decision"] == "promote" and "interleaved" in comparison["why"]
    assert comparison["experiment"]["design"] == "interleave"


def test_promotion_evidence_must_be_offline_or_online(trained, client, make_token):
    resp = client.post(
        f"{URL}/v1/promote", json={"evidence": "hearsay"}, headers=make_token("analyst")
    )
    assert resp.status_code == 422


@pytest.mark.slow
def test_a_switch_of_the_active_version_ends_a_running_comparison(
    trained, client, runner, make_token
):
    """A comparison's control arm is what serves; when that changes (a promotion of another
    version, a rollback), the comparison ends rather than compare against something else."""
    analyst = make_token("analyst")
    result = runner.invoke(args=["ranker", "train", "--seed", "2"])
    assert result.exit_code == 0 and "trained v2" in result.output, result.output
    started = client.post(
        f"{URL}/experiment", json={"challenger": "v2", "share": 0.3}, headers=analyst
    )
    assert started.status_code == 201
    forced = client.post(f"{URL}/v1/promote", json={"force": True, "reason": "t"}, headers=analyst)
    assert forced.status_code == 200, forced.get_json()
    listed = client.get(URL, headers=analyst).get_json()
    assert listed["active"] == "v1" and listed["challenger"] is None
    assert client.get(f"{URL}/experiment", headers=analyst).get_json()["running"] is False
    # and a rollback likewise
    assert (
        client.post(
            f"{URL}/experiment", json={"challenger": "v2", "share": 0.3}, headers=analyst
        ).status_code
        == 201
    )
    result = runner.invoke(args=["ranker", "rollback", "--reason", "t"])
    assert result.exit_code == 0, result.output
    assert client.get(f"{URL}/experiment", headers=analyst).get_json()["running"] is False


def test_an_upgrade_that_adds_features_keeps_the_history_and_the_serving_model(
    trained, client, make_token
):
    """An installation that logged and trained before features were added (the schema
    ``COMPATIBLE_SCHEMAS`` names): after the upgrade its model still serves, reading its own
    columns, instead of falling back to the rules; and its logged impressions still train a
    model of the new schema, the added features missing, instead of being thrown away."""
    from sqlalchemy import select, update

    from matcher.features import COMPATIBLE_SCHEMAS
    from matcher.tables import Impression, RecommendationRequest

    ((old_hash, old_names),) = COMPATIBLE_SCHEMAS.items()
    added = set(FEATURE_NAMES) - set(old_names)
    assert added and FEATURE_NAMES[: len(old_names)] == old_names
    lotse = trained.extensions["lotse"]
    with transaction(lotse.sessions) as session:
        session.execute(update(RecommendationRequest).values(feature_schema=old_hash))
        for imp in session.scalars(select(Impression)):
            imp.features = {k: v for k, v in (imp.features or {}).items() if k not in added}
        card = session.get(ModelVersion, "v1").card
        old = RankerArtifact(ReversedRules(), tuple(old_names), old_hash)
        version = save_version(session, lotse.settings.data_dir, old, card, "test", "v1").version
    analyst = make_token("analyst")
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    resp = client.post(f"{URL}/{version}/promote", json={"force": True}, headers=analyst)
    assert resp.status_code == 200, resp.get_json()
    assert _recommend(client, counsellor)["model_version"] == version
    assert client.get(URL, headers=analyst).get_json()["serving_error"] is None

    resp = client.post(f"{URL}/train", json={}, headers=analyst)
    assert resp.status_code == 201, resp.get_json()
    trained_card = resp.get_json()["card"]
    assert trained_card["features"]["names"] == list(FEATURE_NAMES)
    assert trained_card["rows"]["train"]["rows"] > 1000  # the earlier schema's impressions
