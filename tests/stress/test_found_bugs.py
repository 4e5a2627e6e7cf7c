"""The bugs the stress scripts found, each pinned by a small deterministic test (not slow):

- two writers of one offer that both read version N both got 200 and both wrote N+1 (load);
- two status changes of one referral that both read "proposed" both landed on SQLite, and two
  enrolments took two places (load);
- SQLite handed back naive timestamps, so responses carried date-times without an offset,
  which is no RFC 3339 date-time (schemathesis);
- a line break in ``agency_id`` of the export became a 500 (schemathesis);
- a NUL character reaching PostgreSQL became a 500 (schemathesis, PostgreSQL);
- a worker loaded the active ranker only on its first request, answering the first ones with
  the rule score (load; and corrupt-model: a worker that had never loaded the active version
  could not keep serving it once the pointer moved to a refused artifact);
- PostgreSQL stopped just as a request finished: returning the connection failed in the
  teardown and gunicorn answered a bare HTML 500 (db-restart).
"""

from __future__ import annotations

import gc
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from casework import referrals
from casework.referrals import ReferralOrigin
from catalog import store
from catalog.store import create_offer
from lotse.accounts import Principal, ensure_centre
from lotse.db import make_engine, make_session_factory, transaction
from lotse.errors import Conflict, StaleVersion
from lotse.pseudonyms import person_key
from tests.factories import offer_data

ADMIN = Principal(role="admin", name="test")
COUNSELLOR = Principal(role="counsellor", centre_id="mbe-wetzlar")
ORIGIN = ReferralOrigin(
    request_id=None, centre_id="mbe-wetzlar", person_key=person_key("mbe-wetzlar", "P-001")
)


def test_a_write_racing_a_committed_one_is_refused_not_lost(sessions):
    with transaction(sessions) as s:
        offer_id = create_offer(s, ADMIN, "vhs-wetzlar", offer_data()).id
    late = sessions()
    try:
        read = store.get_offer(late, offer_id)  # read version 1 (held, as a request holds it)
        with transaction(sessions) as s:  # ... someone else writes version 2 meanwhile ...
            store.patch_offer(s, ADMIN, offer_id, {"capacity_free": 3}, 1)
        with pytest.raises(StaleVersion):  # ... and the late write, also from 1, is refused
            store.patch_offer(late, ADMIN, offer_id, {"capacity_free": 4}, read.version)
    finally:
        late.rollback()
        late.close()
    with transaction(sessions) as s:
        offer = store.get_offer(s, offer_id)
        assert (offer.version, offer.capacity_free) == (2, 3)
        assert [c.version for c in store.offer_history(s, offer_id)] == [1, 2]


def test_two_status_changes_from_one_status_cannot_both_land(sqlite_url, monkeypatch):
    # SQLite has no SELECT ... FOR UPDATE: the second change read "proposed" before the
    # first one committed. (On PostgreSQL the row lock serialises them.)
    sessions = make_session_factory(make_engine(sqlite_url))
    with transaction(sessions) as s:
        ensure_centre(s, "mbe-wetzlar")
        offer_id = create_offer(s, ADMIN, "vhs-wetzlar", offer_data(capacity_free=5)).id
    with transaction(sessions) as s:
        rid = referrals.create_referral(s, COUNSELLOR, ORIGIN, offer_id, consent=True).id
    check_reason = referrals._check_reason
    raced = []

    def first_one_commits_meanwhile(status, reason):
        if not raced:
            raced.append(True)
            with transaction(sessions) as other:
                referrals.change_status(other, COUNSELLOR, rid, "enrolled")
        check_reason(status, reason)

    monkeypatch.setattr(referrals, "_check_reason", first_one_commits_meanwhile)
    with pytest.raises(Conflict), transaction(sessions) as s:
        referrals.change_status(s, COUNSELLOR, rid, "enrolled")
    with transaction(sessions) as s:
        events = [(e.from_status, e.to_status) for e in referrals.referral_events(s, rid)]
        assert events == [(None, "proposed"), ("proposed", "enrolled")]
        assert store.get_offer(s, offer_id).capacity_free == 4  # one place taken, not two


def test_timestamps_come_back_in_utc_and_leave_with_an_offset(client, make_token):
    headers = make_token("agency", agency_id="vhs-wetzlar")
    created = client.post("/v1/offers", json=offer_data(), headers=headers).get_json()
    body = client.get(f"/v1/offers/{created['id']}").get_json()
    for name in ("created_at", "last_modified"):
        stamp = datetime.fromisoformat(body[name].replace("Z", "+00:00"))
        assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0
    history = client.get(f"/v1/offers/{created['id']}/history").get_json()
    assert datetime.fromisoformat(history["changes"][0]["at"]).tzinfo is not None


def test_an_export_for_a_malformed_agency_is_refused_not_a_500(client):
    resp = client.get("/v1/offers/export", query_string={"agency_id": "a\nb", "format": "hsds"})
    assert resp.status_code == 422
    assert resp.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "path", ["/v1/offers/a%00b", "/hsds/services/a%00b", "/v1/offers?agency_id=a%00b"]
)
def test_a_nul_character_is_a_client_error_on_every_backend(client, path):
    resp = client.get(path)
    assert resp.status_code in (200, 400, 404), resp.get_json()
    assert resp.status_code != 400 or resp.mimetype == "application/problem+json"


def test_a_worker_warms_up_with_the_active_ranker(app, tmp_path: Path):
    from matcher.features import FEATURE_NAMES, FEATURE_SCHEMA
    from models.ranker import GradientBoostedRanker
    from models.registry import RankerArtifact, save_version, set_active
    from service.server import warm_up

    rng = np.random.default_rng(0)
    X = rng.random((120, len(FEATURE_NAMES)))
    y = (X[:, 0] > 0.5).astype(int) * 2
    estimator = GradientBoostedRanker(max_iter=5, min_samples_leaf=5, random_state=0).fit(X, y)
    artifact = RankerArtifact(
        estimator=estimator, feature_names=tuple(FEATURE_NAMES), schema_hash=FEATURE_SCHEMA
    )
    import sklearn

    card = {"libraries": {"scikit-learn": sklearn.__version__}, "metrics": {"model": {}}}
    with transaction(app.extensions["lotse"].sessions) as s:
        row = save_version(s, tmp_path, artifact, card, "test", None)
        set_active(s, row.version, actor="test", action="promote")
    try:
        warm_up(app)
    finally:
        gc.unfreeze()
    assert app.extensions["lotse_ranking"].active.serving == row.version


def test_a_database_lost_after_the_answer_does_not_turn_it_into_a_500(client, monkeypatch):
    # pg_ctl stop -m fast while a request finished: returning its connection (a rollback)
    # failed in the teardown, and gunicorn answered a bare HTML 500 instead of the response.
    # Only the request's own session fails to close in the teardown: rate limits and the
    # session store use sessions of their own before the answer, which must still work.
    import sys

    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    real_close = Session.close

    def close_fails(self):
        if sys._getframe(1).f_code.co_name == "_close":  # service.db's teardown
            raise OperationalError("ROLLBACK", {}, Exception("terminating connection"))
        real_close(self)

    monkeypatch.setattr(Session, "close", close_fails)
    resp = client.get("/v1/offers?per_page=1")
    assert resp.status_code == 200
