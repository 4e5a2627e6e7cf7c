"""Data protection: export of one person (all of theirs, nothing of anyone else's), erasure
(drafts gone, the rest unlinked and stripped of free text, totals unchanged, training rows
kept), the retention purge, and the audit trail of both."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from casework import agreements as ag
from casework import monitoring, privacy, referrals
from casework.tables import Agreement, AgreementReview, AuditEntry, Referral, ReferralEvent
from lotse import settings as lotse_settings
from lotse.accounts import Principal
from lotse.db import transaction
from lotse.errors import Forbidden, InvalidInput
from lotse.pseudonyms import person_key
from lotse.settings import InvalidSettings
from matcher.tables import Impression, RecommendationRequest
from tests.casework.cases import (
    ADMIN,
    ANALYST,
    COUNSELLOR,
    OTHER_CENTRE,
    TODAY,
    draft,
    signed,
    store_offers,
)

VHS = Principal(role="agency", agency_id="vhs-wetzlar")
OUTCOMES = [{"goal": i, "outcome": "reached"} for i in range(3)]


@pytest.fixture
def offers(sessions):
    with transaction(sessions) as s:
        return store_offers(s)


@pytest.fixture
def population(sessions, offers):
    """P-0 … P-5 with signed agreements; P-0's has a review with free text and a declined
    referral with a note; P-9 has a draft only."""
    with transaction(sessions) as s:
        cases = [signed(s, f"P-{i}", [offers["ik"], offers["kita"]]) for i in range(6)]
        steps = ag.describe_agreement(s, cases[0])["steps"]
        ag.add_review(
            s, COUNSELLOR, cases[0].id,
            ag.ReviewIn(date=date(2027, 4, 5), note="Frau S. wirkt erschöpft",
                        successes="Kurs begonnen",
                        obstacles=[{"code": "health", "text": "Rückenleiden"}],
                        steps=[{"step_id": steps[0]["id"], "status": "obstacle"}]),
            today=TODAY,
        )  # fmt: skip
        referrals.change_status(
            s, COUNSELLOR, steps[1]["referral"]["id"], "declined", "too_far", "wohnt in Aßlar"
        )
        draft(s, "P-9", [offers["iq"]])
    return cases


def test_export_holds_everything_of_one_person_and_nothing_of_another(sessions, population):
    with transaction(sessions) as s:
        data = privacy.export_person(s, COUNSELLOR, "P-0", today=TODAY)
    assert data["person_ref"] == "P-0" and data["centre_id"] == "mbe-wetzlar"
    assert [a["id"] for a in data["agreements"]] == [population[0].id]
    assert data["agreements"][0]["reviews"][0]["note"] == "Frau S. wirkt erschöpft"
    assert len(data["referrals"]) == 2
    assert {e["note"] for r in data["referrals"] for e in r["events"]} == {None, "wohnt in Aßlar"}
    assert len(data["recommendations"]) == 1
    assert len(data["recommendations"][0]["impressions"]) == 2
    assert {e["action"] for e in data["audit"]} >= {"create", "sign", "review", "export"}
    others = {a.id for a in population[1:]}
    text = repr(data)
    assert not any(i in text for i in others) and "P-1" not in text
    with transaction(sessions) as s:
        assert privacy.export_person(s, COUNSELLOR, "nobody")["agreements"] == []
        # another centre's counsellor reaches only their own centre's people of that name
        assert privacy.export_person(s, OTHER_CENTRE, "P-0")["referrals"] == []
        with pytest.raises(Forbidden):
            privacy.export_person(s, OTHER_CENTRE, "P-0", "mbe-wetzlar")
        with pytest.raises(InvalidInput):
            privacy.export_person(s, ADMIN, "P-0")
        assert privacy.export_person(s, ADMIN, "P-0", "mbe-wetzlar")["agreements"]


def test_erasure_unlinks_strips_and_keeps_the_totals(sessions, population):
    key = person_key("mbe-wetzlar", "P-0")
    with transaction(sessions) as s:
        before = monitoring.monitoring_report(s, ANALYST, period="2027-Q1", today=TODAY)
        audited = len(s.scalars(select(AuditEntry).where(AuditEntry.person_key == key)).all())
    with transaction(sessions) as s:
        draft_report = privacy.erase_person(s, COUNSELLOR, "P-9")
        report = privacy.erase_person(s, COUNSELLOR, "P-0")
    assert draft_report.agreements_deleted == 1 and draft_report.referrals_anonymised == 1
    assert report.counts() == {
        "agreements_deleted": 0, "agreements_anonymised": 1, "referrals_anonymised": 2,
        "requests_anonymised": 1, "audit_entries_unlinked": audited,
    }  # fmt: skip
    with transaction(sessions) as s:
        after = monitoring.monitoring_report(s, ANALYST, period="2027-Q1", today=TODAY)
        a = s.get(Agreement, population[0].id)
        assert a.person_ref is None and a.person_key != key and a.anonymised_at is not None
        review = s.scalars(select(AgreementReview)).one()
        assert review.note is None and review.successes is None
        assert review.obstacles == [{"code": "health", "step_id": None, "text": ""}]
        refs = s.scalars(select(Referral).where(Referral.id.in_(
            [st["referral"]["id"] for st in ag.describe_agreement(s, a)["steps"]]))).all()  # fmt: skip
        assert {r.person_key for r in refs} == {a.person_key}  # one stand-in for the person
        notes = s.scalars(select(ReferralEvent.note).where(ReferralEvent.note.is_not(None)))
        assert list(notes) == []
        req = s.scalars(
            select(RecommendationRequest).where(RecommendationRequest.person_key == a.person_key)
        ).one()
        assert set(req.context) <= set(privacy.KEPT_CONTEXT) and "municipality" in req.context
        distances = s.scalars(
            select(Impression.features).where(Impression.request_id == req.request_id)
        )
        assert sorted(f["distance_km"] for f in distances) == [5.0, 5.0]
        assert s.scalar(select(Agreement).where(Agreement.person_key == key)) is None
        assert s.scalar(select(Referral).where(Referral.person_key == key)) is None
        entries = s.scalars(select(AuditEntry).where(AuditEntry.person_key == key)).all()
        assert [e.action for e in entries] == ["erase"]
        # the case is gone from casework
        assert privacy.export_person(s, COUNSELLOR, "P-0")["agreements"] == []
        assert population[0].id not in [
            i["id"] for i in ag.list_agreements(s, COUNSELLOR, status="all").items
        ]
    assert before["groups"] == after["groups"] and before["total"] == after["total"]
    assert after["total"]["agreements_signed"] == 6
    with transaction(sessions) as s:
        again = privacy.erase_person(s, COUNSELLOR, "P-0")
    assert again.agreements_anonymised == 0 and again.referrals_anonymised == 0


def test_erased_recommendations_stay_training_data(sessions, population):
    from casework.outcomes import referral_outcomes
    from models.training import build_training_frame, load_impressions

    with transaction(sessions) as s:
        privacy.erase_person(s, COUNSELLOR, "P-0")
        frame = build_training_frame(load_impressions(s), referral_outcomes(s))
    assert len(frame) == 13  # six people shown two offers each, P-9 shown one
    assert frame["person_key"].nunique() == 7
    assert person_key("mbe-wetzlar", "P-0") not in set(frame["person_key"])


def test_purge_anonymises_closed_agreements_past_retention(sessions, population, monkeypatch):
    with transaction(sessions) as s:
        ag.close_agreement(
            s, COUNSELLOR, population[1].id,
            ag.CloseIn(date=date(2027, 2, 1), outcomes=OUTCOMES), today=TODAY,
        )  # fmt: skip
    later = date(2027, 2, 1) + timedelta(days=31)
    with transaction(sessions) as s:
        dry = privacy.purge_expired(s, "cli", days=30, today=later, dry_run=True)
        assert dry.agreements_anonymised == 1 and dry.referrals_anonymised == 2
        assert s.get(Agreement, population[1].id).anonymised_at is None
        assert privacy.purge_expired(s, "cli", days=31, today=later).agreements_anonymised == 0
        done = privacy.purge_expired(s, "cli", days=30, today=later)
    assert done.agreements_anonymised == 1 and done.requests_anonymised == 1
    with transaction(sessions) as s:
        a = s.get(Agreement, population[1].id)
        assert a.person_ref is None and a.anonymised_at is not None
        purge = s.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).one()
        assert purge.actor == "cli" and purge.agreement_id == a.id and purge.person_key is None
        assert (
            s.scalar(
                select(AuditEntry).where(
                    AuditEntry.agreement_id == a.id, AuditEntry.person_key.is_not(None)
                )
            )
            is None
        )
    monkeypatch.setenv("LOTSE_RETENTION_DAYS", "400")
    lotse_settings.reset()
    assert privacy.retention_days() == 400
    monkeypatch.setenv("LOTSE_RETENTION_DAYS", "")
    lotse_settings.reset()
    assert privacy.retention_days() == 1095
    monkeypatch.setenv("LOTSE_RETENTION_DAYS", "drei Jahre")
    lotse_settings.reset()
    with pytest.raises(InvalidSettings, match="LOTSE_RETENTION_DAYS"):
        privacy.retention_days()


def test_purge_command(runner, app, monkeypatch):
    monkeypatch.setenv("LOTSE_RETENTION_DAYS", "30")
    lotse_settings.reset()
    result = runner.invoke(args=["casework", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would anonymise 0 closed agreement(s) older than 30 days" in result.output
    result = runner.invoke(args=["casework", "purge", "--days", "10"])
    assert result.exit_code == 0 and "anonymised 0" in result.output
    from lotse.cli_support import sessions

    sessions().kw["bind"].dispose()  # the command's engine; close its connections now


def test_persons_commands_for_the_data_protection_officer(runner, app, tmp_path):
    with transaction(app.extensions["lotse"].sessions) as s:
        offers = store_offers(s)
        kept = signed(s, "P-1", [offers["ik"]])
        for ref in ("MBE/2026/017", "..", "-17"):
            signed(s, ref, [offers["ik"]])
    out = tmp_path / "export.json"
    args = ["persons", "export", "MBE/2026/017", "--centre", "mbe-wetzlar", "-o", str(out)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["person_ref"] == "MBE/2026/017" and len(data["agreements"]) == 1
    assert data["agreements"][0]["person_ref"] == "MBE/2026/017"
    assert out.stat().st_mode & 0o777 == 0o600  # personal data: the owner's alone
    result = runner.invoke(args=["persons", "export", "..", "--centre", "mbe-wetzlar"])
    assert result.exit_code == 0 and json.loads(result.stdout)["person_ref"] == ".."

    # erasure asks first; "no" erases nothing
    erase = ["persons", "erase", "MBE/2026/017", "--centre", "mbe-wetzlar"]
    result = runner.invoke(args=erase, input="n\n")
    assert result.exit_code == 1 and "nothing was erased" in result.output.lower()
    result = runner.invoke(args=[*erase, "--yes"])
    assert result.exit_code == 0, result.output
    assert "1 agreement(s) anonymised" in result.output
    result = runner.invoke(
        args=["persons", "erase", "--centre", "mbe-wetzlar", "--yes", "--", "-17"]
    )
    assert result.exit_code == 0 and "1 agreement(s) anonymised" in result.output, result.output
    result = runner.invoke(args=["persons", "export", "MBE/2026/017", "--centre", "mbe-wetzlar"])
    assert json.loads(result.stdout)["agreements"] == []
    with transaction(app.extensions["lotse"].sessions) as s:
        assert s.get(Agreement, kept.id).person_ref == "P-1"  # nobody else
        actions = s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "erase")).all()
        assert set(actions) == {"cli"}
    # refused: an unknown centre, a missing centre, an empty reference
    result = runner.invoke(args=["persons", "export", "P-1", "--centre", "mbe-nowhere"])
    assert result.exit_code == 1 and "unknown centre" in result.output
    assert runner.invoke(args=["persons", "export", "P-1"]).exit_code == 2
    result = runner.invoke(args=["persons", "erase", "  ", "--centre", "mbe-wetzlar", "--yes"])
    assert result.exit_code == 1 and "person_ref" in result.output
    from lotse.cli_support import sessions

    sessions().kw["bind"].dispose()
