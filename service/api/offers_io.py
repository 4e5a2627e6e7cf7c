"""``/v1/offers/import`` and ``/v1/offers/export``: bulk import and export of offers."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("offers_io", __name__, url_prefix="/v1/offers")
