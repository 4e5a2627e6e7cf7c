"""Why an agreed offer suits the person, in the words of their own printouts.

These reasons speak to the person ("for your goal: …") and are printed on "my next steps" in
one of the person's languages (domain ``person``, ``babel-person.cfg``). The counsellor's
reasons, which speak about the person, are ``matcher.reasons.reasons_for``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog import taxonomy
from lotse.i18n import TranslatorLike, as_translator
from matcher.reasons import Reason, language_name


def offer_reasons(
    offer: Mapping[str, Any],
    goal: str | None,
    person_language: str,
    lang: TranslatorLike = "en",
) -> list[Reason]:
    """Why an agreed offer suits the person, for their printouts: the goal it serves and what
    the offer itself offers them (support in their language, childcare, a free place, no
    cost, step-free access). Reasons that need the intake (distance, level, schedule) are
    the counsellor's, from ``reasons_for`` while the intake is at hand."""
    t = as_translator(lang)
    out: list[Reason] = []
    if goal:
        out.append(
            Reason("goal", t.gettext("for your goal: %(goal)s", goal=taxonomy.label(goal, t)))
        )
    if person_language != "de" and person_language in (offer.get("languages") or ()):
        name = language_name(person_language, t)
        out.append(Reason("language", t.gettext("support in %(languages)s", languages=name)))
    if offer.get("childcare"):
        out.append(Reason("childcare", t.gettext("childcare provided during the offer")))
    free = offer.get("capacity_free")
    if free is not None and free > 0:
        out.append(
            Reason("capacity", t.ngettext("%(num)s place free", "%(num)s places free", free))
        )
    elif free == 0:
        out.append(Reason("waitlist", t.gettext("no free place now: waitlist")))
    cost = offer.get("cost_eur")
    if cost == 0:
        out.append(Reason("cost", t.gettext("free of charge")))
    elif cost:
        amount = t.decimal(cost, "#,##0.00")
        out.append(Reason("cost", t.gettext("costs %(amount)s euros", amount=amount)))
    if offer.get("wheelchair_accessible"):
        out.append(Reason("access", t.gettext("wheelchair accessible")))
    return out
