"""``/v1/recommendations``: suggested offers for a profile, and why any offer fits or not."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("recommendations", __name__, url_prefix="/v1/recommendations")
