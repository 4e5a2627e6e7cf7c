"""Who may see a page: the web login in the session, roles per blueprint, CSRF on every form.

The session is kept on the server (``service.sessions``); the cookie is a random id.

A page blueprint made by ``page_blueprint`` turns away a logged-out visitor (to the login page,
coming back afterwards) and a person of another role (a 403 page), and checks the CSRF token
of every form it receives. Errors inside its pages are shown as pages, not as the API's JSON.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from lotse.accounts import Principal
from lotse.errors import Forbidden, LotseError, NotFound, Unauthenticated
from service.errors import status_for
from service.sessions import log_in as start_session
from service.sessions import log_out as end_session
from service.sessions import session_principal

log = logging.getLogger("lotse.web")


def page_principal() -> Principal | None:
    """The person logged in with this session, or None."""
    return session_principal()


def current_person() -> Principal:
    """The logged-in person (the blueprint guard has already turned others away)."""
    principal = page_principal()
    if principal is None:
        raise Unauthenticated("please log in")
    return principal


def log_in(principal: Principal, username: str) -> bool:
    """Start a fresh session for ``principal`` (an old session's contents are dropped, the
    language kept); False when the user was disabled meanwhile."""
    return start_session(username, principal)


def log_out() -> None:
    """End the session on the server, wherever its cookie is."""
    end_session()


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirects, and no
    control characters, which would break the ``Location`` header)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None  # a line break would end up in the Location header
    return target


def check_csrf() -> None:
    """Refuse a form without a valid CSRF token (Flask-WTF, signed per session)."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        current_app.extensions["csrf"].protect()


def render_error(status: int, title: str, detail: str = "") -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, detail=detail), status


def page_blueprint(
    name: str, import_name: str, url_prefix: str, roles: tuple[str, ...]
) -> Blueprint:
    """A blueprint of pages for ``roles`` (empty: any logged-in person)."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)

    @bp.before_request
    def _guard() -> Any:
        principal = page_principal()
        if principal is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        if roles and principal.role not in roles:
            raise Forbidden("wrong role")
        check_csrf()
        return None

    register_page_errors(bp)
    return bp


def register_page_errors(bp: Blueprint) -> None:
    """Show failures inside ``bp``'s pages as pages."""

    @bp.errorhandler(Unauthenticated)
    def _login(exc: Unauthenticated) -> Any:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))

    @bp.errorhandler(Forbidden)
    def _forbidden(exc: Forbidden) -> Any:
        return render_error(
            403,
            _("Not allowed"),
            _("Your role may not open this page. Go to your start page to see what you can do."),
        )

    @bp.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Any:
        return render_error(404, _("Not found"), exc.detail)

    @bp.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return render_error(
            400,
            _("The form has expired"),
            _(
                "For your safety, forms are valid for a limited time. Go back, reload the page and send it again."
            ),
        )

    @bp.errorhandler(LotseError)
    def _domain(exc: LotseError) -> Any:
        return render_error(status_for(exc), exc.title, exc.detail)

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return render_error(exc.code or 500, exc.name, exc.description or "")

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on page %s %s", request.method, request.path)
        return render_error(
            500, _("Something went wrong"), _("An unexpected error occurred. Please try again.")
        )
