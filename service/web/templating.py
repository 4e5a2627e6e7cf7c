"""Filters and globals the templates share: labels, dates, the logged-in person, navigation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, request
from flask_babel import format_date, format_datetime, format_decimal

from service.sessions import current_session
from service.web import labels
from service.web.access import page_principal
from service.web.i18n import LANGUAGES, current_language


def _label(code: str | None, table: str) -> str:
    return labels.label(labels.TABLES[table], code)


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


def init_templating(app: Flask) -> None:
    app.jinja_env.filters.update(
        category=labels.category_label,
        label=_label,
        when=_when,
        number=_number,
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


PAGE_BLUEPRINTS = frozenset({"web", "agency", "counsel", "analyst"})
