"""Domain errors as the pages show them: field names as the form's labels, and the domain's
messages (English, for API clients) in the page's language.

The domain keeps one wording of each rule. A fixed message is marked ``N_`` where it is
raised, so it is a message id of the catalogue and is translated as it stands; a message
with values in it (an age, a place, a list of options) is recognised here by its shape and
said again through the catalogue. A message neither knows is shown as the domain wrote it,
so nothing is ever hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lotse.errors import FieldError, InvalidInput

#: Form fields by the names the domain reports (offers, profiles, agreements).
FIELD_LABELS = {
    "external_id": _l("Your own key"),
    "title": _l("Title"),
    "description": _l("Description"),
    "category": _l("Category"),
    "organization": _l("Organisation"),
    "municipality": _l("Municipality"),
    "street": _l("Street"),
    "postcode": _l("Postcode"),
    "latitude": _l("Latitude"),
    "longitude": _l("Longitude"),
    "online": _l("Online"),
    "languages": _l("Languages"),
    "min_age": _l("Minimum age"),
    "max_age": _l("Maximum age"),
    "genders": _l("Genders"),
    "residence_statuses": _l("Residence statuses"),
    "benefits_required": _l("Benefits required"),
    "min_german_level": _l("Lowest German level"),
    "max_german_level": _l("Highest German level"),
    "target_german_level": _l("German level reached"),
    "literacy_required": _l("Literacy required"),
    "target_groups": _l("Target groups"),
    "days": _l("Days"),
    "times": _l("Times"),
    "start_date": _l("Start date"),
    "end_date": _l("End date"),
    "hours_per_week": _l("Hours per week"),
    "capacity_total": _l("Places in total"),
    "capacity_free": _l("Free places"),
    "childcare": _l("Childcare"),
    "cost_eur": _l("Cost in euros"),
    "wheelchair_accessible": _l("Wheelchair accessible"),
    "url": _l("Website"),
    "email": _l("E-mail"),
    "phone": _l("Phone"),
    "status": _l("Status"),
    "service_area_type": _l("Service area"),
    "service_area": _l("Name of the area"),
    "professions": _l("Professions"),
    "person_ref": _l("Pseudonymous reference"),
    "age": _l("Age"),
    "gender": _l("Gender"),
    "place": _l("Place of residence"),
    "max_distance_km": _l("Maximum distance in km"),
    "residence_status": _l("Residence status"),
    "german_level": _l("German level"),
    "children_ages": _l("Ages of children"),
    "needs": _l("What the person needs"),
    "profession": _l("Profession learnt"),
    "qualification_country": _l("Country of the qualification"),
    "benefits": _l("Benefits received"),
    "earliest_start": _l("Earliest start"),
    "consent": _l("Consent"),
    "reason": _l("Reason"),
    "date": _l("Date"),
    "next_review": _l("Next review"),
    "outcomes": _l("Outcomes"),
    "username": _l("User name"),
    "password": _l("Password"),
    "role": _l("Role"),
    "agency": _l("Agency"),
    "centre": _l("Centre"),
    "display_name": _l("Display name"),
    "name": _l("Name"),
    "address": _l("Address"),
    "goals": _l("Goals"),
    "steps": _l("Steps"),
    "share": _l("Share of people"),
    "people": _l("People it is judged on"),
    "design": _l("How the versions share the people"),
}


def field_label(name: str) -> str:
    """The label of a reported field (``days.0`` → "Days"); the name itself when unknown."""
    head = name.split(".")[0]
    return str(FIELD_LABELS.get(head, name))


def _pattern(regex: str, wording: Callable[[re.Match], str]) -> tuple[re.Pattern, Callable]:
    return re.compile(regex), wording


#: The domain's message shapes and what the page says instead.
MESSAGES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    _pattern(r"^required$", lambda m: _("required")),
    _pattern(r"^Field required$", lambda m: _("required")),
    _pattern(r"^must be one of: (.*)$", lambda m: _("must be one of: %(options)s", options=m[1])),
    _pattern(
        r"^a German postcode has five digits$", lambda m: _("a German postcode has five digits")
    ),
    _pattern(r"^not an e-mail address$", lambda m: _("not an e-mail address")),
    _pattern(
        r"^digits, spaces and \+ \( \) / \. - only$",
        lambda m: _("digits, spaces and + ( ) / . - only"),
    ),
    _pattern(
        r"^must start with http:// or https://$",
        lambda m: _("must start with http:// or https://"),
    ),
    _pattern(
        r"^latitude and longitude come together$",
        lambda m: _("latitude and longitude come together"),
    ),
    _pattern(r"^Input should be a valid number.*$", lambda m: _("must be a number, e.g. 2,50")),
    _pattern(r"^Input should be a valid integer.*$", lambda m: _("must be a whole number")),
    _pattern(r"^Input should be a valid date.*$", lambda m: _("must be a date")),
    _pattern(
        r"^Input should be greater than or equal to (\S+)$",
        lambda m: _("must be at least %(n)s", n=m[1]),
    ),
    _pattern(
        r"^Input should be less than or equal to (\S+)$",
        lambda m: _("must be at most %(n)s", n=m[1]),
    ),
    _pattern(
        r"^String should have at least (\d+) characters?$",
        lambda m: _("needs at least %(n)s characters", n=m[1]),
    ),
    _pattern(
        r"^String should have at most (\d+) characters?$",
        lambda m: _("may have at most %(n)s characters", n=m[1]),
    ),
    _pattern(
        r"^unknown category '(.*?)'(?:; did you mean (.*)\?)?$",
        lambda m: (
            _("unknown category “%(code)s”", code=m[1])
            + (_("; did you mean %(hint)s?", hint=m[2]) if m[2] else "")
        ),
    ),
    _pattern(
        r"^unknown ISO 639-1 language code\(s\): (.*)$",
        lambda m: _("unknown language: %(names)s", names=m[1]),
    ),
    _pattern(
        r"^min_age (\d+) is above max_age (\d+)$",
        lambda m: _("the minimum age %(lo)s is above the maximum age %(hi)s", lo=m[1], hi=m[2]),
    ),
    _pattern(
        r"^capacity_free (\d+) is above capacity_total (\d+)$",
        lambda m: _(
            "%(free)s free places are more than %(total)s places in total", free=m[1], total=m[2]
        ),
    ),
    _pattern(
        r"^the German level window (\S+)–(\S+) is empty$",
        lambda m: _("the German levels %(lo)s to %(hi)s leave no level", lo=m[1], hi=m[2]),
    ),
    _pattern(
        r"^(\S+) is far outside Germany$",
        lambda m: _("%(value)s lies far outside Germany", value=m[1]),
    ),
    _pattern(
        r"^unknown place '(.*?)'; closest: (.*)$",
        lambda m: _("unknown place “%(text)s”; closest: %(shown)s", text=m[1], shown=m[2]),
    ),
    _pattern(
        r"^unknown place '(.*?)'; give a German town or city$",
        lambda m: _("unknown place “%(text)s”; give a German town or city", text=m[1]),
    ),
    _pattern(
        r"^'(.*?)' is ambiguous; did you mean (.*)\?$",
        lambda m: _("“%(text)s” is ambiguous; did you mean %(shown)s?", text=m[1], shown=m[2]),
    ),
    _pattern(
        r"^'(.*?)' matches no known need(?:; did you mean (.*)\?)?$",
        lambda m: (
            _("“%(text)s” matches no known need", text=m[1])
            + (_("; did you mean %(hint)s?", hint=m[2]) if m[2] else "")
        ),
    ),
    _pattern(r"^state at least one need$", lambda m: _("state at least one need")),
    _pattern(
        r"^'(.*?)' names a profession and a service: .*\((\w+)\)$",
        lambda m: _(
            "“%(text)s” names a profession and a service. Write “Anerkennung als %(text)s” "
            "for the recognition of the person's profession, or “Termin: %(text)s” (or "
            "“%(text)s für meine Tochter”) when the person needs care.",
            text=m[1],
        ),
    ),
    _pattern(
        r"^a child's age is between 0 and 17$", lambda m: _("a child's age is between 0 and 17")
    ),
    _pattern(r"^at least (\d+) characters$", lambda m: _("at least %(n)s characters", n=m[1])),
    _pattern(r"^at most (\d+) characters$", lambda m: _("at most %(n)s characters", n=m[1])),
    _pattern(
        r"^a common password;.*$",
        lambda m: _("a common password; choose one that is not on lists of frequent passwords"),
    ),
    _pattern(r"^must not contain the user name$", lambda m: _("must not contain the user name")),
    _pattern(r"^no user named '(.*)'$", lambda m: _("no user named “%(name)s”", name=m[1])),
    _pattern(r"^no token with id (.*)$", lambda m: _("no token number %(id)s", id=m[1])),
    _pattern(
        r"^a referral that is '(\w+)' cannot become '(\w+)'.*$",
        lambda m: _("this referral cannot change that way now"),
    ),
    _pattern(
        r"^'(\w+)' needs a reason.*$",
        lambda m: _("choose a reason from the list"),
    ),
    _pattern(
        r"^(.*) lies in the future$",
        lambda m: _("the date lies in the future"),
    ),
    _pattern(
        r"^'(.*)' is already used by another offer of this agency$",
        lambda m: _("“%(key)s” is already used by another offer of your agency", key=m[1]),
    ),
    _pattern(
        r"^'(.*)' is already used by row (\d+) of this file$",
        lambda m: _("“%(key)s” is already used by row %(row)s of this file", key=m[1], row=m[2]),
    ),
    _pattern(
        r"^has a value in column (\d+), which has no header$",
        lambda m: _("has a value in column %(n)s, which has no header", n=m[1]),
    ),
    _pattern(r"^name the (\w+) the offer serves$", lambda m: _("name the area the offer serves")),
    _pattern(r"^one of:? (.*)$", lambda m: _("must be one of: %(options)s", options=m[1])),
    _pattern(
        r"^a known district: (.*)$", lambda m: _("a known district: %(options)s", options=m[1])
    ),
    _pattern(
        r"^every goal needs an outcome; missing goal\(s\) (.*)$",
        lambda m: _("every goal needs an outcome; missing: goal %(goals)s", goals=m[1]),
    ),
    _pattern(r"^1 to (\d+) characters$", lambda m: _("1 to %(n)s characters", n=m[1])),
    _pattern(
        r"^a calendar quarter, .*\(reports cover quarters\)$",
        lambda m: _("a calendar quarter such as 2026-Q3 (reports cover quarters)"),
    ),
    _pattern(
        r"^(\S+) is not over yet; the latest quarter to report on is (\S+)$",
        lambda m: _(
            "%(period)s is not over yet; the latest quarter to report on is %(latest)s",
            period=m[1],
            latest=m[2],
        ),
    ),
    _pattern(r"^there is no goal (\d+).*$", lambda m: _("there is no goal %(n)s", n=m[1])),
    _pattern(
        r"^no step (\d+) in this agreement$", lambda m: _("no step %(n)s in this agreement", n=m[1])
    ),
    _pattern(
        r"^cost_options give amounts in (.*) only; .*$",
        lambda m: _(
            "the costs are given in %(currencies)s only; Lotse records costs in euros, so "
            "convert them (or leave the amount out)",
            currencies=m[1],
        ),
    ),
    _pattern(
        r"^this person already has an open agreement.*$",
        lambda m: _("this person already has an open agreement; change or close that one"),
    ),
]


def _signed(number: str) -> str:
    from flask_babel import format_decimal

    return format_decimal(float(number), format="+0.0000;-0.0000")


def _compared(m: re.Match, *counts: str) -> dict[str, str]:
    """What every comparison message names: the two versions, the estimate and its interval,
    and the message's own ``counts`` (people, requests, days) as matched."""
    return {
        "c": m["c"],
        "r": m["r"],
        "est": _signed(m["est"]),
        "lo": _signed(m["lo"]),
        "hi": _signed(m["hi"]),
        **{name: m[name] for name in counts},
    }


def _gate_comparison(m: re.Match) -> str:
    return _(
        "%(c)s against %(r)s: %(metric)s differs by %(est)s (95 %% interval %(lo)s to %(hi)s, "
        "%(n)s people)",
        **_compared(m, "metric", "n"),
    )


_GATE = (
    r"(?P<c>\S+) vs (?P<r>\S+): (?P<metric>\S+) difference (?P<est>\S+) "
    r"\(95% interval (?P<lo>\S+) to (?P<hi>\S+), (?P<n>\d+) people\)$"
)
_ONLINE = (
    r"(?P<c>\S+) vs (?P<r>\S+) online: mean gain per request (?P<est>\S+) "
    r"\(95% interval (?P<lo>\S+) to (?P<hi>\S+); (?P<n1>\d+) and (?P<n2>\d+) people, "
    r"outcomes matured (?P<days>\S+) days\)$"
)


def _online_comparison(m: re.Match) -> str:
    return _(
        "%(c)s against %(r)s online: mean gain per request differs by %(est)s (95 %% interval "
        "%(lo)s to %(hi)s; %(n1)s and %(n2)s people, outcomes at least %(days)s days old)",
        **_compared(m, "n1", "n2", "days"),
    )


_INTERLEAVED = (
    r"(?P<c>\S+) vs (?P<r>\S+) interleaved: gain credited per request (?P<est>\S+) "
    r"\(95% interval (?P<lo>\S+) to (?P<hi>\S+); (?P<n>\d+) requests of (?P<people>\d+) "
    r"people, outcomes matured (?P<days>\S+) days\)$"
)


def _interleaved_comparison(m: re.Match) -> str:
    return _(
        "%(c)s against %(r)s in interleaved lists: gain credited per request differs by "
        "%(est)s (95 %% interval %(lo)s to %(hi)s; %(n)s requests of %(people)s people, "
        "outcomes at least %(days)s days old)",
        **_compared(m, "n", "people", "days"),
    )


def _decisions(what: str, describe: Callable[[re.Match], str]) -> list[tuple[re.Pattern, Callable]]:
    """The gate's three decisions about a comparison worded like ``what`` (a pattern ending
    in ``$``); "not distinguishable" may add what the data could have shown."""
    from flask_babel import format_decimal

    body = what.removesuffix("$")

    def better(m: re.Match) -> str:
        return _("better beyond noise (95 %% one-sided) — %(what)s", what=describe(m))

    def worse(m: re.Match) -> str:
        return _("worse (95 %% one-sided) — %(what)s", what=describe(m))

    def noise(m: re.Match) -> str:
        text = _("not distinguishable from %(r)s — %(what)s", r=m[1], what=describe(m))
        if m["size"] is None:
            return text
        size = format_decimal(float(m["size"]), format="0.0000")
        return text + _(
            "; these data would show a difference of %(size)s or more 4 times in 5", size=size
        )

    return [
        _pattern(r"^better beyond noise \(95% one-sided\) — " + what, better),
        _pattern(r"^worse \(95% one-sided\) — " + what, worse),
        _pattern(
            r"^not distinguishable from (\S+) — "
            + body
            + r"(?:; these data would show a difference of (?P<size>\S+) or more 4 times in 5)?$",
            noise,
        ),
    ]


# The gate's decisions, offline (``_GATE``), online (``_ONLINE``) and interleaved alike.
MESSAGES += (
    _decisions(_GATE, _gate_comparison)
    + _decisions(_ONLINE, _online_comparison)
    + _decisions(_INTERLEAVED, _interleaved_comparison)
)
MESSAGES += [
    _pattern(
        r"^(\S+) not promoted: (.*); promote with force to override$",
        lambda m: _(
            "%(v)s not promoted: %(why)s; promote with force to override",
            v=m[1],
            why=message(m[2]),
        ),
    ),
    _pattern(
        r"^the online comparison cannot tell yet \((.*)\)$",
        lambda m: _("the online comparison cannot tell yet (%(missing)s)", missing=message(m[1])),
    ),
    _pattern(
        r"^(\d+) of its (\d+) planned people have matured requests$",
        lambda m: _("%(m)s of its %(n)s planned people have matured requests", m=m[1], n=m[2]),
    ),
    _pattern(
        r"^an online comparison is already running \((\S+)\); stop it first$",
        lambda m: _("an online comparison is already running (%(v)s); stop it first", v=m[1]),
    ),
    _pattern(
        r"^(\S+) is the active version; compare another one$",
        lambda m: _("%(v)s is the active version; compare another one", v=m[1]),
    ),
    _pattern(
        r"^an arm has fewer than (\d+) people$",
        lambda m: _("an arm has fewer than %(n)s people", n=m[1]),
    ),
    _pattern(
        r"^(\S+) has not been compared online; .*$",
        lambda m: _(
            "%(v)s has not been compared online; start a comparison and let its outcomes mature",
            v=m[1],
        ),
    ),
    _pattern(
        r"^the online comparison of (\S+) was against (\S+), but (\S+) serves now; .*$",
        lambda m: _(
            "the online comparison of %(v)s was against %(c)s, but %(a)s serves now; start a "
            "new comparison",
            v=m[1],
            c=m[2],
            a=m[3],
        ),
    ),
    _pattern(
        r"^no counterfactual estimate of (\S+) could be made for (\S+) against (\S+) .*$",
        lambda m: _(
            "no counterfactual estimate of %(metric)s could be made for %(c)s against %(r)s "
            "(no shown offer in the test data led to a referral)",
            metric=m[1],
            c=m[2],
            r=m[3],
        ),
    ),
    _pattern(
        r"^(\S+) and (.+) share no test data with outcomes.*$",
        lambda m: _(
            "%(c)s and %(r)s share no test data with outcomes, so it cannot be shown that "
            "the candidate is better",
            c=m[1],
            r=m[2],
        ),
    ),
]


def message(text: str) -> str:
    """A domain message in the page's language (as written when it is not known).

    A fixed message is its own catalogue entry (the domain marks it with ``N_``); one with
    values in it is recognised by its shape (``MESSAGES``)."""
    translated = _(text)
    if translated != text:
        return translated
    for pattern, wording in MESSAGES:
        match = pattern.match(text)
        if match:
            return wording(match)
    return text


def field_messages(errors: list[FieldError]) -> list[FieldError]:
    """The errors with their messages in the page's language (fields unchanged)."""
    return [FieldError(e.field, message(e.message)) for e in errors]


def why(exc: Exception) -> str:
    """What went wrong, for a flash message: "Label: message; …" or the detail."""
    if isinstance(exc, InvalidInput):
        return "; ".join(f"{field_label(e.field)}: {message(e.message)}" for e in exc.errors)
    return message(getattr(exc, "detail", "") or str(exc))
