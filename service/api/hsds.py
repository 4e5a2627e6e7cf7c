"""``/hsds/``: the HSDS 3.0 read API over the catalogue."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("hsds", __name__, url_prefix="/hsds")
