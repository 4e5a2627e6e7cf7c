"""Logging in and out, the language switch, and the start page that sends each role on."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound as NotFoundError

from lotse.accounts import authenticate_user
from service.db import request_session
from service.errors import problem
from service.security import login_failed, login_retry_after, login_succeeded
from service.web.access import (
    check_csrf,
    log_in,
    log_out,
    page_principal,
    register_page_errors,
    safe_next,
)
from service.web.i18n import LANGUAGES, current_language

bp = Blueprint("web", __name__)
register_page_errors(bp)

#: Where each role starts.
START = {
    "counsellor": "counsel.start",
    "agency": "agency.start",
    "analyst": "analyst.start",
    "admin": "analyst.start",
}


#: Paths of the machine interfaces: an unknown one there gets the API's problem+json.
API_PATHS = ("/v1/", "/hsds", "/healthz", "/readyz", "/metrics", "/openapi", "/static/")


def register_not_found(app: Flask) -> None:
    """An unknown page URL asked for by a browser gets an HTML page in the page's language;
    an unknown API path, or a client that does not ask for HTML, keeps the API's
    problem+json (``service.errors``)."""

    @app.errorhandler(NotFoundError)
    def _not_found(exc: NotFoundError) -> Any:
        # A browser names text/html in Accept; API clients and tools keep problem+json.
        wants_page = any(m == "text/html" for m, _q in request.accept_mimetypes)
        if request.path.startswith(API_PATHS) or not wants_page:
            return problem(404, exc.name, exc.description or exc.name)
        page = render_template(
            "error.html",
            status=404,
            title=_("Page not found"),
            detail=_(
                "There is no page at this address. Check the address, or start again from your start page."
            ),
            principal=page_principal(),
            lang=current_language(),
            languages=LANGUAGES,
        )
        return page, 404


@bp.before_request
def _csrf() -> None:
    check_csrf()


@bp.get("/")
def index() -> Any:
    principal = page_principal()
    if principal is None:
        return redirect(url_for(".login"))
    return redirect(url_for(START.get(principal.role, ".login")))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")[:1024]
        # Too many failures for this name from this address: refused before the password is
        # even checked (Argon2id already makes each guess costly).
        wait = login_retry_after(username)
        if wait:
            return _too_many_attempts(target, username, wait)
        principal = (
            authenticate_user(request_session(), username, password)
            if username and password
            else None
        )
        logged_in = principal is not None and log_in(principal, username)
        # The counts are written in transactions of their own; nothing read here is needed.
        request_session().rollback()
        if logged_in:
            login_succeeded(username)
            return redirect(target or url_for(".index"))
        login_failed(username)
        error = _("Username or password is wrong.")
    status = 401 if error else 200
    return render_template("login.html", error=error, next=target, username=username), status


def _too_many_attempts(target: str | None, username: str, wait: int) -> Response:
    minutes = max(1, -(-wait // 60))
    error = _(
        "Too many failed attempts. Please wait %(minutes)s minutes and try again.",
        minutes=minutes,
    )
    page = render_template("login.html", error=error, next=target, username=username)
    return Response(page, status=429, headers={"Retry-After": str(wait)}, mimetype="text/html")


@bp.post("/logout")
def logout() -> Any:
    log_out()
    return redirect(url_for(".login", out=1))


@bp.post("/language")
def language() -> Any:
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for(".index"))
