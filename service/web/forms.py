"""Reading HTML forms into the plain dicts the domain validates, and its errors back into
per-field messages. No rule lives here: ``validate_offer`` and ``validate_profile`` decide."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from catalog.schema import LIST_FIELDS, OFFER_FIELDS
from catalog.vocab import language_code
from lotse.errors import FieldError
from service.web.page_errors import message

#: Offer fields that are yes/no checkboxes on the form.
OFFER_BOOLS = ("online", "literacy_required", "childcare", "wheelchair_accessible")
#: Offer fields with decimals, typed the German way ("2,50") or the English one ("2.50").
OFFER_DECIMALS = ("latitude", "longitude", "hours_per_week", "cost_eur")
#: Set by the server, never by the form.
OFFER_SERVER_SET = ("location_approximate",)

_GERMAN_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,[0-9]+)?")


def decimal_text(value: str) -> str:
    """A number as typed in a German form ("2,50", "1.234,5") as the domain reads it
    ("2.50", "1234.5"); anything else unchanged, so the domain names what is wrong."""
    text = value.strip()
    if "," in text and _GERMAN_DECIMAL.fullmatch(text):
        return text.replace(".", "").replace(",", ".")
    return text


def field_errors(
    errors: list[FieldError], fields: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """``{input name: [messages]}``: ``days.0`` belongs to ``days``, ``location.place`` to the
    input ``fields`` maps it to (default: the first part of the dotted name)."""
    out: dict[str, list[str]] = {}
    for err in errors:
        name = (fields or {}).get(err.field)
        if name is None:
            head = err.field.split(".")[0]
            name = (fields or {}).get(head, head)
        out.setdefault(name, [])
        text = message(err.message)
        if text not in out[name]:
            out[name].append(text)
    return out


def offer_form_data(form: MultiDict) -> dict[str, Any]:
    """An offer from the edit form, as ``validate_offer`` takes it (strings are fine: the
    schema converts them, and blanks mean "not given")."""
    data: dict[str, Any] = {}
    for name in OFFER_FIELDS:
        if name in OFFER_SERVER_SET:
            continue
        if name in OFFER_BOOLS:
            data[name] = form.get(name) == "1"
        elif name == "languages":
            # chosen by name from the list (codes), or typed: "Arabisch; uk"
            picked = [p for v in form.getlist(name) for p in v.replace(",", ";").split(";")]
            data[name] = [language_code(p) for p in picked if p.strip()]
        elif name == "professions":
            data[name] = _lines(form.get(name, "").replace(";", "\n"))
        elif name in LIST_FIELDS:
            data[name] = form.getlist(name)
        elif name in OFFER_DECIMALS:
            data[name] = decimal_text(form.get(name, ""))
        else:
            value = form.get(name, "")
            data[name] = value.strip() if isinstance(value, str) else value
    if not data.get("status"):
        data["status"] = "active"
    return data


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\r", "").split("\n") if part.strip()]


#: A whole number as a form sends it: ASCII digits only ("²" and "٣" pass ``isdigit``, but
#: are no number anyone typed in a form), and few of them.
_FORM_INT = re.compile(r"[0-9]{1,9}")


def form_int(text: str | None) -> int | None:
    """The whole number in a form value or key part, or None when it is not one."""
    if text is None or not _FORM_INT.fullmatch(text):
        return None
    return int(text)


def _ints(text: str) -> list[Any]:
    """Numbers for the domain to check; anything else stays text, so the domain names it."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    return [n if (n := form_int(p)) is not None else p for p in parts]


#: Profile fields reported by the domain → the input that shows the error.
PROFILE_INPUTS = {
    "location": "place",
    "location.place": "place",
    "availability": "days",
    "availability.days": "days",
    "availability.times": "times",
}


def profile_form_data(form: MultiDict) -> dict[str, Any]:
    """A profile from the intake form, as ``validate_profile`` takes it."""
    text = {k: (form.get(k) or "").strip() for k in form}
    data: dict[str, Any] = {
        "person_ref": text.get("person_ref") or None,
        "age": text.get("age") or None,
        "gender": text.get("gender") or "unspecified",
        "location": {"place": text.get("place") or None},
        "online_ok": form.get("online_ok") == "1",
        "residence_status": text.get("residence_status") or None,
        "german_level": text.get("german_level") or "none",
        "literate": form.get("literate") == "1",
        # by name or code: "Arabisch, Farsi" or "ar; fa"
        "languages": ";".join(
            language_code(p)
            for p in text.get("languages", "").replace(",", ";").split(";")
            if p.strip()
        ),
        "children_ages": _ints(text.get("children_ages", "")),
        "needs": _lines(text.get("needs", "")),
        "profession": text.get("profession") or None,
        "qualification_country": text.get("qualification_country") or None,
        "benefits": form.getlist("benefits"),
        "availability": {"days": form.getlist("days"), "times": form.getlist("times")},
        "wheelchair": form.get("wheelchair") == "1",
        "earliest_start": text.get("earliest_start") or None,
    }
    if text.get("max_distance_km"):
        data["max_distance_km"] = decimal_text(text["max_distance_km"])
    # Left out rather than null, so that the domain says "required".
    for key, present in (("age", text.get("age")), ("location", text.get("place"))):
        if not present:
            data.pop(key)
    return data


def profile_form_values(profile: dict[str, Any]) -> dict[str, Any]:
    """The intake form's values for a stored profile (to show it again)."""
    values = dict(profile)
    values["place"] = (profile.get("location") or {}).get("place") or ""
    values["needs"] = "\n".join(profile.get("needs") or [])
    values["children_ages"] = ", ".join(str(a) for a in profile.get("children_ages") or [])
    langs = profile.get("languages") or ""
    values["languages"] = langs if isinstance(langs, str) else "; ".join(langs)
    values["days"] = (profile.get("availability") or {}).get("days", [])
    values["times"] = (profile.get("availability") or {}).get("times", [])
    return values
