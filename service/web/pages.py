"""Logging in and out, the language switch, and the start page that sends each role on."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from lotse.accounts import authenticate_user
from service.db import db
from service.web.access import (
    check_csrf,
    log_in,
    log_out,
    page_principal,
    register_page_errors,
    safe_next,
)
from service.web.i18n import LANGUAGES

bp = Blueprint("web", __name__)
register_page_errors(bp)

#: Where each role starts.
START = {
    "counsellor": "counsel.start",
    "agency": "agency.start",
    "analyst": "analyst.start",
    "admin": "analyst.start",
}


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
        # Rate limiting of failed logins is a later issue; Argon2id makes each guess costly.
        principal = authenticate_user(db(), username, password) if username and password else None
        if principal is not None:
            log_in(principal, username)
            return redirect(target or url_for(".index"))
        error = _("Username or password is wrong.")
    status = 401 if error else 200
    return render_template("login.html", error=error, next=target, username=username), status


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
