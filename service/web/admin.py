"""Administration pages: web users (create, disable, enable, new password, display name),
API tokens (list, revoke), agencies and counselling centres (display names and the
addresses the print views use). The rules are ``lotse.accounts``'; these views parse, call,
flash and redirect (post, then redirect)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from lotse import accounts
from lotse.errors import InvalidInput, NotFound
from service.db import request_session
from service.web import page_errors
from service.web.access import page_blueprint
from service.web.forms import form_int

bp = page_blueprint("admin", __name__, "/admin", roles=("admin",))


def _done(message: str, target: str) -> Any:
    request_session().commit()
    flash(message, "success")
    return redirect(url_for(target))


def _failed(exc: Exception, target: str) -> Any:
    request_session().rollback()
    flash(_("Nothing was changed: %(why)s", why=page_errors.why(exc)), "error")
    return redirect(url_for(target))


@bp.get("/")
def start() -> Any:
    return redirect(url_for(".users"))


# --- users ----------------------------------------------------------------------------------


@bp.get("/users")
def users() -> Any:
    agencies, centres = accounts.list_organisations(request_session())
    return render_template(
        "admin/users.html",
        users=accounts.list_users(request_session()),
        roles=accounts.ROLES,
        agencies=agencies,
        centres=centres,
    )


@bp.post("/users")
def create_user() -> Any:
    form = request.form
    role = form.get("role", "")
    try:
        accounts.create_user(
            request_session(),
            form.get("username", "").strip()[:64],
            form.get("password", "")[:1024],
            role,
            agency_id=(form.get("agency_id") or None) if role == "agency" else None,
            centre_id=(form.get("centre_id") or None) if role == "counsellor" else None,
            display_name=form.get("display_name", ""),
        )
    except InvalidInput as exc:
        return _failed(exc, ".users")
    return _done(_("The user was created."), ".users")


@bp.post("/users/<username>/disable")
def disable_user(username: str) -> Any:
    try:
        ended, revoked = accounts.disable_user(request_session(), username)
    except NotFound as exc:
        return _failed(exc, ".users")
    return _done(
        _(
            "%(user)s can no longer log in: %(s)s sessions ended, %(t)s tokens revoked.",
            user=username,
            s=ended,
            t=revoked,
        ),
        ".users",
    )


@bp.post("/users/<username>/enable")
def enable_user(username: str) -> Any:
    try:
        accounts.enable_user(request_session(), username)
    except NotFound as exc:
        return _failed(exc, ".users")
    return _done(_("%(user)s can log in again.", user=username), ".users")


@bp.post("/users/<username>/password")
def reset_password(username: str) -> Any:
    try:
        ended = accounts.set_password(
            request_session(), username, request.form.get("password", "")[:1024]
        )
    except (InvalidInput, NotFound) as exc:
        return _failed(exc, ".users")
    return _done(
        _("%(user)s has a new password; %(n)s sessions were ended.", user=username, n=ended),
        ".users",
    )


@bp.post("/users/<username>/name")
def display_name(username: str) -> Any:
    try:
        accounts.set_display_name(request_session(), username, request.form.get("display_name", ""))
    except (InvalidInput, NotFound) as exc:
        return _failed(exc, ".users")
    return _done(_("The display name was saved."), ".users")


# --- tokens ---------------------------------------------------------------------------------


@bp.get("/tokens")
def tokens() -> Any:
    return render_template("admin/tokens.html", tokens=accounts.list_tokens(request_session()))


@bp.post("/tokens/<token_id>/revoke")
def revoke_token(token_id: str) -> Any:
    number = form_int(token_id)
    try:
        if number is None:
            raise NotFound(f"no token with id {token_id[:20]}")
        accounts.revoke_token(request_session(), number)
    except NotFound as exc:
        return _failed(exc, ".tokens")
    return _done(_("Token %(id)s was revoked.", id=number), ".tokens")


# --- agencies and centres -------------------------------------------------------------------


@bp.get("/organisations")
def organisations() -> Any:
    agencies, centres = accounts.list_organisations(request_session())
    return render_template("admin/organisations.html", agencies=agencies, centres=centres)


@bp.post("/organisations/<kind>/<org_id>")
def describe_organisation(kind: str, org_id: str) -> Any:
    try:
        accounts.describe_organisation(
            request_session(),
            kind,
            org_id,
            request.form.get("name", ""),
            request.form.get("address", ""),
        )
    except (InvalidInput, NotFound) as exc:
        return _failed(exc, ".organisations")
    return _done(_("%(id)s was saved.", id=org_id), ".organisations")
