"""The web pages: server-rendered Jinja templates for counsellors, agencies and analysts.

``init_web(app)`` is called by the app factory. It sets the session cookie up for people
(HttpOnly, SameSite=Lax, eight hours), binds Flask-WTF's CSRF protection (checked only by the
page blueprints: the API authenticates with bearer tokens) and flask-babel, and registers one
blueprint per role. Pages call the same domain functions as the API views.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect


def init_web(app: Flask) -> None:
    """Register the pages, sessions, CSRF and translations on ``app``."""
    # Flask has defaults for these, so they are set outright.
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="lotse_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
    )
    # The page blueprints check tokens themselves; API clients send bearer tokens, not forms.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    CSRFProtect(app)

    from service.web import agency, analyst, counsellor, pages, templating
    from service.web.i18n import init_i18n

    init_i18n(app)
    templating.init_templating(app)
    for module in (pages, agency, counsellor, analyst):
        app.register_blueprint(module.bp)
