"""The offer of contract v1: its fields, their vocabularies and every validation rule.

``validate_offer`` is the one entry point: it returns a clean ``OfferIn`` or raises
``InvalidInput`` naming each offending field with the reason, so the API, the importers and
the demo generator all accept and reject exactly the same offers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from catalog import taxonomy
from catalog.vocab import (
    DISTRICTS,
    GERMAN_STATES,
    GERMANY_LAT,
    GERMANY_LON,
    LEVEL_RANK,
    checked_language_codes,
)
from lotse.errors import FieldError, InvalidInput
from lotse.i18n import N_

if TYPE_CHECKING:
    # what pydantic's ValidationError.errors() returns (pydantic re-exports no name for it)
    from pydantic_core import ErrorDetails

GermanLevel = Literal["none", "A1", "A2", "B1", "B2", "C1", "C2"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Time = Literal["morning", "afternoon", "evening"]
Gender = Literal["female", "male", "diverse", "unspecified"]
ResidenceStatus = Literal[
    "recognised_refugee",
    "asylum_seeker",
    "tolerated",
    "family_reunification",
    "eu_citizen",
    "skilled_worker",
    "resettler",
    "other",
]
Benefit = Literal["sgb2", "asylblg", "none"]
TargetGroup = Literal["parents", "youth", "women", "literacy", "second_script", "disability"]
OfferStatus = Literal["active", "inactive"]
ServiceAreaType = Literal["municipality", "district", "state", "country"]


def _split_list(value: Any) -> Any:
    """Accept a list, or a ``;``-separated string (the CSV form); drop blanks and duplicates."""
    if value is None:
        return []
    if isinstance(value, str):  # the CSV form; the commonest, so the quickest path
        return list(dict.fromkeys(filter(None, map(str.strip, value.split(";")))))
    if isinstance(value, list | tuple):
        seen: list[Any] = []
        for item in value:
            if isinstance(item, str):
                item = item.strip()
                if not item:
                    continue
            if item not in seen:
                seen.append(item)
        return seen
    return value


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Listed = BeforeValidator(_split_list)
#: A blank value ("", "  ") means no value, for other models (profiles); ``OfferIn`` does the
#: same for its optional fields in ``validate_offer``, only when validation fails.
Optional = BeforeValidator(_blank_to_none)

#: Every field an offer carries, in the contract's order (CSV columns, exports, history).
OFFER_FIELDS: tuple[str, ...] = (
    "external_id", "title", "description", "category", "organization", "municipality",
    "street", "postcode", "latitude", "longitude", "online", "languages", "min_age", "max_age",
    "genders", "residence_statuses", "benefits_required", "min_german_level",
    "max_german_level", "target_german_level", "literacy_required", "target_groups", "days",
    "times", "start_date", "end_date", "hours_per_week", "capacity_total", "capacity_free",
    "childcare", "cost_eur", "wheelchair_accessible", "url", "email", "phone", "status",
    "service_area_type", "service_area", "professions", "location_approximate",
)  # fmt: skip
LIST_FIELDS = frozenset(
    {"languages", "genders", "residence_statuses", "benefits_required", "target_groups",
     "days", "times", "professions"}
)  # fmt: skip
SERVER_FIELDS: tuple[str, ...] = ("id", "agency_id", "version", "created_at", "last_modified")

#: Patterns of the contact fields, checked by pydantic itself, and what a mismatch means.
_PATTERNS: dict[str, tuple[str, str]] = {
    "postcode": (r"^[0-9]{5}$", "a German postcode has five digits"),
    "email": (r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "not an e-mail address"),
    "phone": (r"^\+?[0-9 ()/.-]{5,30}$", "digits, spaces and + ( ) / . - only"),
    "url": (r"^https?://", "must start with http:// or https://"),
}


def _pattern(name: str) -> str:
    return _PATTERNS[name][0]


class OfferIn(BaseModel):
    """An offer as an agency writes it. Cross-field rules are checked by ``validate_offer``,
    which also treats a blank optional field as left out (``_OPTIONAL``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str | None = Field(None, min_length=1, max_length=100)
    title: str = Field(min_length=3, max_length=200)
    description: str = Field("", max_length=5000)
    category: str
    organization: str = Field(min_length=1, max_length=200)
    municipality: str = Field(min_length=1, max_length=100)
    street: str | None = Field(None, min_length=1, max_length=200)
    postcode: str | None = Field(None, pattern=_pattern("postcode"))
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    online: bool = False
    languages: Annotated[list[str], Listed] = Field(default_factory=list)
    min_age: int | None = Field(None, ge=0, le=120)
    max_age: int | None = Field(None, ge=0, le=120)
    genders: Annotated[list[Gender], Listed] = Field(default_factory=list)
    residence_statuses: Annotated[list[ResidenceStatus], Listed] = Field(default_factory=list)
    benefits_required: Annotated[list[Benefit], Listed] = Field(default_factory=list)
    min_german_level: GermanLevel | None = None
    max_german_level: GermanLevel | None = None
    target_german_level: GermanLevel | None = None
    literacy_required: bool = False
    target_groups: Annotated[list[TargetGroup], Listed] = Field(default_factory=list)
    days: Annotated[list[Day], Listed] = Field(default_factory=list)
    times: Annotated[list[Time], Listed] = Field(default_factory=list)
    start_date: date | None = None
    end_date: date | None = None
    hours_per_week: float | None = Field(None, ge=0, le=60)
    capacity_total: int | None = Field(None, ge=0, le=100_000)
    capacity_free: int | None = Field(None, ge=0, le=100_000)
    childcare: bool = False
    cost_eur: float = Field(0.0, ge=0, le=100_000)
    wheelchair_accessible: bool = False
    url: str | None = Field(None, max_length=500, pattern=_pattern("url"))
    email: str | None = Field(None, max_length=200, pattern=_pattern("email"))
    phone: str | None = Field(None, max_length=40, pattern=_pattern("phone"))
    status: OfferStatus = "active"
    #: The area the offer is responsible for, instead of a radius around its address.
    service_area_type: ServiceAreaType | None = None
    service_area: str | None = Field(None, min_length=1, max_length=100)
    #: Professions a recognition offer serves ("Pflegefachkraft", "nurse"); empty: any.
    professions: Annotated[list[str], Listed] = Field(default_factory=list, max_length=30)
    #: The coordinates are the municipality's, not the address's own.
    location_approximate: bool = False

    @field_validator("cost_eur", mode="before")
    @classmethod
    def _cost_default(cls, value: Any) -> Any:
        return 0.0 if value is None else value

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value in taxonomy.PARENT_OF:
            return value
        if value in taxonomy.TAXONOMY:
            kids = ", ".join(taxonomy.TAXONOMY[value][:4])
            raise ValueError(f"'{value}' is a parent code; an offer needs a leaf such as {kids}")
        hint = taxonomy.suggest(value, leaves_only=True)
        raise ValueError(
            f"unknown category '{value}'" + (f"; did you mean {' or '.join(hint)}?" if hint else "")
        )

    @field_validator("languages")
    @classmethod
    def _iso_languages(cls, value: list[str]) -> list[str]:
        return checked_language_codes(value)


class OfferOut(OfferIn):
    """An offer as Lotse returns it: the agency's fields plus the server-set ones."""

    model_config = ConfigDict(extra="forbid")

    id: str
    agency_id: str
    archived: bool = False
    version: int
    created_at: datetime
    last_modified: datetime


def _cross_field_errors(offer: OfferIn) -> list[FieldError]:
    errs: list[FieldError] = []
    if offer.min_age is not None and offer.max_age is not None and offer.min_age > offer.max_age:
        errs.append(
            FieldError("min_age", f"min_age {offer.min_age} is above max_age {offer.max_age}")
        )
    if (
        offer.capacity_free is not None
        and offer.capacity_total is not None
        and offer.capacity_free > offer.capacity_total
    ):
        errs.append(
            FieldError(
                "capacity_free",
                f"capacity_free {offer.capacity_free} is above capacity_total {offer.capacity_total}",
            )
        )
    if offer.start_date and offer.end_date and offer.end_date < offer.start_date:
        errs.append(FieldError("end_date", N_("end_date is before start_date")))
    lo, hi = offer.min_german_level, offer.max_german_level
    if lo and hi and LEVEL_RANK[lo] > LEVEL_RANK[hi]:
        errs.append(FieldError("max_german_level", f"the German level window {lo}–{hi} is empty"))
    if (offer.latitude is None) != (offer.longitude is None):
        missing = "longitude" if offer.longitude is None else "latitude"
        errs.append(FieldError(missing, N_("latitude and longitude come together")))
    elif offer.latitude is not None and offer.longitude is not None:
        if not (GERMANY_LAT[0] <= offer.latitude <= GERMANY_LAT[1]):
            errs.append(FieldError("latitude", f"{offer.latitude} is far outside Germany"))
        if not (GERMANY_LON[0] <= offer.longitude <= GERMANY_LON[1]):
            errs.append(FieldError("longitude", f"{offer.longitude} is far outside Germany"))
    elif not offer.online and not offer.service_area_type:
        errs.append(FieldError("latitude", N_("an offer that is not online needs coordinates")))
    errs.extend(_service_area_errors(offer))
    return errs


def _service_area_errors(offer: OfferIn) -> list[FieldError]:
    kind, name = offer.service_area_type, offer.service_area
    if kind is None:
        return (
            [FieldError("service_area_type", N_("give the kind of area the name belongs to"))]
            if name
            else []
        )
    if kind == "country":
        return []
    if not name:
        return [FieldError("service_area", f"name the {kind} the offer serves")]
    if kind == "state" and name not in GERMAN_STATES:
        return [FieldError("service_area", "one of: " + ", ".join(GERMAN_STATES))]
    if kind == "district" and name not in DISTRICTS:
        return [FieldError("service_area", "a known district: " + ", ".join(DISTRICTS))]
    return []


def _message(err: ErrorDetails) -> str:
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "literal_error":
        msg = "must be one of: " + err["ctx"]["expected"].replace("'", "")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    if err["type"] == "missing":
        msg = "required"
    if err["type"] == "string_pattern_mismatch" and err["loc"][0] in _PATTERNS:
        msg = _PATTERNS[err["loc"][0]][1]
    return msg


def pydantic_field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Turn pydantic's errors into ``FieldError``s with dotted field names (list indexes kept)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        field = ".".join(loc)
        out.append(
            FieldError(prefix + field if field else prefix.rstrip(".") or "body", _message(err))
        )
    return out


#: The fields each cross-field check reads, by the field its error names: a check is skipped
#: when one of them already has an error of its own.
_CROSS_FIELD_INPUTS: dict[str, frozenset[str]] = {
    "min_age": frozenset({"min_age", "max_age"}),
    "capacity_free": frozenset({"capacity_free", "capacity_total"}),
    "end_date": frozenset({"start_date", "end_date"}),
    "max_german_level": frozenset({"min_german_level", "max_german_level"}),
    "latitude": frozenset({"latitude", "longitude", "online", "service_area_type"}),
    "longitude": frozenset({"latitude", "longitude", "online"}),
    "service_area": frozenset({"service_area_type", "service_area"}),
    "service_area_type": frozenset({"service_area_type", "service_area"}),
}
#: Stand-ins for required fields that failed, so the other fields can still be cross-checked.
_STAND_INS = {"title": "stand-in", "category": "integration_course", "organization": "-",
              "municipality": "-"}  # fmt: skip


#: Fields that may be left out; a blank value ("", "  ") in one of them counts as left out
#: (a cleared form field, an empty CSV cell), which gives it its default. Each of them
#: rejects a blank value, so ``validate_offer`` looks for blanks only when validation failed
#: (blanks are rare, and looking for them in every offer costs as much as validating it).
_OPTIONAL: tuple[str, ...] = (
    "external_id", "street", "postcode", "latitude", "longitude", "min_age", "max_age",
    "min_german_level", "max_german_level", "target_german_level", "start_date", "end_date",
    "hours_per_week", "capacity_total", "capacity_free", "cost_eur", "url", "email", "phone",
    "service_area_type", "service_area",
)  # fmt: skip


def _without_blanks(data: dict[str, Any]) -> dict[str, Any]:
    blank = [
        name
        for name in _OPTIONAL
        if (value := data.get(name)).__class__ is str and not value.strip()
    ]
    return {k: v for k, v in data.items() if k not in blank} if blank else data


def validate_offer(data: dict[str, Any]) -> OfferIn:
    """Validate a whole offer; raise ``InvalidInput`` listing every problem by field.

    Field errors and cross-field errors are reported together, so an agency fixing a row
    sees everything wrong with it at once."""
    if not isinstance(data, dict):
        raise InvalidInput([FieldError("body", N_("an offer is a JSON object"))])
    try:
        offer = OfferIn.model_validate(data)
    except ValidationError as exc:
        without_blanks = _without_blanks(data)
        if without_blanks is not data:
            return validate_offer(without_blanks)
        errors = pydantic_field_errors(exc)
        raise InvalidInput(errors + _cross_field_errors_of_the_rest(data, errors)) from None
    errs = _cross_field_errors(offer)
    if errs:
        raise InvalidInput(errs)
    return offer


def _cross_field_errors_of_the_rest(
    data: dict[str, Any], errors: list[FieldError]
) -> list[FieldError]:
    bad = {e.field.split(".")[0] for e in errors}
    rest = {k: v for k, v in data.items() if k not in bad}
    for name, value in _STAND_INS.items():
        rest.setdefault(name, value)
    try:
        partial = OfferIn.model_validate(rest)
    except ValidationError:
        return []
    return [
        e
        for e in _cross_field_errors(partial)
        if not (_CROSS_FIELD_INPUTS.get(e.field, frozenset({e.field})) & bad)
    ]
