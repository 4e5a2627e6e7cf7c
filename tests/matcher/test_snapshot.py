"""The catalogue snapshot: built once per catalogue version, patched from ``seq``; an agency's
edit is visible to the next request, and a patched snapshot equals a fresh build."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.store import archive_offer, create_offer, patch_offer
from lotse.db import transaction
from lotse.geo import haversine_km
from matcher.engine import explain, recommend
from matcher.history import EventFeed, OutcomeEvent, OutcomeHistory
from matcher.snapshot import COLUMNS, Grid, Snapshot, SnapshotCache, load_offers
from tests.matcher.catalogue import ADMIN, SCENARIO, TODAY, nurse_profile, offer, store_offers


def same_catalogue(a: Snapshot, b: Snapshot) -> None:
    """Both snapshots hold the same live offers with the same values."""
    ra = {str(a.ids[r]): r for r in a.live_rows}
    rb = {str(b.ids[r]): r for r in b.live_rows}
    assert ra.keys() == rb.keys()
    ia = np.array([ra[k] for k in sorted(ra)], dtype=np.int64)
    ib = np.array([rb[k] for k in sorted(rb)], dtype=np.int64)
    for name in COLUMNS:
        np.testing.assert_array_equal(a.cols[name][ia], b.cols[name][ib], err_msg=name)
    assert list(a.titles[ia]) == list(b.titles[ib])
    assert list(a.orgs[ia]) == list(b.orgs[ib]) and list(a.areas[ia]) == list(b.areas[ib])
    wa = [[a.vocabulary.words[t] for t in row] for row in a.tokens[ia]]
    wb = [[b.vocabulary.words[t] for t in row] for row in b.tokens[ib]]
    assert wa == wb
    for code in set(a.language_codes) | set(b.language_codes):
        ca = a.languages[ia][:, a.language_codes.index(code)] if code in a.language_codes else 0
        cb = b.languages[ib][:, b.language_codes.index(code)] if code in b.language_codes else 0
        np.testing.assert_array_equal(np.broadcast_to(ca, len(ia)), np.broadcast_to(cb, len(ib)))


def test_edits_are_visible_to_the_next_request_without_a_rebuild(sessions):
    cache = SnapshotCache()
    with transaction(sessions) as session:
        ids = store_offers(session, SCENARIO)
    with transaction(sessions) as session:
        first = recommend(session, nurse_profile(), snapshots=cache, today=TODAY)
    assert "ik-voll" in {ids_key(ids, s.offer_id) for s in first.waitlist}
    with transaction(sessions) as session:
        patch_offer(session, ADMIN, ids["ik-voll"], {"capacity_free": 3}, None)
        archive_offer(session, ADMIN, ids["kita-wetzlar"], None)
        create_offer(
            session,
            ADMIN,
            "awo",
            offer(
                "kita-neu",
                title="Kita Regenbogen",
                category="daycare",
                min_age=1,
                max_age=6,
                min_german_level=None,
                max_german_level=None,
                target_german_level=None,
                languages=["de", "ku"],
            ),
        )
    with transaction(sessions) as session:
        second = recommend(session, nurse_profile(), snapshots=cache, today=TODAY, k=20)
    shown = {ids_key(ids, s.offer_id) for s in second.results}
    assert "ik-voll" in shown and "kita-wetzlar" not in shown
    assert "Kita Regenbogen" in {s.title for s in second.results}
    assert second.waitlist == []
    assert cache.full_builds == 1 and cache.patches == 1
    with transaction(sessions) as session:
        fresh = Snapshot.from_records(load_offers(session), cache.peek().seq)
        archived = explain(
            session, nurse_profile(), ids["kita-wetzlar"], snapshots=cache, today=TODAY
        )
        assert {r.code: r.passed for r in archived.rules}["active"] is False
        assert "withdrawn" in {r.code: r.text for r in archived.rules}["active"]
    same_catalogue(cache.peek(), fresh)


def ids_key(ids: dict[str, str], offer_id: str) -> str:
    return next((k for k, v in ids.items() if v == offer_id), offer_id)


def test_unchanged_catalogue_reuses_the_snapshot(sessions):
    cache = SnapshotCache()
    with transaction(sessions) as session:
        store_offers(session, {"a": SCENARIO["ik-wetzlar"]})
    with transaction(sessions) as session:
        a = cache.current(session)
        b = cache.current(session)
    assert a is b and cache.full_builds == 1 and cache.patches == 0


def test_patch_equals_rebuild_after_many_edits():
    base = [{**o, "id": k} for k, o in SCENARIO.items()]
    snap = Snapshot.from_records(base, seq=1)
    changed = [
        {
            **SCENARIO["ik-wetzlar"],
            "id": "ik-wetzlar",
            "title": "Neuer Titel Pflege",
            "languages": ["de", "uk"],
            "days": ["sat"],
        },
        {**SCENARIO["kita-wetzlar"], "id": "kita-wetzlar", "archived": True},
        {**SCENARIO["ik-hamburg"], "id": "new-1", "capacity_free": 0},
        {**SCENARIO["ik-hamburg"], "id": "ghost", "archived": True},
    ]
    patched = snap.patched(changed, seq=2)
    current = [o for o in base if o["id"] != "kita-wetzlar"]
    current = [changed[0] if o["id"] == "ik-wetzlar" else o for o in current] + [changed[2]]
    same_catalogue(patched, Snapshot.from_records(current, seq=2))
    assert "kita-wetzlar" not in patched.row_of and patched.seq == 2
    # the original snapshot is untouched
    assert snap.titles[snap.row_of["ik-wetzlar"]] == SCENARIO["ik-wetzlar"]["title"]
    assert snap.alive.all()


def test_a_patch_keeps_the_history_positions_of_unchanged_rows():
    """The outcome history's key positions found for a snapshot's rows carry over to its
    patched successor, except for changed rows (their organisation may be another now) and
    new ones; what a request then reads equals a lookup from scratch."""
    base = [{**o, "id": k} for k, o in SCENARIO.items()]
    snap = Snapshot.from_records(base, seq=1)
    history = OutcomeHistory()
    history.rows_index(snap, snap.live_rows)
    found = snap.__dict__["_history_rows"][id(history)]
    moved = {**SCENARIO["ik-wetzlar"], "id": "ik-wetzlar", "organization": "Neuer Träger e.V."}
    added = {**SCENARIO["kita-wetzlar"], "id": "kita-neu"}
    patched = snap.patched([moved, added], seq=2)
    kept = patched.__dict__["_history_rows"][id(history)]
    row, new_row = snap.row_of["ik-wetzlar"], patched.row_of["kita-neu"]
    unchanged = [r for r in snap.live_rows if r != row]
    np.testing.assert_array_equal(kept[unchanged], found[unchanged])
    assert (kept[[row, new_row]] < 0).all()
    live = patched.live_rows
    from_scratch = history.index(
        patched.ids[live].tolist(), patched.orgs[live].tolist(), patched.areas[live].tolist()
    )
    np.testing.assert_array_equal(history.rows_index(patched, live), from_scratch)
    assert from_scratch[list(live).index(row), 1] != found[row, 1]  # the new organisation


def test_a_patch_carries_the_rows_naming_a_profession_and_looks_again_at_changed_ones():
    """``naming_rows`` kept with a snapshot goes on to its patched successor: an offer whose
    title now names the profession, and a new one that does, are found; an offer whose title
    no longer does is not; the rest keep their answer. Equal to asking a fresh build."""
    base = [{**o, "id": k} for k, o in SCENARIO.items()]
    snap = Snapshot.from_records(base, seq=1)
    words = ("pflege",)
    before = snap.naming_rows(words)
    assert before.dtype == bool and len(before) == len(snap.ids)
    naming = next(k for k in SCENARIO if before[snap.row_of[k]])
    other = next(k for k in SCENARIO if not before[snap.row_of[k]] and k != naming)
    edits = [
        {**SCENARIO[other], "id": other, "title": "Pflegehilfe Kurs"},
        {**SCENARIO[naming], "id": naming, "title": "Sprachcafé", "description": None},
        {**SCENARIO["ik-hamburg"], "id": "neu-pflege", "title": "Pflegeassistenz"},
    ]
    patched = snap.patched(edits, seq=2)
    assert "_naming_rows" in patched.__dict__  # carried, not rebuilt on first use
    carried = patched.naming_rows(words)
    assert carried[patched.row_of[other]] and carried[patched.row_of["neu-pflege"]]
    assert not carried[patched.row_of[naming]]
    current = {o["id"]: o for o in base} | {e["id"]: e for e in edits}
    fresh = Snapshot.from_records(list(current.values()), seq=2)
    for key in current:
        assert carried[patched.row_of[key]] == fresh.naming_rows(words)[fresh.row_of[key]], key
    assert snap.naming_rows(words) is before  # the old snapshot is untouched


def test_a_built_or_patched_snapshot_comes_with_every_offers_history_position(sessions):
    """The cache finds every live offer's place in the outcome history before it hands the
    snapshot out, so no request pays for looking up thousands of keys (a worker's first
    requests used to); after a patch the changed and new rows are found as well."""
    cache = SnapshotCache()
    with transaction(sessions) as session:
        store_offers(session, SCENARIO)
        snap = cache.current(session)
    known = snap.__dict__["_history_rows"][id(cache.history)]
    assert (known[snap.live_rows] >= 0).all()
    with transaction(sessions) as session:
        create_offer(session, ADMIN, "awo", offer("neu"))
    with transaction(sessions) as session:
        patched = cache.current(session)
    assert patched is not snap and cache.patches == 1
    known = patched.__dict__["_history_rows"][id(cache.history)]
    assert (known[patched.live_rows] >= 0).all()


def test_many_archivals_compact_the_arrays():
    base = [{**offer(f"o{i}"), "id": f"o{i}"} for i in range(10)]
    snap = Snapshot.from_records(base, seq=1)
    patched = snap.patched([{**base[i], "archived": True} for i in range(4)], seq=2)
    assert len(patched) == 6 and patched.alive.all()
    assert sorted(patched.row_of) == [f"o{i}" for i in range(4, 10)]


def test_concurrent_requests_share_one_build(sessions):
    cache = SnapshotCache()
    with transaction(sessions) as session:
        store_offers(session, SCENARIO)
    seen = []

    def work():
        with transaction(sessions) as session:
            seen.append(cache.current(session))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.full_builds == 1 and all(s is seen[0] for s in seen)


def _event(i: int, offer_id: str, status: str, at: datetime) -> OutcomeEvent:
    return OutcomeEvent(i, f"ref-{i}", offer_id, "VHS Wetzlar", "language|wetzlar", status, at)


def test_the_history_is_fed_new_events_on_every_use(sessions):
    """Outcomes do not move the catalogue version: the cache still sees them at once."""
    when = datetime(2026, 6, 1, tzinfo=UTC)
    log: list[OutcomeEvent] = []
    reads: list[int] = []

    def events_after(_session, after: int) -> list[OutcomeEvent]:
        reads.append(after)
        return [e for e in log if e.event_id > after]

    feed = EventFeed(
        latest_id=lambda _s: max((e.event_id for e in log), default=0), events_after=events_after
    )
    cache = SnapshotCache(feed, lookback_s=3600, clock=lambda: 0.0)
    with transaction(sessions) as session:
        store_offers(session, {"a": SCENARIO["ik-wetzlar"]})
    with transaction(sessions) as session:
        snap = cache.current(session)
        row = snap.row_of[next(iter(snap.row_of))]
        offer_id = str(snap.ids[row])
        base = cache.history.features([offer_id], ["vhs wetzlar"], ["language|wetzlar"], when)
        log.extend(_event(i + 1, offer_id, "completed", when) for i in range(6))
        cache.current(session)
        after = cache.history.features([offer_id], ["vhs wetzlar"], ["language|wetzlar"], when)
        reads_before = len(reads)
        cache.current(session)  # nothing new: no read of the events
        assert len(reads) == reads_before
    assert after[0, 0] > base[0, 0] + 0.2
    assert cache.full_builds == 1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(47.0, 55.0), st.floats(5.5, 15.5)), min_size=1, max_size=60),
    st.floats(47.0, 55.0),
    st.floats(5.5, 15.5),
    st.floats(0.5, 400),
)
def test_grid_returns_every_offer_within_the_radius(points, lat, lon, radius):
    lats = np.array([p[0] for p in points])
    lons = np.array([p[1] for p in points])
    rows = np.arange(len(points))
    grid = Grid(lats, lons, rows, np.zeros(len(points), dtype=bool))
    found = set(grid.near(lat, lon, radius).tolist())
    within = set(np.flatnonzero(haversine_km(lat, lon, lats, lons) <= radius).tolist())
    assert within <= found
