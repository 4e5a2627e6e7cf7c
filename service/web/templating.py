"""Filters and globals the templates share: labels, dates, the logged-in person, navigation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, request
from flask_babel import format_currency, format_date, format_datetime, format_decimal

from service.sessions import current_session
from service.web import labels, page_errors, page_labels
from service.web.access import page_principal
from service.web.i18n import LANGUAGES, current_language


def _label(code: str | None, table: str) -> str:
    return labels.label(labels.TABLES.get(table) or page_labels.TABLES[table], code)


def _labelled(codes: list[str], table: str) -> dict[str, str]:
    """Codes as the options of a select: ``{code: label}`` in the codes' order."""
    return {code: _label(code, table) for code in codes}


def _actor(actor: str | None) -> str:
    """An actor label (``agency:vhs-wetzlar``) as people read it: "provider vhs-wetzlar"."""
    if not actor:
        return "–"
    role, _sep, scope = actor.partition(":")
    name = page_labels.ACTOR_ROLES.get(role)
    if name is None:
        return actor
    return f"{name} {scope}".strip() if role in ("agency", "counsellor") else str(name)


def _when(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    if isinstance(value, date):
        return format_date(value, "medium")
    return str(value)


def _number(value: Any, digits: int = 1, fixed: bool = False) -> str:
    """A number in the page's notation, rounded to ``digits``; ``fixed`` keeps trailing
    zeros (estimates side by side read as 0,810 and 0,795, not 0,81 and 0,795)."""
    if value is None:
        return "–"
    if fixed and digits > 0:
        return format_decimal(float(value), format="#,##0." + "0" * digits)
    return format_decimal(round(float(value), digits))


def _month_year(value: Any, lang: str | None = None) -> str:
    """A month as people write a deadline: "Juni 2027" (German) or "June 2027"."""
    if not value:
        return ""
    if lang:
        from babel.dates import format_date as babel_format_date

        return babel_format_date(value, "MMMM yyyy", locale=lang)
    return format_date(value, "MMMM yyyy")


def _goal(goal: dict) -> str:
    """A goal's target worded with its date: "B1 bis Juni 2027"."""
    from flask_babel import gettext as _

    target = goal.get("target") or ""
    by = goal.get("target_by")
    if target and by:
        return _("%(target)s by %(month)s", target=target, month=_month_year(by))
    if by:
        return _("by %(month)s", month=_month_year(by))
    return target


#: Offer fields whose codes have a label table.
_VALUE_TABLES = {
    "days": "days",
    "times": "times",
    "genders": "genders",
    "residence_statuses": "residence_statuses",
    "benefits_required": "benefits",
    "target_groups": "target_groups",
    "min_german_level": "german_levels",
    "max_german_level": "german_levels",
    "target_german_level": "german_levels",
    "status": "offer_statuses",
    "service_area_type": "service_area_types",
}


def _offer_value(value: Any, field: str) -> str:
    """An offer field's value as people read it: labels for codes, names for languages,
    yes/no, dates and euros in the page's format, lists joined."""
    from catalog.vocab import language_names

    if value is None or value == "" or value == []:
        return "–"
    if isinstance(value, bool):
        return str(page_labels.YES_NO[value])
    if field == "languages":
        names = language_names(current_language())
        return ", ".join(names.get(v, v) for v in value)
    if field == "category":
        return labels.category_label(value)
    if field == "cost_eur":
        return _money(value)
    if field in ("start_date", "end_date"):
        return _when(date.fromisoformat(str(value)[:10]))
    if field in ("latitude", "longitude", "hours_per_week"):
        return _number(value, 4 if field != "hours_per_week" else 1)
    table = _VALUE_TABLES.get(field)
    items = value if isinstance(value, list) else [value]
    if table:
        return ", ".join(_label(str(v), table) for v in items)
    return ", ".join(str(v) for v in items)


def _money(value: Any) -> str:
    if value is None:
        return "–"
    return format_currency(float(value), "EUR")


def _service_area(offer: Any) -> str:
    kind = getattr(offer, "service_area_type", None)
    name = getattr(offer, "service_area", None) or ""
    if not kind:
        return ""
    return page_labels.service_area_text(kind, name)


def init_templating(app: Flask) -> None:
    app.jinja_env.filters.update(
        category=labels.category_label,
        label=_label,
        labelled=_labelled,
        actor=_actor,
        field_label=page_errors.field_label,
        domain_message=page_errors.message,
        when=_when,
        number=_number,
        money=_money,
        offer_value=_offer_value,
        month_year=_month_year,
        goal=_goal,
        service_area=_service_area,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        if request.blueprint is None or request.blueprint.split(".")[0] not in PAGE_BLUEPRINTS:
            return {}
        return {
            "principal": page_principal(),
            "username": current_session().username,
            "lang": current_language(),
            "languages": LANGUAGES,
        }


PAGE_BLUEPRINTS = frozenset({"web", "agency", "counsel", "analyst", "admin"})
