"""The web pages: server-rendered Jinja templates for counsellors, agencies and analysts.

``init_web(app)`` is called by the app factory, after ``service.sessions`` has set up the
sessions (kept in the database; the cookie is a random id). It binds Flask-WTF's CSRF
protection (checked by the page blueprints, and by ``service.auth`` for API writes that come
with the session cookie instead of a bearer token) and flask-babel, and registers one
blueprint per role. Pages call the same domain functions as the API views.
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect


def init_web(app: Flask) -> None:
    """Register the pages, CSRF and translations on ``app``."""
    # The page blueprints and service.auth check tokens themselves; bearer clients need none.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # A form lives no longer than the longest session.
    hours = app.extensions["lotse"].settings.session_hours
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", hours * 3600)
    CSRFProtect(app)

    from service.web import admin, agency, analyst, counsellor, pages, templating
    from service.web.i18n import init_i18n

    init_i18n(app)
    templating.init_templating(app)
    for module in (pages, agency, counsellor, analyst, admin):
        app.register_blueprint(module.bp)
    pages.register_not_found(app)
