"""Requests of different people at once on one database: a SQLite file in WAL mode (and
PostgreSQL). On SQLite the person export, which ran a query, wrote its audit entry and only
then read the query's rows, could not get the write lock once a recommendation had written
meanwhile (``database is locked``, answered 503). Results are now read whole when a query runs,
and the write lock is taken, with a bounded wait, just before a transaction's first write
(``lotse.db``); requests that only read never take it."""

from __future__ import annotations

import threading

import pytest

from lotse.db import transaction
from tests.matcher.catalogue import SCENARIO, nurse_profile, store_offers

#: Iterations of each loop, about as many as the security review ran.
ITERATIONS = 800


@pytest.fixture
def catalogue(app):
    future = {k: {**v} for k, v in SCENARIO.items()}
    for v in future.values():
        if v.get("end_date"):
            v["end_date"] = "2099-12-31"
        if v.get("start_date"):
            v["start_date"] = "2099-01-04"
    with transaction(app.extensions["lotse"].sessions) as session:
        return store_offers(session, future)


@pytest.mark.slow
def test_an_export_looping_beside_recommendations_never_fails(app, make_token, catalogue):
    counsellor = make_token("counsellor", centre_id="mbe-wetzlar")
    client = app.test_client()
    for _ in range(3):  # the exported person has recommendations: the export reads them
        resp = client.post(
            "/v1/recommendations",
            json={"profile": nurse_profile(person_ref="case-export")},
            headers=counsellor,
        )
        assert resp.status_code == 200
    statuses: dict[str, list[int]] = {"export": [], "recommend": []}
    start = threading.Barrier(2)

    def export() -> None:
        client = app.test_client()
        start.wait()
        for _ in range(ITERATIONS):
            resp = client.get("/v1/persons/case-export/export", headers=counsellor)
            statuses["export"].append(resp.status_code)

    def recommend() -> None:
        client = app.test_client()
        start.wait()
        for i in range(ITERATIONS):
            resp = client.post(
                "/v1/recommendations",
                json={"profile": nurse_profile(person_ref=f"case-{i % 7}")},
                headers=counsellor,
            )
            statuses["recommend"].append(resp.status_code)

    threads = [threading.Thread(target=export), threading.Thread(target=recommend)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads)
    for name, seen in statuses.items():
        failed = {s: seen.count(s) for s in set(seen) if s != 200}
        assert len(seen) == ITERATIONS and not failed, f"{name}: {failed} of {len(seen)}"
