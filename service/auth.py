"""Authentication and role checks for the API: bearer tokens, or the web session's cookie.

``require("agency", "admin")`` on a view: no or bad credentials give 401, a valid principal of
another role gives 403. An address that sent too many unknown or malformed tokens lately gets
429 for a while (``service.security``). Scope (which agency, which centre) is checked by the
domain functions, which receive the ``Principal``.

A browser that is logged in to the pages may call the API with its session cookie. Because
a browser sends that cookie with requests other sites make it send, a write (POST, PUT,
PATCH, DELETE) with the cookie must also carry the session's CSRF token in ``X-CSRFToken``
(the value of any page's ``csrf_token`` field), and its ``Origin`` (else its ``Referer``),
when present, must be this site. Bearer-token calls need neither: no browser adds a token on
its own.

``limit_anonymous_reads`` (a ``before_request`` hook of the public read blueprints) counts
reads without credentials against the client's address.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import g, request
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from lotse.accounts import Principal, principal_for_token
from lotse.errors import Forbidden, Unauthenticated
from service.db import request_session
from service.security import check_token_attempts, count_anonymous_read, token_failed
from service.sessions import session_principal

F = TypeVar("F", bound=Callable[..., Any])
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")


def bearer_principal() -> Principal | None:
    """The principal behind the request's bearer token or session cookie; raises 401 for a
    bad token and 403 for a cookie-authenticated write without the CSRF token."""
    if "principal" in g:
        return g.principal
    header = request.headers.get("Authorization", "")
    principal = None
    if header:
        # An address that sent too many bad tokens lately is refused before any lookup.
        check_token_attempts()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            token_failed()
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        principal = principal_for_token(request_session(), token.strip())
        if principal is None:
            request_session().rollback()  # the failure is counted in a transaction of its own
            token_failed()
            raise Unauthenticated("the token is unknown or revoked")
    else:
        principal = _session_principal()
    g.principal = principal
    return principal


def _session_principal() -> Principal | None:
    """The person logged in to the pages, for API calls made with the session cookie."""
    principal = session_principal()
    if principal is not None and request.method in WRITES:
        check_cookie_write()
    return principal


def check_cookie_write() -> None:
    """Refuse (403) a write made with the session cookie that lacks the session's CSRF token
    or comes from another site."""
    token = next((request.headers[h] for h in CSRF_HEADERS if request.headers.get(h)), None)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise Forbidden(
            "a write with the session cookie needs the session's CSRF token in the "
            f"X-CSRFToken header ({exc.args[0] if exc.args else 'invalid'}); API clients "
            "use 'Authorization: Bearer <token>'"
        ) from None
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source and not same_origin(source):
        raise Forbidden("a write with the session cookie must come from this site")


def same_origin(url: str) -> bool:
    """Whether ``url`` (an Origin or a Referer) names this site's scheme, host and port."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() == request.host_url.rstrip("/").lower()


def limit_anonymous_reads() -> None:
    """Count a read without credentials against the client's address (429 past
    ``LOTSE_ANON_READS_PER_MINUTE``); token holders and logged-in people are not counted.

    Public reads need no token, so a bad one is not refused here, but it buys nothing: it
    counts as a failed token and the read as anonymous."""
    if request.method not in ("GET", "HEAD"):
        return
    try:
        principal = bearer_principal()
    except Unauthenticated:
        principal = g.principal = None
    if principal is None:
        count_anonymous_read()


def require(*roles: str) -> Callable[[F], F]:
    """Allow only callers with one of ``roles`` (401 without credentials, 403 otherwise)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = bearer_principal()
            if principal is None:
                raise Unauthenticated("this endpoint needs 'Authorization: Bearer <token>'")
            if principal.role not in roles:
                raise Forbidden(
                    f"role '{principal.role}' may not do this; needs {' or '.join(roles)}"
                )
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def current_principal() -> Principal:
    principal = bearer_principal()
    if principal is None:
        raise Unauthenticated("authentication required")
    return principal
