"""Offers in the Human Services Data Specification (HSDS 3.0) of Open Referral, both ways.

``offer_to_hsds_service`` writes an offer as a fully nested HSDS service (the shape of
``GET /services/{id}``, valid against ``schema/compiled/service.json``); ``service_to_offer``
reads an HSDS service into offer fields for the importer.

HSDS has no place for most eligibility fields Lotse matches on (German levels, residence
statuses, target groups, free places…). They travel as HSDS *attributes* whose taxonomy term
belongs to the taxonomy ``lotse`` (term code = offer field name, attribute value = the CSV
cell), and the category as a term of the taxonomy ``lotse-categories``; so an HSDS export of
Lotse imports back field for field. Everything in an imported service that Lotse does not model
is kept under ``extra["hsds"]``, so nothing an agency sent is lost.

Nested records need UUIDs: they are uuid5 values derived from the offer id (or, for the
organization, from the agency and the organization's name, so one provider keeps one id
across its offers, and for taxonomies and their terms from their names and codes), so they
stay stable between exports. The one exception is the service-at-location record, whose id is
the offer id with fixed bits flipped: reversible, so that ``GET /service_at_locations/{id}``
finds its offer by primary key.

The read API over these records is ``catalog.hsds_api``; the tabular form (a data package of
CSV files) is ``catalog.hsds_tabular``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any

from catalog import taxonomy
from catalog.schema import LIST_FIELDS
from catalog.store import offer_as_dict
from catalog.vocab import DAYS, DISTRICTS, GERMAN_STATES
from lotse.db import utcnow
from lotse.errors import FieldError
from lotse.i18n import N_

HSDS_VERSION = "3.0"
#: Namespace of every derived id (uuid5 of the URL of this specification profile).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://lotse.example/hsds")
FIELD_TAXONOMY = "lotse"
CATEGORY_TAXONOMY = "lotse-categories"

#: Offer fields HSDS has no native place for; they travel as ``lotse`` attributes.
ATTRIBUTE_FIELDS: tuple[str, ...] = (
    "external_id",
    "online",
    "genders",
    "residence_statuses",
    "benefits_required",
    "min_german_level",
    "max_german_level",
    "target_german_level",
    "literacy_required",
    "target_groups",
    "hours_per_week",
    "capacity_total",
    "capacity_free",
    "childcare",
    "wheelchair_accessible",
    "service_area_type",
    "service_area",
    "professions",
    "location_approximate",
)
#: Where each natively mapped offer field comes from in an HSDS service (for error messages).
SOURCE_OF: dict[str, str] = {
    "external_id": "id",
    "title": "name",
    "description": "description",
    "category": "attributes[].taxonomy_term.code",
    "organization": "organization.name",
    "municipality": "service_at_locations[0].location.addresses[0].city",
    "street": "service_at_locations[0].location.addresses[0].address_1",
    "postcode": "service_at_locations[0].location.addresses[0].postal_code",
    "latitude": "service_at_locations[0].location.latitude",
    "longitude": "service_at_locations[0].location.longitude",
    "languages": "languages[].code",
    "min_age": "minimum_age",
    "max_age": "maximum_age",
    "days": "schedules[].byday",
    "times": "schedules[].opens_at/closes_at",
    "start_date": "schedules[].valid_from",
    "end_date": "schedules[].valid_to",
    "cost_eur": "cost_options[].amount",
    "url": "url",
    "email": "email",
    "phone": "phones[0].number",
    "status": "status",
}
#: Top-level service fields that map to offer fields completely (not kept in ``extra``).
_MAPPED_KEYS = frozenset(
    {
        "id",
        "name",
        "description",
        "url",
        "email",
        "status",
        "minimum_age",
        "maximum_age",
    }
)
#: Free-text service fields an imported service may carry; exported again from ``extra``.
_PASSTHROUGH_TEXT = (
    "alternate_name",
    "interpretation_services",
    "application_process",
    "fees_description",
    "accreditations",
    "eligibility_description",
    "alert",
)
_RRULE_DAY = dict(zip(("MO", "TU", "WE", "TH", "FR", "SA", "SU"), DAYS, strict=True))
_DAY_RRULE = {v: k for k, v in _RRULE_DAY.items()}
#: Opening hours written for each time of day, and the spans read back as that time of day
#: (a schedule open 10:00–18:00 serves people free in the morning, afternoon or evening).
TIME_SLOTS: dict[str, tuple[str, str]] = {
    "morning": ("08:00:00", "12:00:00"),
    "afternoon": ("13:00:00", "17:00:00"),
    "evening": ("18:00:00", "21:00:00"),
}
_TIME_SPANS: dict[str, tuple[time, time]] = {
    "morning": (time(5), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(23, 59)),
}
_POSTCODE = re.compile(r"^(?:D-|DE-)?\s*([0-9]{5})$")


#: The two taxonomies whose terms Lotse's services carry: (name, description).
TAXONOMIES: dict[str, str] = {
    CATEGORY_TAXONOMY: "The categories of Lotse (contract v1): eight parent codes, each "
    "standing for all of its leaf categories. Term names are German, descriptions English.",
    FIELD_TAXONOMY: "Fields of a Lotse offer that HSDS has no place for (eligibility, "
    "capacity, childcare…). An attribute with one of these terms carries the field's value as "
    "Lotse's CSV writes it (lists ';'-separated, booleans true/false).",
}
#: Flipped in an offer id to make its service-at-location id; zero where a UUID keeps its
#: version and variant bits, so the result is a version-4 UUID like the offer id.
_SERVICE_AT_LOCATION_MASK = 0x5A1EC7A0_9B2D_0E41_3C5A_7F1E2D3C4B5A


def derived_id(*parts: str) -> str:
    """A stable UUID for a nested record, derived from the parts that identify it."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def taxonomy_id(name: str) -> str:
    """The id of one of Lotse's taxonomies (``TAXONOMIES``)."""
    return derived_id("taxonomy", name)


def taxonomy_record(name: str) -> dict[str, Any]:
    """One of Lotse's taxonomies as an HSDS taxonomy (``schema/taxonomy.json``)."""
    return {
        "id": taxonomy_id(name),
        "name": name,
        "description": TAXONOMIES[name],
        "version": "1",
    }


def category_term_id(code: str) -> str:
    """The id of the HSDS taxonomy term for a Lotse category (or parent) code."""
    return derived_id("taxonomy_term", CATEGORY_TAXONOMY, code)


def field_term_id(name: str) -> str:
    """The id of the HSDS taxonomy term for an offer field carried as an attribute."""
    return derived_id("taxonomy_term", FIELD_TAXONOMY, name)


def category_for_term_id(term_id: str) -> str | None:
    """The category (or parent) code whose taxonomy term has this id, or None."""
    for code in (*taxonomy.CATEGORIES, *taxonomy.PARENTS):
        if category_term_id(code) == term_id:
            return code
    return None


def field_for_term_id(term_id: str) -> str | None:
    """The offer field whose taxonomy term has this id, or None."""
    return next((name for name in ATTRIBUTE_FIELDS if field_term_id(name) == term_id), None)


def category_term(code: str) -> dict[str, Any]:
    """The HSDS taxonomy term of a category code; a leaf's ``parent_id`` is its parent's."""
    german, english = taxonomy.label(code, "de"), taxonomy.label(code, "en")
    term = {
        "id": category_term_id(code),
        "code": code,
        "name": german,
        "description": english,
        "taxonomy": CATEGORY_TAXONOMY,
        "taxonomy_id": taxonomy_id(CATEGORY_TAXONOMY),
    }
    if code in taxonomy.PARENT_OF:
        term["parent_id"] = category_term_id(taxonomy.PARENT_OF[code])
    return term


def field_term(name: str) -> dict[str, Any]:
    """The HSDS taxonomy term of an offer field carried as an attribute."""
    return {
        "id": field_term_id(name),
        "code": name,
        "name": name,
        "description": f"Lotse offer field '{name}' (contract v1)",
        "taxonomy": FIELD_TAXONOMY,
        "taxonomy_id": taxonomy_id(FIELD_TAXONOMY),
    }


def taxonomy_terms() -> list[dict[str, Any]]:
    """Every term of Lotse's taxonomies: each parent category followed by its children,
    then the offer fields."""
    codes = [code for p, children in taxonomy.TAXONOMY.items() for code in (p, *children)]
    return [*map(category_term, codes), *map(field_term, ATTRIBUTE_FIELDS)]


def organization_id(agency_id: str | None, name: str) -> str:
    """The id of a provider: one per agency and organization name, across its offers."""
    return derived_id("organization", str(agency_id or ""), name)


def organization_record(agency_id: str | None, name: str) -> dict[str, Any]:
    """A provider as an HSDS organization (its one-to-one fields)."""
    return {"id": organization_id(agency_id, name), "name": name, "description": ""}


def service_at_location_id(service_id: str) -> str:
    """The id of an offer's (only) service-at-location record."""
    try:
        value = uuid.UUID(service_id).int
    except ValueError:  # not a UUID (never an offer id): stable, but not reversible
        return derived_id(service_id, "service_at_location")
    return str(uuid.UUID(int=value ^ _SERVICE_AT_LOCATION_MASK))


def service_of_location_id(service_at_location: str) -> str | None:
    """The offer id whose service-at-location record has this id (None: not such an id)."""
    try:
        value = uuid.UUID(service_at_location).int
    except ValueError:
        return None
    return str(uuid.UUID(int=value ^ _SERVICE_AT_LOCATION_MASK))


# --- Offer → HSDS ------------------------------------------------------------------------


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _timestamp(value: datetime | None) -> str:
    value = value or utcnow()
    if value.tzinfo is None:  # a naive value given by a caller, not read back (lotse.db)
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _language_name(code: str) -> str:
    import pycountry

    lang = pycountry.languages.get(alpha_2=code)
    return lang.name if lang is not None else code


def _schedules(sid: str, o: Mapping[str, Any]) -> list[dict[str, Any]]:
    days, times = o.get("days") or [], o.get("times") or []
    start, end = o.get("start_date"), o.get("end_date")
    if not (days or times or start or end):
        return []
    out = []
    for slot in times or [None]:
        item: dict[str, Any] = {"id": derived_id(sid, "schedule", slot or "any"), "service_id": sid}
        if days:
            item["freq"] = "WEEKLY"
            item["byday"] = ",".join(_DAY_RRULE[d] for d in days)
        if slot:
            item["opens_at"], item["closes_at"] = TIME_SLOTS[slot]
        if start:
            item["valid_from"] = str(start)
        if end:
            item["valid_to"] = str(end)
        out.append(item)
    return out


def _location(sid: str, o: Mapping[str, Any]) -> dict[str, Any]:
    lid = derived_id(sid, "location")
    has_place = o.get("latitude") is not None and o.get("longitude") is not None
    location: dict[str, Any] = {
        "id": lid,
        "location_type": "physical" if has_place else "virtual",
        "name": f"{o['organization']}, {o['municipality']}",
        "addresses": [
            {
                "id": derived_id(sid, "address"),
                "location_id": lid,
                "address_1": o.get("street") or "",
                "city": o["municipality"],
                "state_province": "",
                "postal_code": o.get("postcode") or "",
                "country": "DE",
                "address_type": "physical" if has_place else "postal",
            }
        ],
    }
    if has_place:
        location["latitude"] = o["latitude"]
        location["longitude"] = o["longitude"]
    if o.get("wheelchair_accessible"):
        location["accessibility"] = [
            {
                "id": derived_id(sid, "accessibility"),
                "location_id": lid,
                "description": "Rollstuhlgerecht / wheelchair accessible",
            }
        ]
    return location


def _field_attribute(sid: str, name: str, value: Any) -> dict[str, Any]:
    return {
        "id": derived_id(sid, "attribute", name),
        "link_id": sid,
        "link_type": "offer_field",
        "link_entity": "service",
        "taxonomy_term_id": field_term_id(name),
        "value": _attribute_value(value),
        "taxonomy_term": field_term(name),
    }


def _category_attribute(sid: str, code: str) -> dict[str, Any]:
    return {
        "id": derived_id(sid, "attribute", "category"),
        "link_id": sid,
        "link_type": "category",
        "link_entity": "service",
        "taxonomy_term_id": category_term_id(code),
        "taxonomy_term": category_term(code),
    }


def _is_default(value: Any) -> bool:
    return value is None or value is False or value == [] or value == ""


def offer_to_hsds_service(offer: Any, *, nested: bool = True) -> dict[str, Any]:
    """An offer (a stored ``Offer`` or a mapping of its columns) as an HSDS 3.0 service.

    ``nested=False`` gives the one-to-one fields only (with the organization), the shape of
    an item of ``GET /services`` (``schema/compiled/service_list.json``)."""
    o: Mapping[str, Any] = offer if isinstance(offer, Mapping) else _offer_mapping(offer)
    sid = str(o["id"])
    organization = organization_record(o.get("agency_id"), o["organization"])
    service: dict[str, Any] = {
        "id": sid,
        "organization_id": organization["id"],
        "name": o["title"],
        "description": o.get("description") or "",
        "status": o.get("status") or "active",
    }
    for key, name in (("url", "url"), ("email", "email")):
        if o.get(key):
            service[name] = o[key]
    for key, name in (("min_age", "minimum_age"), ("max_age", "maximum_age")):
        if o.get(key) is not None:
            service[name] = o[key]
    kept = ((o.get("extra") or {}).get("hsds") or {}) if isinstance(o.get("extra"), dict) else {}
    for name in _PASSTHROUGH_TEXT:
        if isinstance(kept.get(name), str):
            service[name] = kept[name]
    service["last_modified"] = _timestamp(o.get("last_modified"))
    service["organization"] = organization
    if not nested:
        return service
    if o.get("phone"):
        service["phones"] = [
            {"id": derived_id(sid, "phone"), "service_id": sid, "number": o["phone"]}
        ]
    service["schedules"] = _schedules(sid, o)
    service["service_at_locations"] = [_service_at_location(sid, o)]
    service["languages"] = [
        {
            "id": derived_id(sid, "language", c),
            "service_id": sid,
            "code": c,
            "name": _language_name(c),
        }
        for c in o.get("languages") or []
    ]
    cost = float(o.get("cost_eur") or 0.0)
    service["cost_options"] = [
        {
            "id": derived_id(sid, "cost_option"),
            "service_id": sid,
            "option": "kostenlos / free of charge" if cost == 0 else "Teilnahmebeitrag / fee",
            "currency": "EUR",
            "amount": cost,
        }
    ]
    if o.get("service_area_type"):
        service["service_areas"] = [_service_area(sid, o)]
    attributes = [_category_attribute(sid, o["category"])]
    attributes += [
        _field_attribute(sid, name, o.get(name))
        for name in ATTRIBUTE_FIELDS
        if not _is_default(o.get(name))
    ]
    service["attributes"] = attributes
    return service


#: How a service area's kind is said in its HSDS description (German, as the names are).
_AREA_WORDS = {
    "municipality": "Gemeinde",
    "district": "Kreis",
    "state": "Bundesland",
    "country": "Staat",
}


def _service_area(sid: str, o: Mapping[str, Any]) -> dict[str, Any]:
    kind = o["service_area_type"]
    name = o.get("service_area") or "Deutschland"
    return {
        "id": derived_id(sid, "service_area"),
        "service_id": sid,
        "name": name,
        "description": f"{_AREA_WORDS[kind]} {name}",
    }


def _area_from_hsds(areas: list[dict[str, Any]]) -> dict[str, Any]:
    """A publisher's first service area as Lotse's kind and name when it names a federal
    state, all Germany or a listed district; any other area (free text) is kept as it came,
    in ``extra``, and the offer keeps its radius."""
    name = str(_first_dict(areas).get("name") or "").strip()
    if name in GERMAN_STATES:
        return {"service_area_type": "state", "service_area": name}
    if name.casefold() in ("deutschland", "germany", "bundesweit"):
        return {"service_area_type": "country"}
    if name in DISTRICTS:
        return {"service_area_type": "district", "service_area": name}
    return {}


def _offer_mapping(offer: Any) -> dict[str, Any]:
    out = offer_as_dict(offer)
    out["extra"] = offer.extra
    return out


def _service_at_location(sid: str, o: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": service_at_location_id(sid),
        "service_id": sid,
        "location_id": derived_id(sid, "location"),
        "location": _location(sid, o),
    }


def offer_to_hsds_service_at_location(offer: Any, *, nested: bool = True) -> dict[str, Any]:
    """An offer's service-at-location record (every offer has one), with its location and
    service: fully nested (the shape of ``GET /service_at_locations/{id}``, the service
    without its own ``service_at_locations``), or with ``nested=False`` one-to-one fields
    only (an item of ``GET /service_at_locations``, ``compiled/service_at_location_list.json``)."""
    o: Mapping[str, Any] = offer if isinstance(offer, Mapping) else _offer_mapping(offer)
    service = offer_to_hsds_service(o, nested=nested)
    record = service.pop("service_at_locations", None) or [_service_at_location(service["id"], o)]
    item = record[0]
    if not nested:
        item["location"] = {k: v for k, v in item["location"].items() if not isinstance(v, list)}
    item["service"] = service
    return item


# --- HSDS → offer ------------------------------------------------------------------------


def _first_dict(items: Any) -> dict[str, Any]:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                return item
    return {}


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _whole(value: Any) -> Any:
    """HSDS numbers may be floats (12.0); Lotse's ages are whole years."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _language_code(code: Any) -> Any:
    if not isinstance(code, str):
        return code
    code = code.strip().lower()
    if len(code) == 3:  # HSDS examples also use ISO 639-2/3 ("eng")
        import pycountry

        lang = pycountry.languages.get(alpha_3=code)
        if lang is not None and hasattr(lang, "alpha_2"):
            return lang.alpha_2
    return code


def _clock(value: Any) -> time | None:
    if not isinstance(value, str):
        return None
    try:
        return time.fromisoformat(value.strip().removesuffix("Z"))
    except ValueError:
        return None


def _schedule_fields(schedules: list[dict[str, Any]]) -> dict[str, Any]:
    days: list[str] = []
    times: list[str] = []
    starts: list[str] = []
    ends: list[str] = []
    for item in schedules:
        for token in str(item.get("byday") or "").split(","):
            code = token.strip().upper()[-2:]  # "1MO" (first Monday) counts as Monday
            if code in _RRULE_DAY and _RRULE_DAY[code] not in days:
                days.append(_RRULE_DAY[code])
        opens, closes = _clock(item.get("opens_at")), _clock(item.get("closes_at"))
        if opens is not None:
            closes = closes or opens
            for slot, (lo, hi) in _TIME_SPANS.items():
                overlaps = (opens < hi and closes > lo) or lo <= opens < hi
                if overlaps and slot not in times:
                    times.append(slot)
        start = item.get("valid_from") or item.get("dtstart")
        end = item.get("valid_to") or item.get("until")
        if isinstance(start, str) and start:
            starts.append(start)
        if isinstance(end, str) and end:
            ends.append(end)
    out: dict[str, Any] = {
        "days": [d for d in DAYS if d in days],
        "times": [t for t in TIME_SLOTS if t in times],
    }
    if starts:
        out["start_date"] = min(starts)
    if ends:
        out["end_date"] = max(ends)
    return out


def _cost(options: list[dict[str, Any]]) -> tuple[Any, FieldError | None]:
    """The lowest amount in EUR (what someone eligible pays at least); other currencies are
    not converted, because a guessed exchange rate would be a wrong price."""
    amounts, foreign = [], set()
    for option in options:
        currency = str(option.get("currency") or "EUR").upper()
        if option.get("amount") is None:
            continue
        if currency != "EUR":
            foreign.add(currency)
            continue
        amounts.append(option["amount"])
    if amounts:
        return min(amounts, key=lambda a: a if isinstance(a, int | float) else float("inf")), None
    if foreign:
        return None, FieldError(
            "cost_eur",
            f"cost_options give amounts in {', '.join(sorted(foreign))} only; Lotse records "
            "costs in EUR, so convert them (or leave the amount out)",
        )
    return None, None


def _is_lotse_field(attribute: dict[str, Any]) -> bool:
    term = attribute.get("taxonomy_term")
    return (
        isinstance(term, dict)
        and term.get("taxonomy") == FIELD_TAXONOMY
        and term.get("code") in ATTRIBUTE_FIELDS
    )


def _category_from(attributes: list[dict[str, Any]]) -> str | None:
    for attribute in attributes:
        term = attribute.get("taxonomy_term")
        code = term.get("code") if isinstance(term, dict) else None
        if isinstance(code, str) and code in taxonomy.PARENT_OF:
            return code
    return None


def service_to_offer(
    service: Any, category: str | None = None
) -> tuple[dict[str, Any], dict[str, Any], list[FieldError]]:
    """Read one HSDS service into ``(offer fields, extra, problems)``.

    The fields are not validated yet (the importer runs ``validate_offer`` on them, as for any
    row). The category is an attribute's taxonomy term code when that is a Lotse category,
    else ``category``; ``problems`` says what could not be read at all."""
    if not isinstance(service, dict):
        return {}, {}, [FieldError("service", N_("an HSDS service is a JSON object"))]
    problems: list[FieldError] = []
    attributes = _dicts(service.get("attributes"))
    data: dict[str, Any] = {
        "external_id": service.get("id"),
        "title": service.get("name"),
        "description": service.get("description") or "",
        "url": service.get("url"),
        "email": service.get("email"),
        "min_age": _whole(service.get("minimum_age")),
        "max_age": _whole(service.get("maximum_age")),
    }
    status = service.get("status")
    data["status"] = "inactive" if status in ("defunct", "temporarily closed") else status
    org = service.get("organization")
    data["organization"] = org.get("name") if isinstance(org, dict) else None
    data["category"] = _category_from(attributes) or category
    if not data["category"]:
        problems.append(
            FieldError(
                "category",
                N_(
                    "no attribute's taxonomy_term.code is a Lotse category; pass category=CODE "
                    "(e.g. category=migration_counselling) to import these services"
                ),
            )
        )
    place = _first_dict(service.get("service_at_locations"))
    location = place.get("location")
    if not isinstance(location, dict):
        location = {}
    addresses = _dicts(location.get("addresses"))
    address = next(
        (a for a in addresses if a.get("address_type") == "physical"), _first_dict(addresses)
    )
    data["municipality"] = address.get("city") or location.get("name")
    data["street"] = address.get("address_1")
    match = _POSTCODE.match(str(address.get("postal_code") or "").strip())
    data["postcode"] = match.group(1) if match else None  # a foreign one stays in extra
    data["latitude"] = location.get("latitude")
    data["longitude"] = location.get("longitude")
    data["online"] = location.get("location_type") == "virtual"
    data["languages"] = [
        _language_code(lang.get("code"))
        for lang in _dicts(service.get("languages"))
        if lang.get("code")
    ]
    phone = _first_dict(service.get("phones")) or _first_dict(place.get("phones"))
    phone = phone or _first_dict(location.get("phones"))
    number = phone.get("number")
    data["phone"] = number.strip().strip("\"'").strip() if isinstance(number, str) else number
    schedules = (
        _dicts(service.get("schedules"))
        or _dicts(place.get("schedules"))
        or _dicts(location.get("schedules"))
    )
    data.update(_schedule_fields(schedules))
    data["cost_eur"], cost_problem = _cost(_dicts(service.get("cost_options")))
    if cost_problem:
        problems.append(cost_problem)
    data.update(_area_from_hsds(_dicts(service.get("service_areas"))))
    for attribute in attributes:
        if _is_lotse_field(attribute):
            value = attribute.get("value")
            name = attribute["taxonomy_term"]["code"]
            data[name] = [] if name in LIST_FIELDS and not value else value
    data = {k: v for k, v in data.items() if v is not None}
    kept = {k: v for k, v in service.items() if k not in _MAPPED_KEYS}
    if attributes:
        rest = [a for a in service.get("attributes") or [] if not _is_lotse_field(a)]
        if rest:
            kept["attributes"] = rest
        else:
            kept.pop("attributes", None)
    return data, {"hsds": kept}, problems
