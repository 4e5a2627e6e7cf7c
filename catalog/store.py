"""Reading and writing offers: create, replace, patch, archive, history, search.

Every write checks that the actor may act for the offer's agency, bumps the offer's
``version`` (optimistic locking through ``If-Match``), stamps the catalogue sequence and
appends a history entry listing each changed field with its old and new value. Nothing is
hard-deleted: ``archive_offer`` hides an offer and keeps its history.

A creation's history entry stores no values (``{}``): an offer's first version is its
current values with every later change undone, which ``offer_history`` does when it reads the
history. Storing them would keep a second copy of the catalogue in the history table and
slow every bulk import (``docs/benchmarks.md``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    desc,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from catalog import taxonomy
from catalog.schema import LIST_FIELDS, OFFER_FIELDS, OfferIn, validate_offer
from catalog.tables import CatalogState, Offer, OfferChange
from lotse.accounts import Principal, User, ensure_agency
from lotse.db import utcnow
from lotse.errors import FieldError, Forbidden, InvalidInput, NotFound, StaleVersion
from lotse.geo import box_degrees, haversine_km
from lotse.i18n import N_

MAX_PER_PAGE = 100
#: The least ``text_scores`` value that counts as a match of a search text.
SEARCH_CUTOFF = 75


def next_seq(session: Session) -> int:
    """Take the catalogue's next sequence number inside the caller's transaction."""
    seq = session.scalar(
        update(CatalogState)
        .where(CatalogState.id == 1)
        .values(seq=CatalogState.seq + 1)
        .returning(CatalogState.seq)
    )
    if seq is None:  # a database created without the migration's seed row
        session.add(CatalogState(id=1, seq=1))
        session.flush()
        seq = 1
    return int(seq)


#: Read on every recommendation, so as plain SQL: the ORM statement costs far more than the read.
_CURRENT_SEQ = f"SELECT seq FROM {CatalogState.__tablename__} WHERE id = 1"


def current_seq(session: Session) -> int:
    """The catalogue's version: it changes whenever any offer changes."""
    return int(session.connection().exec_driver_sql(_CURRENT_SEQ).scalar() or 0)


def jsonable(value: Any) -> Any:
    """A value as it appears in history and exports (dates as ISO strings)."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return list(value)
    return value


def offer_fields(offer: Offer) -> dict[str, Any]:
    """The agency-written fields of a stored offer, in contract order."""
    return {name: getattr(offer, name) for name in OFFER_FIELDS}


def offer_as_dict(offer: Offer) -> dict[str, Any]:
    """A stored offer with its server-set fields, as the API returns it."""
    out: dict[str, Any] = {"id": offer.id, "agency_id": offer.agency_id}
    out.update(offer_fields(offer))
    out.update(
        archived=offer.archived,
        version=offer.version,
        created_at=offer.created_at,
        last_modified=offer.last_modified,
    )
    return out


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field whose value differs."""
    return {
        name: [jsonable(old.get(name)), jsonable(new.get(name))]
        for name in OFFER_FIELDS
        if jsonable(old.get(name)) != jsonable(new.get(name))
    }


def _check_version(offer: Offer, if_match: int | None) -> None:
    if if_match is not None and if_match != offer.version:
        raise StaleVersion(
            f"offer {offer.id} is at version {offer.version}, not {if_match}; "
            "read it again and reapply your change"
        )


@contextmanager
def _stale_as_412(offer_id: str) -> Iterator[None]:
    """The database refused the write because another one committed since the offer was read
    (``Offer``'s version column): the same answer as a stale ``If-Match``."""
    try:
        yield
    except StaleDataError:
        raise StaleVersion(
            f"offer {offer_id} was changed by someone else while this change was written; "
            "read it again and reapply your change"
        ) from None


def _check_may_edit(actor: Principal, agency_id: str) -> None:
    if not actor.may_edit_agency(agency_id):
        raise Forbidden(f"{actor.role} may not change offers of agency '{agency_id}'")


def _check_external_id_free(
    session: Session, agency_id: str, external_id: str | None, offer_id: str | None = None
) -> None:
    if external_id is None:
        return
    q = select(Offer.id).where(Offer.agency_id == agency_id, Offer.external_id == external_id)
    if offer_id:
        q = q.where(Offer.id != offer_id)
    if session.scalar(q) is not None:
        raise InvalidInput(
            [
                FieldError(
                    "external_id",
                    f"'{external_id}' is already used by another offer of this agency",
                )
            ]
        )


def get_offer(session: Session, offer_id: str) -> Offer:
    """The offer ``offer_id`` (archived ones too), or ``NotFound``."""
    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"no offer with id '{offer_id}'")
    return offer


def record_change(
    session: Session,
    offer: Offer,
    action: str,
    actor: str,
    changes: dict[str, list[Any]],
    username: str | None = None,
) -> None:
    session.add(
        OfferChange(
            offer_id=offer.id,
            version=offer.version,
            action=action,
            actor=actor,
            username=username,
            at=offer.last_modified,
            changes=changes,
        )
    )


def create_offer(
    session: Session,
    actor: Principal,
    agency_id: str,
    data: dict[str, Any] | OfferIn,
    *,
    action: str = "create",
    seq: int | None = None,
    extra: dict | None = None,
) -> Offer:
    """Validate and store a new offer for ``agency_id``, with a creation history entry."""
    _check_may_edit(actor, agency_id)
    clean = data if isinstance(data, OfferIn) else validate_offer(data)
    ensure_agency(session, agency_id)
    _check_external_id_free(session, agency_id, clean.external_id)
    now = utcnow()
    offer = Offer(
        id=str(uuid.uuid4()),
        agency_id=agency_id,
        version=1,
        seq=seq if seq is not None else next_seq(session),
        created_at=now,
        last_modified=now,
        extra=extra,
        archived=False,
        **clean.model_dump(),
    )
    session.add(offer)
    session.flush()
    record_change(
        session, offer, action, actor.actor, {}, actor.username
    )  # values: see offer_history
    return offer


def apply_offer(
    session: Session,
    actor: Principal,
    offer: Offer,
    clean: OfferIn,
    *,
    action: str = "update",
    seq: int | None = None,
) -> dict[str, list[Any]]:
    """Write validated fields onto ``offer``; return the changes (empty: nothing written)."""
    old = offer_fields(offer)
    new = clean.model_dump()
    changes = changed_fields(old, new)
    if not changes:
        return changes
    if "external_id" in changes:
        _check_external_id_free(session, offer.agency_id, clean.external_id, offer.id)
    with _stale_as_412(offer.id):
        for name in changes:
            setattr(offer, name, new[name])
        offer.version += 1
        offer.last_modified = utcnow()
        offer.seq = seq if seq is not None else next_seq(session)
        session.flush()
    record_change(session, offer, action, actor.actor, changes, actor.username)
    return changes


def replace_offer(
    session: Session, actor: Principal, offer_id: str, data: dict[str, Any], if_match: int | None
) -> Offer:
    """PUT: the body is the whole offer; fields left out take their defaults."""
    offer = get_offer(session, offer_id)
    _check_may_edit(actor, offer.agency_id)
    _check_version(offer, if_match)
    apply_offer(session, actor, offer, validate_offer(data))
    return offer


def patch_offer(
    session: Session, actor: Principal, offer_id: str, changes: dict[str, Any], if_match: int | None
) -> Offer:
    """PATCH: only the given fields change (``{"capacity_free": 3}`` updates free places)."""
    offer = get_offer(session, offer_id)
    _check_may_edit(actor, offer.agency_id)
    _check_version(offer, if_match)
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput([FieldError("body", N_("send a JSON object with the fields to change"))])
    unknown = [k for k in changes if k not in OFFER_FIELDS]
    if unknown:
        raise InvalidInput([FieldError(k, N_("unknown or read-only field")) for k in unknown])
    merged = {k: jsonable(v) for k, v in offer_fields(offer).items()}
    merged.update(changes)
    apply_offer(session, actor, offer, validate_offer(merged))
    return offer


def archive_offer(session: Session, actor: Principal, offer_id: str, if_match: int | None) -> Offer:
    """Hide an offer from search and matching; its record and history stay."""
    offer = get_offer(session, offer_id)
    _check_may_edit(actor, offer.agency_id)
    _check_version(offer, if_match)
    if offer.archived:
        return offer
    with _stale_as_412(offer.id):
        offer.archived = True
        offer.version += 1
        offer.last_modified = utcnow()
        offer.seq = next_seq(session)
        session.flush()
    record_change(
        session, offer, "archive", actor.actor, {"archived": [False, True]}, actor.username
    )
    return offer


#: Actors the history shows as they are: agencies (``agency:vhs-wetzlar``) and the demo data.
PUBLIC_ACTOR_PREFIXES = ("agency:", "demo:")


def public_actor(actor: str) -> str:
    """Who made a change, as the public history shows it: the agency (``agency:<id>``), or
    ``admin`` for every administrator, token and command line — never a login name or a
    token id."""
    return actor if actor.startswith(PUBLIC_ACTOR_PREFIXES) else "admin"


@dataclass(frozen=True)
class HistoryEntry:
    """One change of an offer as ``offer_history`` reports it: ``changes`` is
    ``{field: [old, new]}``, for the creation every field the offer was created with;
    ``actor`` as ``public_actor`` shows it."""

    version: int
    action: str
    actor: str
    at: datetime
    changes: dict[str, list[Any]]
    #: The web user who made the change; only ``agency_offer_history`` fills it in.
    username: str | None = None


def offer_history(session: Session, offer_id: str) -> list[HistoryEntry]:
    """Every change of an offer, oldest first, the creation with the values it created."""
    offer = get_offer(session, offer_id)
    entries = session.scalars(
        select(OfferChange).where(OfferChange.offer_id == offer_id).order_by(OfferChange.id)
    )
    return with_created_values(list(entries), offer_fields(offer))


def agency_offer_history(session: Session, actor: Principal, offer_id: str) -> list[HistoryEntry]:
    """The history of one of the actor's agency's own offers, newest first, each change
    naming the colleague who made it in the pages by their display name (or user name);
    other changes keep ``public_actor``'s label. ``Forbidden`` for another agency's offer."""
    offer = get_offer(session, offer_id)
    if not actor.may_edit_agency(offer.agency_id):
        raise Forbidden("another agency's offer")
    entries = offer_history(session, offer_id)
    names = {
        u.username: (u.display_name or u.username)
        for u in session.scalars(
            select(User).where(
                User.username.in_({e.username for e in entries if e.username}),
                User.agency_id == offer.agency_id,
            )
        )
    }
    out = [replace(e, username=names.get(e.username or "")) if e.username else e for e in entries]
    out.reverse()
    return out


def with_created_values(entries: list[OfferChange], current: dict[str, Any]) -> list[HistoryEntry]:
    """The history ``entries`` (oldest first) with the creation's values filled in.

    Walking back from the ``current`` values, each entry's old values are put back, so when
    the creation (the entry without changes) is reached, the values are those it created."""
    values = {name: jsonable(value) for name, value in current.items()}
    out: list[HistoryEntry] = []
    for entry in reversed(entries):
        changes = entry.changes
        if changes:
            for name, pair in changes.items():
                if name in values:
                    values[name] = pair[0]
        else:
            changes = {name: [None, value] for name, value in values.items() if value is not None}
        actor = public_actor(entry.actor)
        out.append(
            HistoryEntry(entry.version, entry.action, actor, entry.at, changes, entry.username)
        )
    out.reverse()
    return out


@dataclass(frozen=True)
class OfferQuery:
    """The filters of ``GET /v1/offers`` (and of the HSDS lists); every field is optional.

    ``organization`` and ``postcode`` match exactly; ``any_field_set`` keeps offers in which
    at least one of these fields has a value (not missing, empty, or false)."""

    q: str | None = None
    category: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    agency_id: str | None = None
    organization: str | None = None
    postcode: str | None = None
    any_field_set: tuple[str, ...] = ()
    modified_after: datetime | None = None
    include_inactive: bool = False
    page: int = 1
    per_page: int = 20
    max_per_page: int = MAX_PER_PAGE


@dataclass(frozen=True)
class OfferPage:
    items: list[tuple[Offer, float | None]]  # (offer, distance in km or None)
    total: int
    page: int
    per_page: int


def has_value(name: str) -> ColumnElement[bool]:
    """SQL for "the offer field ``name`` has a value": not NULL, and not an empty list, an
    empty text or false."""
    col = getattr(Offer, name)
    if name in LIST_FIELDS:  # both backends print an empty JSON list as '[]'
        return and_(col.is_not(None), cast(col, Text).not_in(["[]", "null"]))
    if isinstance(col.type, Boolean):
        return col.is_(True)
    if isinstance(col.type, String):
        return and_(col.is_not(None), col != "")
    return col.is_not(None)


def _filtered(query: OfferQuery, *columns: Any) -> Select:
    """``columns`` of the live offers that pass every filter of ``query`` but ``q``."""
    stmt = select(*columns).where(Offer.archived.is_(False))
    if not query.include_inactive:
        stmt = stmt.where(Offer.status == "active")
    if query.category:
        stmt = stmt.where(Offer.category.in_(taxonomy.expand(query.category)))
    if query.agency_id:
        stmt = stmt.where(Offer.agency_id == query.agency_id)
    if query.organization:
        stmt = stmt.where(Offer.organization == query.organization)
    if query.postcode:
        stmt = stmt.where(Offer.postcode == query.postcode)
    if query.any_field_set:
        stmt = stmt.where(or_(*map(has_value, query.any_field_set)))
    if query.modified_after:
        stmt = stmt.where(Offer.last_modified > query.modified_after)
    if query.near and query.radius_km is not None:
        lat, lon = query.near
        dlat, dlon = box_degrees(lat, query.radius_km)
        stmt = stmt.where(
            Offer.latitude.between(lat - dlat, lat + dlat),
            Offer.longitude.between(lon - dlon, lon + dlon),
        )
    return stmt


#: Shortest query word that narrows the search on its own (shorter ones count only when the
#: query has nothing longer).
MIN_WORD = 3
#: The most offers the fuzzy matcher scores for one search that found no word verbatim
#: (the newest first).
MAX_FUZZY_CANDIDATES = 2_000
_WORD = re.compile(r"\w+")


def query_words(q: str) -> list[str]:
    """The words of ``q``, lowercase, each once; words shorter than ``MIN_WORD`` only when
    there is no longer one."""
    words = list(dict.fromkeys(_WORD.findall(q.lower())))
    return [w for w in words if len(w) >= MIN_WORD] or words


def word_pieces(q: str) -> list[str]:
    """What the database looks for before the fuzzy match: each word of ``q``, and for words
    of five letters or more its beginning and its end instead, so that one typo (a letter
    wrong, missing, added, or two swapped) leaves one piece intact."""
    pieces: list[str] = []
    for word in query_words(q):
        n = len(word)
        if n < 5:
            pieces.append(word)
            continue
        k = max(MIN_WORD, (n + 1) // 2 - 1)
        pieces.extend((word[:k], word[-k:]))
    return list(dict.fromkeys(pieces))


def _contains(piece: str) -> Any:
    """The offer's title, provider or place contains ``piece`` (lowercase)."""
    text = func.lower(Offer.title + " " + Offer.organization + " " + Offer.municipality)
    found = text.contains(piece, autoescape=True)
    if piece.isascii():
        return found
    # SQLite's lower() folds ASCII letters only: "Ärzte" stays "Ärzte"
    return or_(found, text.contains(piece[:1].upper() + piece[1:], autoescape=True))


def _word_hits(words: list[str]) -> tuple[Any, Any]:
    """``(condition, hits)``: some word is in the offer's text, and how many of them are."""
    found = [_contains(w) for w in words]
    hits = sum((case((f, 1), else_=0) for f in found[1:]), case((found[0], 1), else_=0))
    return or_(*found), hits


def text_scores(q: str, texts: list[str]) -> np.ndarray:
    """The fuzzy matcher: how well each of ``texts`` matches the search text ``q``,
    case-blind, 0–100 (rapidfuzz's partial token-set ratio); ``SEARCH_CUTOFF`` and more
    counts as a match. Callers give it a prefiltered, bounded set of texts only."""
    return process.cdist(
        [q.lower()], [t.lower() for t in texts], scorer=fuzz.partial_token_set_ratio, workers=1
    )[0]


def match_texts(q: str, texts: list[str]) -> list[int]:
    """The indexes of ``texts`` that match the search text ``q``, best first, matched as
    ``search_offers`` matches offers, for short lists kept in memory (the HSDS
    organizations, taxonomies and terms): the texts containing the most words of ``q`` first
    (ties in their given order); only when none contains a word verbatim, the fuzzy matcher,
    on the first ``MAX_FUZZY_CANDIDATES`` texts that contain a piece of a word."""
    lowered = [t.lower() for t in texts]
    words = query_words(q)
    hits = np.array([sum(w in t for w in words) for t in lowered], dtype=np.int64)
    if hits.any():
        return [int(i) for i in np.argsort(-hits, kind="stable") if hits[i]]
    pieces = word_pieces(q)
    candidates = [i for i, t in enumerate(lowered) if any(p in t for p in pieces)]
    candidates = candidates[:MAX_FUZZY_CANDIDATES]
    if not candidates:
        return []
    scores = text_scores(q, [texts[i] for i in candidates])
    order = np.argsort(-scores, kind="stable")
    return [candidates[i] for i in order if scores[i] >= SEARCH_CUTOFF]


def _check_category(query: OfferQuery) -> None:
    if query.category and not taxonomy.is_known(query.category):
        hint = taxonomy.suggest(query.category)
        raise InvalidInput(
            [
                FieldError(
                    "category",
                    f"unknown category '{query.category}'"
                    + (f"; did you mean {' or '.join(hint)}?" if hint else ""),
                )
            ]
        )


_NEWEST_FIRST = (Offer.last_modified.desc(), Offer.id)


def _ranked(
    session: Session, query: OfferQuery, words: list[str]
) -> tuple[list[str], list[float | None]]:
    """The ids of the offers matching ``query`` (which has ``q`` or ``near``), best first,
    and each one's distance (km, or None), for the orders the database does not make: by
    distance (with ``q``: most words of it first), and the fuzzy match of a ``q`` of which
    no offer contains a word verbatim (without ``near``, the caller has found that out)."""
    columns = (Offer.id, Offer.title, Offer.organization, Offer.municipality, Offer.latitude,
               Offer.longitude)  # fmt: skip
    verbatim = False
    if words and query.near:
        found, hits = _word_hits(words)
        rows = session.execute(
            _filtered(query, *columns, hits.label("hits")).where(found).order_by(*_NEWEST_FIRST)
        ).all()
        verbatim = bool(rows)
    if not verbatim:
        candidates = _filtered(query, *columns).order_by(*_NEWEST_FIRST)
        if query.q:
            candidates = candidates.where(or_(false(), *map(_contains, word_pieces(query.q))))
            candidates = candidates.limit(MAX_FUZZY_CANDIDATES)
        rows = session.execute(candidates).all()
    order = np.arange(len(rows))
    dist = None
    keep = np.ones(len(rows), dtype=bool)
    if query.near and rows:
        lat = np.array([r.latitude if r.latitude is not None else np.nan for r in rows])
        lon = np.array([r.longitude if r.longitude is not None else np.nan for r in rows])
        dist = haversine_km(query.near[0], query.near[1], lat, lon)
        if query.radius_km is not None:
            keep &= np.nan_to_num(dist, nan=np.inf) <= query.radius_km
        order = np.argsort(np.nan_to_num(dist, nan=np.inf), kind="stable")
    if query.q and rows:
        if verbatim:
            scores = np.array([r.hits for r in rows], dtype=float)
        else:
            scores = text_scores(
                query.q, [f"{r.title} {r.organization} {r.municipality}" for r in rows]
            )
            keep &= scores >= SEARCH_CUTOFF
        rank = np.empty(len(rows), dtype=np.int64)
        rank[order] = np.arange(len(rows))
        order = np.lexsort((rank, -scores))  # by score; ties keep the previous order
    chosen: list[int] = order[keep[order]].tolist()
    distances = [None if dist is None else float(dist[i]) for i in chosen]
    return [rows[i].id for i in chosen], distances


def _offers_by_id(session: Session, ids: list[str]) -> list[Offer]:
    """The offers with these ids, in this order."""
    by_id = {o.id: o for o in session.scalars(select(Offer).where(Offer.id.in_(ids)))}
    return [by_id[i] for i in ids]


def offers_by_id(session: Session, ids: list[str]) -> dict[str, Offer]:
    """``{id: offer}`` for the given ids (archived ones too; unknown ids left out)."""
    if not ids:
        return {}
    return {o.id: o for o in session.scalars(select(Offer).where(Offer.id.in_(set(ids))))}


def search_offers(session: Session, query: OfferQuery) -> OfferPage:
    """Offers matching the filters: by relevance to ``q`` when given, else by distance when
    ``near`` is given, else newest change first; ``per_page`` up to ``query.max_per_page``.

    ``q`` is matched in the database first: offers whose title, provider or place contain the
    most words of ``q`` come first (then the nearest, or the newest). Only when no offer
    contains any word verbatim (a typo) is the fuzzy matcher used, and then only on offers
    that contain a piece of a word (``word_pieces``), the newest ``MAX_FUZZY_CANDIDATES`` of
    them (rapidfuzz's partial token-set ratio, at least ``SEARCH_CUTOFF``). So no search
    reads or scores the whole catalogue."""
    _check_category(query)
    per_page = max(1, min(query.per_page, query.max_per_page))
    page = max(1, query.page)
    if not query.q and not query.near:  # the database counts and pages
        total = session.scalar(_filtered(query, func.count(Offer.id))) or 0
        offers = session.scalars(
            _filtered(query, Offer)
            .order_by(*_NEWEST_FIRST)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return OfferPage([(o, None) for o in offers], total, page, per_page)
    words = query_words(query.q) if query.q else []
    if words and not query.near:  # the database ranks, counts (in the same pass) and pages
        found, hits = _word_hits(words)
        rows = session.execute(
            _filtered(query, Offer, hits.label("hits"), func.count().over().label("n"))
            .where(found)
            .order_by(desc("hits"), *_NEWEST_FIRST)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        total = (
            rows[0].n
            if rows
            else session.scalar(_filtered(query, func.count(Offer.id)).where(found))
        )
        if total:
            return OfferPage([(r.Offer, None) for r in rows], int(total), page, per_page)
    ids, distances = _ranked(session, query, words)
    start = (page - 1) * per_page
    chosen = _offers_by_id(session, ids[start : start + per_page])
    items = list(zip(chosen, distances[start : start + per_page], strict=True))
    return OfferPage(items=items, total=len(ids), page=page, per_page=per_page)


def every_offer(session: Session, query: OfferQuery, batch: int = 1000) -> Iterator[Offer]:
    """Every offer matching ``query`` (its page ignored), in the order of ``search_offers``,
    read ``batch`` at a time, so that a whole catalogue can be streamed. What the database
    orders is streamed from it; the orders ``search_offers`` makes itself (near a place, or
    the fuzzy match of a typo on its bounded candidates) are made once, then read in
    batches."""
    _check_category(query)
    if not query.q and not query.near:
        stmt = _filtered(query, Offer).order_by(*_NEWEST_FIRST)
        yield from session.scalars(stmt.execution_options(yield_per=batch))
        return
    words = query_words(query.q) if query.q else []
    if words and not query.near:
        found, hits = _word_hits(words)
        stmt = (
            _filtered(query, Offer, hits.label("hits"))
            .where(found)
            .order_by(desc("hits"), *_NEWEST_FIRST)
        )
        verbatim = False
        for offer in session.scalars(stmt.execution_options(yield_per=batch)):
            verbatim = True
            yield offer
        if verbatim:
            return
    ids, _distances = _ranked(session, query, words)
    for start in range(0, len(ids), batch):
        yield from _offers_by_id(session, ids[start : start + batch])


def count_offers(session: Session, include_archived: bool = False) -> int:
    stmt = select(func.count()).select_from(Offer)
    if not include_archived:
        stmt = stmt.where(Offer.archived.is_(False))
    return int(session.scalar(stmt) or 0)
