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
    OfferQuery,
    archive_offer,
    create_offer,
    get_offer,
    jsonable,
    offer_fields,
    offer_history,
    patch_offer,
    search_offers,
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


def test_search_by_fields_that_have_a_value_organization_and_postcode(sessions):
    bare = {"capacity_free": None, "capacity_total": None, "min_german_level": None,
            "max_german_level": None, "target_german_level": None}  # fmt: skip
    with transaction(sessions) as session:
        for ext, changed in (
            ("list", {"genders": ["female"]}),
            ("bool", {"childcare": True, "organization": "AWO"}),
            ("text", {"min_german_level": "A1", "postcode": "35390"}),
            ("number", {"capacity_free": 0}),
        ):
            data = offer_data(**{**bare, "external_id": ext, **changed})
            create_offer(session, ADMIN, "vhs", data)

    def found(**query: Any) -> set[str]:
        with transaction(sessions) as session:
            page = search_offers(session, OfferQuery(**query))
            return {offer.external_id for offer, _distance in page.items}

    assert found(any_field_set=("genders",)) == {"list"}
    assert found(any_field_set=("childcare",)) == {"bool"}
    assert found(any_field_set=("min_german_level",)) == {"text"}
    assert found(any_field_set=("capacity_free",)) == {"number"}  # 0 is a value
    assert found(any_field_set=("genders", "childcare")) == {"list", "bool"}
    assert found(any_field_set=("target_groups", "residence_statuses")) == set()
    assert found(organization="AWO") == {"bool"}
    assert found(postcode="35390") == {"text"}


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


def test_every_offer_streams_what_search_offers_pages(sessions, monkeypatch):
    """``every_offer`` (the HSDS lists' ndjson) gives the offers of every page of
    ``search_offers`` in the same order, for each way a search is ranked (newest first, by
    words in the database, the fuzzy match of a typo, near a place with and without words),
    and scores no more than the search does."""
    from catalog import store

    titles = ["Kita Sonnenschein", "Kita Regenbogen", "Sprachcafé am Dom"]
    titles += [f"Integrationskurs {n}" for n in range(12)]
    with transaction(sessions) as session:
        for n, title in enumerate(titles):
            place = {"latitude": 50.55 + n / 100, "longitude": 8.5} if n % 4 else {}
            create_offer(session, ADMIN, "vhs", offer_data(external_id=f"o{n}", title=title,
                                                           **place))  # fmt: skip
    scored: list[int] = []
    cdist = store.process.cdist

    def counting(queries, choices, **kwargs):
        scored.append(len(choices))
        return cdist(queries, choices, **kwargs)

    monkeypatch.setattr(store.process, "cdist", counting)
    near = {"near": (50.55, 8.5), "radius_km": 20.0}
    for query in (
        {},
        {"q": "Kita Sonnenschein"},
        {"q": "Integrationskurs"},
        {"q": "Sonnenschien"},
        {"q": "Zyxwvut"},
        {**near},
        {**near, "q": "Integrationskurs"},
        {**near, "q": "Integrationskrus"},
    ):
        with sessions() as session:
            paged = []
            for page in range(1, 20):
                found = search_offers(session, OfferQuery(**query, page=page, per_page=4))
                paged += [offer.external_id for offer, _ in found.items]
                if page * 4 >= found.total:
                    break
            assert len(paged) == found.total
            streamed = [o.external_id for o in store.every_offer(session, OfferQuery(**query),
                                                                 batch=3)]  # fmt: skip
        assert streamed == paged, query
    assert scored and max(scored) <= 12, scored  # the typo's candidates, never all 15


def test_max_per_page_raises_the_page_size_limit(sessions):
    with transaction(sessions) as session:
        for n in range(3):
            create_offer(session, ADMIN, "vhs", offer_data(external_id=f"o{n}"))
    with sessions() as session:
        assert search_offers(session, OfferQuery(per_page=500)).per_page == 100
        assert search_offers(session, OfferQuery(per_page=500, max_per_page=1000)).per_page == 500
        found = search_offers(session, OfferQuery(q="Integrationskurs", per_page=2, max_per_page=2))
        assert (found.per_page, len(found.items), found.total) == (2, 2, 3)


def test_texts_in_memory_match_as_offers_do():
    from catalog.store import match_texts

    names = ["Kita Sonnenschein e.V.", "AWO Kreisverband", "Kita Regenbogen", "VHS Wetzlar"]
    assert match_texts("kita", names) == [0, 2]
    assert match_texts("Kita Sonnenschein", names) == [0, 2]  # both words first
    assert match_texts("Sonnenschien", names) == [0]  # a typo: the fuzzy matcher
    assert match_texts("Zyxwvut", names) == []
    assert match_texts("!!", names) == []
