"""The offer of contract v1: its fields, their vocabularies and every validation rule.

``validate_offer`` is the one entry point: it returns a clean ``OfferIn`` or raises
``InvalidInput`` naming each offending field with the reason, so the API, the importers and
the demo generator all accept and reject exactly the same offers.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

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
    GERMANY_LAT,
    GERMANY_LON,
    LEVEL_RANK,
    checked_language_codes,
)
from lotse.errors import FieldError, InvalidInput

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


def _split_list(value: Any) -> Any:
    """Accept a list, or a ``;``-separated string (the CSV form); drop blanks and duplicates."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(";")]
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
Optional = BeforeValidator(_blank_to_none)

#: Every field an offer carries, in the contract's order (CSV columns, exports, history).
OFFER_FIELDS: tuple[str, ...] = (
    "external_id", "title", "description", "category", "organization", "municipality",
    "street", "postcode", "latitude", "longitude", "online", "languages", "min_age", "max_age",
    "genders", "residence_statuses", "benefits_required", "min_german_level",
    "max_german_level", "target_german_level", "literacy_required", "target_groups", "days",
    "times", "start_date", "end_date", "hours_per_week", "capacity_total", "capacity_free",
    "childcare", "cost_eur", "wheelchair_accessible", "url", "email", "phone", "status",
)  # fmt: skip
LIST_FIELDS = frozenset(
    {"languages", "genders", "residence_statuses", "benefits_required", "target_groups",
     "days", "times"}
)  # fmt: skip
SERVER_FIELDS: tuple[str, ...] = ("id", "agency_id", "version", "created_at", "last_modified")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()/.-]{5,30}$")
_POSTCODE = re.compile(r"^[0-9]{5}$")


class OfferIn(BaseModel):
    """An offer as an agency writes it. Cross-field rules are checked by ``validate_offer``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: Annotated[str | None, Optional] = Field(None, max_length=100)
    title: str = Field(min_length=3, max_length=200)
    description: str = Field("", max_length=5000)
    category: str
    organization: str = Field(min_length=1, max_length=200)
    municipality: str = Field(min_length=1, max_length=100)
    street: Annotated[str | None, Optional] = Field(None, max_length=200)
    postcode: Annotated[str | None, Optional] = None
    latitude: Annotated[float | None, Optional] = Field(None, ge=-90, le=90)
    longitude: Annotated[float | None, Optional] = Field(None, ge=-180, le=180)
    online: bool = False
    languages: Annotated[list[str], Listed] = Field(default_factory=list)
    min_age: Annotated[int | None, Optional] = Field(None, ge=0, le=120)
    max_age: Annotated[int | None, Optional] = Field(None, ge=0, le=120)
    genders: Annotated[list[Gender], Listed] = Field(default_factory=list)
    residence_statuses: Annotated[list[ResidenceStatus], Listed] = Field(default_factory=list)
    benefits_required: Annotated[list[Benefit], Listed] = Field(default_factory=list)
    min_german_level: Annotated[GermanLevel | None, Optional] = None
    max_german_level: Annotated[GermanLevel | None, Optional] = None
    target_german_level: Annotated[GermanLevel | None, Optional] = None
    literacy_required: bool = False
    target_groups: Annotated[list[TargetGroup], Listed] = Field(default_factory=list)
    days: Annotated[list[Day], Listed] = Field(default_factory=list)
    times: Annotated[list[Time], Listed] = Field(default_factory=list)
    start_date: Annotated[date | None, Optional] = None
    end_date: Annotated[date | None, Optional] = None
    hours_per_week: Annotated[float | None, Optional] = Field(None, ge=0, le=60)
    capacity_total: Annotated[int | None, Optional] = Field(None, ge=0, le=100_000)
    capacity_free: Annotated[int | None, Optional] = Field(None, ge=0, le=100_000)
    childcare: bool = False
    cost_eur: Annotated[float, Optional] = Field(0.0, ge=0, le=100_000)
    wheelchair_accessible: bool = False
    url: Annotated[str | None, Optional] = Field(None, max_length=500)
    email: Annotated[str | None, Optional] = Field(None, max_length=200)
    phone: Annotated[str | None, Optional] = Field(None, max_length=40)
    status: OfferStatus = "active"

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

    @field_validator("postcode")
    @classmethod
    def _german_postcode(cls, value: str | None) -> str | None:
        if value is not None and not _POSTCODE.match(value):
            raise ValueError("a German postcode has five digits")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.match(value):
            raise ValueError("digits, spaces and + ( ) / . - only")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


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
        errs.append(FieldError("end_date", "end_date is before start_date"))
    lo, hi = offer.min_german_level, offer.max_german_level
    if lo and hi and LEVEL_RANK[lo] > LEVEL_RANK[hi]:
        errs.append(FieldError("max_german_level", f"the German level window {lo}–{hi} is empty"))
    if (offer.latitude is None) != (offer.longitude is None):
        missing = "longitude" if offer.longitude is None else "latitude"
        errs.append(FieldError(missing, "latitude and longitude come together"))
    elif offer.latitude is not None and offer.longitude is not None:
        if not (GERMANY_LAT[0] <= offer.latitude <= GERMANY_LAT[1]):
            errs.append(FieldError("latitude", f"{offer.latitude} is far outside Germany"))
        if not (GERMANY_LON[0] <= offer.longitude <= GERMANY_LON[1]):
            errs.append(FieldError("longitude", f"{offer.longitude} is far outside Germany"))
    elif not offer.online:
        errs.append(FieldError("latitude", "an offer that is not online needs coordinates"))
    return errs


def _message(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "literal_error":
        msg = "must be one of: " + err["ctx"]["expected"].replace("'", "")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    if err["type"] == "missing":
        msg = "required"
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
    "latitude": frozenset({"latitude", "longitude", "online"}),
    "longitude": frozenset({"latitude", "longitude", "online"}),
}
#: Stand-ins for required fields that failed, so the other fields can still be cross-checked.
_STAND_INS = {"title": "stand-in", "category": "integration_course", "organization": "-",
              "municipality": "-"}  # fmt: skip


def validate_offer(data: dict[str, Any]) -> OfferIn:
    """Validate a whole offer; raise ``InvalidInput`` listing every problem by field.

    Field errors and cross-field errors are reported together, so an agency fixing a row
    sees everything wrong with it at once."""
    if not isinstance(data, dict):
        raise InvalidInput([FieldError("body", "an offer is a JSON object")])
    try:
        offer = OfferIn.model_validate(data)
    except ValidationError as exc:
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
