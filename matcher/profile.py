"""The profile of contract v1: the recorded needs of one person, validated field by field.

``validate_profile`` is the one entry point: it returns a clean ``ProfileIn`` or raises
``InvalidInput`` naming each offending field with a dotted path (``location.place``,
``children_ages.1``). The vocabularies are catalog.schema's, so a profile and an offer can never
disagree about what "A2" or "recognised_refugee" means.

A profile is pseudonymous: ``person_ref`` is a reference the counselling centre chose, never a
name. Lotse stores it only as a salted hash (see ``matcher.impressions``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from catalog import taxonomy
from catalog.schema import (
    Benefit,
    Day,
    Gender,
    GermanLevel,
    Listed,
    Optional,
    ResidenceStatus,
    Time,
    pydantic_field_errors,
)
from catalog.vocab import GERMANY_LAT, GERMANY_LON, LEVEL_RANK, area_key, checked_language_codes
from lotse.errors import FieldError, InvalidInput
from lotse.i18n import N_
from matcher.needs import (
    PROFESSION_BIT,
    Need,
    Profession,
    normalise,
    profession_of,
    resolve_needs,
)
from matcher.places import Region, ResolvedPlace, region_of, resolve_coordinates, resolve_place
from matcher.snapshot import (
    BENEFIT_BIT,
    CATEGORY_INDEX,
    DAY_BIT,
    GENDER_BIT,
    STATUS_BIT,
    TIME_BIT,
    UNKNOWN_STATUS_BIT,
)

#: Default search radius of the contract.
DEFAULT_MAX_DISTANCE_KM = 25.0
#: More needs than this in one request is a sign of a mistake, and would dilute every list.
MAX_NEEDS = 10
MAX_CHILDREN = 15


class Location(BaseModel):
    """Where the person lives: coordinates, or a place name resolved by ``matcher.places``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    place: str | None = Field(None, min_length=2, max_length=200)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)

    @model_validator(mode="after")
    def _place_or_coordinates(self) -> Location:
        lat, lon = self.latitude, self.longitude
        if (lat is None) != (lon is None):
            raise ValueError("latitude and longitude come together")
        if lat is None and self.place is None:
            raise ValueError('give {"place": "Wetzlar"} or {"latitude": …, "longitude": …}')
        if (
            lat is not None
            and lon is not None
            and not (
                GERMANY_LAT[0] <= lat <= GERMANY_LAT[1] and GERMANY_LON[0] <= lon <= GERMANY_LON[1]
            )
        ):
            raise ValueError("the coordinates are far outside Germany")
        return self


class Availability(BaseModel):
    """When the person can attend; an empty list means "any" (nothing recorded)."""

    model_config = ConfigDict(extra="forbid")

    days: Annotated[list[Day], Listed] = Field(default_factory=list)
    times: Annotated[list[Time], Listed] = Field(default_factory=list)


class ProfileIn(BaseModel):
    """One person's situation and needs, as the counsellor records them (contract v1)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person_ref: Annotated[str | None, Optional] = Field(
        None, max_length=100, description="pseudonymous reference chosen by the centre"
    )
    age: int = Field(ge=0, le=120)
    gender: Gender = "unspecified"
    location: Location
    max_distance_km: float = Field(DEFAULT_MAX_DISTANCE_KM, gt=0, le=1000)
    online_ok: bool = False
    residence_status: Annotated[ResidenceStatus | None, Optional] = Field(
        None, description="unknown status fails offers restricted to certain statuses"
    )
    german_level: GermanLevel = "none"
    literate: bool = True
    languages: Annotated[list[str], Listed] = Field(default_factory=list)
    children_ages: Annotated[list[int], Listed] = Field(default_factory=list)
    needs: Annotated[list[str], Listed] = Field(min_length=1, max_length=MAX_NEEDS)
    profession: Annotated[str | None, Optional] = Field(None, max_length=200)
    qualification_country: Annotated[str | None, Optional] = Field(None, max_length=100)
    benefits: Annotated[list[Benefit], Listed] = Field(default_factory=list)
    availability: Availability = Field(default_factory=Availability)
    wheelchair: bool = False
    earliest_start: Annotated[date | None, Optional] = None

    @field_validator("languages")
    @classmethod
    def _iso_languages(cls, value: list[str]) -> list[str]:
        return checked_language_codes(value)

    @field_validator("children_ages")
    @classmethod
    def _child_ages(cls, value: list[int]) -> list[int]:
        if len(value) > MAX_CHILDREN:
            raise ValueError(f"at most {MAX_CHILDREN} children")
        bad = [v for v in value if not 0 <= v <= 17]
        if bad:
            raise ValueError("a child's age is between 0 and 17")
        return sorted(value)

    @field_validator("needs")
    @classmethod
    def _needs_text(cls, value: list[str]) -> list[str]:
        if any(len(v) > 200 for v in value):
            raise ValueError("a need is at most 200 characters")
        if not value:
            raise ValueError("state at least one need")
        return value

    @field_validator("benefits")
    @classmethod
    def _none_alone(cls, value: list[str]) -> list[str]:
        if "none" in value and len(value) > 1:
            raise ValueError("'none' cannot be combined with a benefit")
        return value


def validate_profile(data: Any, prefix: str = "") -> ProfileIn:
    """Validate a whole profile; raise ``InvalidInput`` listing every problem by dotted field
    (``prefix`` is put in front, e.g. ``profile.`` when the profile sits inside a request)."""
    if isinstance(data, ProfileIn):
        return data
    if not isinstance(data, dict):
        raise InvalidInput([FieldError(prefix.rstrip(".") or "profile", N_("a JSON object"))])
    try:
        return ProfileIn.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(pydantic_field_errors(exc, prefix)) from None


# -- the profile as the matcher reads it ---------------------------------------------------

#: Children below this age are "young": childcare decides whether the parent can attend.
YOUNG_CHILD_AGE = 6


@dataclass(frozen=True)
class ResolvedProfile:
    """A validated profile with its place and needs understood, in the numeric form that the
    rules and features compare against the snapshot's columns."""

    profile: ProfileIn
    place: ResolvedPlace
    needs: tuple[Need, ...]
    profession: Profession | None
    today: date
    #: For each leaf category (``taxonomy.CATEGORIES`` order): the index of the first need it
    #: serves, or -1. An offer belongs to the most important need it serves.
    need_of_category: np.ndarray
    need_priority: np.ndarray

    @property
    def latitude(self) -> float:
        return self.place.latitude

    @property
    def longitude(self) -> float:
        return self.place.longitude

    @functools.cached_property
    def region(self) -> Region:
        """The person's municipality, district and state, as offers' service areas name them."""
        return region_of(self.place.latitude, self.place.longitude)

    @functools.cached_property
    def area_keys(self) -> tuple[int, int, int]:
        """``area_key`` of the person's municipality, district and state (0: unknown)."""
        r = self.region
        return area_key(r.municipality), area_key(r.district), area_key(r.state)

    @functools.cached_property
    def profession_bit(self) -> int:
        """The person's regulated profession as a bit (0: none known)."""
        return PROFESSION_BIT[self.profession.key] if self.profession else 0

    @functools.cached_property
    def gender_bit(self) -> int:
        return GENDER_BIT[self.profile.gender]

    @functools.cached_property
    def status_bit(self) -> int:
        status = self.profile.residence_status
        return STATUS_BIT[status] if status else UNKNOWN_STATUS_BIT

    @functools.cached_property
    def benefit_bits(self) -> int:
        return sum(BENEFIT_BIT[b] for b in self.profile.benefits) or BENEFIT_BIT["none"]

    @functools.cached_property
    def level(self) -> int:
        return LEVEL_RANK[self.profile.german_level]

    @functools.cached_property
    def day_bits(self) -> int:
        """Available days as bits; 0 = nothing recorded = any day."""
        return sum(DAY_BIT[d] for d in self.profile.availability.days)

    @functools.cached_property
    def time_bits(self) -> int:
        return sum(TIME_BIT[t] for t in self.profile.availability.times)

    @functools.cached_property
    def earliest_start(self) -> int:
        """Earliest start as an ordinal; 0 = none given."""
        start = self.profile.earliest_start
        return start.toordinal() if start else 0

    @functools.cached_property
    def children(self) -> np.ndarray:
        return np.array(self.profile.children_ages, dtype=np.int16)

    @property
    def has_young_child(self) -> bool:
        return any(a < YOUNG_CHILD_AGE for a in self.profile.children_ages)

    @functools.cached_property
    def support_languages(self) -> tuple[str, ...]:
        """Languages the person speaks other than German: a shared one can carry support."""
        return tuple(c for c in self.profile.languages if c != "de")

    @functools.cached_property
    def profession_queries(self) -> tuple[str, ...]:
        """Words an offer for this person's profession would use: the regulated profession's
        field words, else the profession as written."""
        words: list[str] = []
        if self.profession is not None:
            words.extend(self.profession.field_words)
        if self.profile.profession:
            text = normalise(self.profile.profession)
            if text:
                words.append(text)
        return tuple(dict.fromkeys(words))


def resolve_profile(
    profile: ProfileIn, today: date | None = None, field_prefix: str = ""
) -> ResolvedProfile:
    """Understand a validated profile: place → coordinates, need texts → codes, profession →
    recognition. Every problem (unknown place, unknown need) is reported at once."""
    errors: list[FieldError] = []
    place = None
    loc = profile.location
    try:
        if loc.latitude is not None and loc.longitude is not None:
            place = resolve_coordinates(loc.latitude, loc.longitude)
        else:
            place = resolve_place(loc.place or "", field=f"{field_prefix}location.place")
    except InvalidInput as exc:
        errors.extend(exc.errors)
    needs: list[Need] = []
    try:
        needs = resolve_needs(profile.needs, profile.profession, field_prefix)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if errors or place is None:
        raise InvalidInput(errors)
    # One slot more than there are categories: row category -1 (unknown) reads -1.
    need_of_category = np.full(len(taxonomy.CATEGORIES) + 1, -1, dtype=np.int16)
    for i in reversed(range(len(needs))):
        for leaf in needs[i].leaves:
            need_of_category[CATEGORY_INDEX[leaf]] = i
    return ResolvedProfile(
        profile=profile,
        place=place,
        needs=tuple(needs),
        profession=profession_of(profile.profession, profile.needs),
        today=today or date.today(),
        need_of_category=need_of_category,
        need_priority=np.array([1.0 / (1 + i) for i in range(len(needs))]),
    )
