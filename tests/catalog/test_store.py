"""Offer history: a creation stores no values, and ``offer_history`` derives them."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from casework.referrals import take_place
from catalog.importing import import_offers
from catalog.schema import OFFER_FIELDS, validate_offer
from catalog.store import (
    archive_offer,
    create_offer,
    get_offer,
    jsonable,
    offer_fields,
    offer_history,
    patch_offer,
)
from catalog.tables import OfferChange
from lotse.accounts import Principal
from lotse.db import transaction
from tests.catalog.test_importing import csv_text
from tests.factories import offer_data

ADMIN = Principal(role="admin", name="test")


def created_values(data: dict[str, Any]) -> dict[str, Any]:
    """What the creation entry must show: every field of the validated offer with a value."""
    values = validate_offer(data).model_dump(mode="json")
    return {name: [None, value] for name, value in values.items() if value is not None}


def replayed(history: list[Any]) -> dict[str, Any]:
    """The values the history leads to, applying each entry's new values from the start."""
    values: dict[str, Any] = dict.fromkeys(OFFER_FIELDS)
    for entry in history:
        for name, (_old, new) in entry.changes.items():
            if name in values:
                values[name] = new
    return values


def test_creation_stores_no_values_and_history_shows_them(sessions):
    data = offer_data(title="Sprachcafé am Dom", capacity_free=2)
    with transaction(sessions) as session:
        offer_id = create_offer(session, ADMIN, "vhs", data).id
        stored = session.scalar(select(OfferChange.changes).where(OfferChange.offer_id == offer_id))
        assert stored == {}
        assert offer_history(session, offer_id)[0].changes == created_values(data)


def test_every_kind_of_change_is_undone_back_to_the_created_values(sessions):
    data = offer_data(external_id="k1", title="Sprachcafé am Dom", capacity_free=2)
    with transaction(sessions) as session:
        offer_id = create_offer(session, ADMIN, "vhs", data).id
    with transaction(sessions) as session:
        patch_offer(
            session, ADMIN, offer_id, {"title": "Sprachcafé im Rathaus", "min_age": None}, 1
        )
    with transaction(sessions) as session:
        take_place(session, ADMIN, offer_id)  # capacity_free 2 → 1
    with transaction(sessions) as session:
        archive_offer(session, ADMIN, offer_id, None)
    changed = {**data, "title": "Sprachcafé im Rathaus", "days": ["sat"], "times": "evening"}
    with transaction(sessions) as session:  # the import brings it back, changed
        report = import_offers(session, ADMIN, "vhs", csv_text([changed]), mode="partial")
        assert report.updated == 1
    with transaction(sessions) as session:
        history = offer_history(session, offer_id)
        assert [(e.version, e.action) for e in history] == [
            (1, "create"), (2, "update"), (3, "enrolment"), (4, "archive"), (5, "import"),
        ]  # fmt: skip
        assert history[0].changes == created_values(data)
        assert history[2].changes == {"capacity_free": [2, 1]}
        offer = get_offer(session, offer_id)
        assert replayed(history) == {n: jsonable(v) for n, v in offer_fields(offer).items()}


_EDITS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "title": st.sampled_from(["Sprachcafé", "Elterncafé am Markt", "Kurs B1 abends"]),
            "capacity_free": st.integers(0, 20) | st.none(),
            "days": st.lists(st.sampled_from(["mon", "tue", "sat"]), unique=True, max_size=3),
            "start_date": st.sampled_from(["2027-02-01", "2027-03-15"]) | st.none(),
            "street": st.sampled_from(["Domplatz 1", "Lahnstraße 8"]) | st.none(),
            "online": st.booleans(),
        },
    ).filter(bool),
    max_size=6,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=_EDITS, archive=st.booleans())
def test_history_leads_from_the_created_values_to_the_current_ones(sessions, edits, archive):
    data = offer_data(external_id=None, capacity_total=20, capacity_free=3)
    with transaction(sessions) as session:
        offer = create_offer(session, ADMIN, "vhs", data)
        for edit in edits:
            patch_offer(session, ADMIN, offer.id, edit, None)
        if archive:
            archive_offer(session, ADMIN, offer.id, None)
        history = offer_history(session, offer.id)
        assert history[0].changes == created_values(data)
        assert replayed(history) == {n: jsonable(v) for n, v in offer_fields(offer).items()}


# --- search ----------------------------------------------------------------------------------


def test_search_never_scores_the_whole_catalogue(sessions, monkeypatch):
    """``q`` is matched in SQL: words found verbatim need no fuzzy scoring at all, and a typo
    is scored only on the few offers that share a piece of the word, not on every offer."""
    from catalog import store

    titles = ["Kita Sonnenschein", "Kita Regenbogen", "Sprachcafé am Dom", "Bewerbungstraining"]
    titles += [f"Integrationskurs {n}" for n in range(40)]
    with transaction(sessions) as session:
        for n, title in enumerate(titles):
            create_offer(session, ADMIN, "vhs", offer_data(external_id=f"o{n}", title=title))
    scored: list[int] = []
    cdist = store.process.cdist

    def counting(queries, choices, **kwargs):
        scored.append(len(choices))
        return cdist(queries, choices, **kwargs)

    monkeypatch.setattr(store.process, "cdist", counting)

    def titles_for(q: str) -> list[str]:
        with sessions() as session:
            page = store.search_offers(session, store.OfferQuery(q=q, per_page=100))
            return [offer.title for offer, _ in page.items]

    assert titles_for("Sonnenschein") == ["Kita Sonnenschein"]
    assert titles_for("sonenschein") == ["Kita Sonnenschein"]  # a letter missing
    assert titles_for("Sonnenschien") == ["Kita Sonnenschein"]  # two swapped
    assert set(titles_for("kita")) == {"Kita Sonnenschein", "Kita Regenbogen"}
    assert len(titles_for("Integrationskurs")) == 40
    assert titles_for("VHS Wetzlar")  # the provider and the place are searched too
    assert titles_for("Zyxwvut") == []
    assert titles_for("Kita Sonnenschein")[0] == "Kita Sonnenschein"  # both words first
    assert scored and max(scored) <= 4, scored  # never the 44 offers of the catalogue
