"""Bearer-token authentication and role checks for the API.

``require("agency", "admin")`` on a view: no or bad token gives 401, a valid token of another
role gives 403. An address that sent too many unknown or malformed tokens lately gets 429 for
a while (``service.security``). Scope (which agency, which centre) is checked by the domain
functions, which receive the ``Principal``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from lotse.accounts import Principal, principal_for_token
from lotse.errors import Forbidden, Unauthenticated
from service.db import db
from service.security import check_token_attempts, token_failed

F = TypeVar("F", bound=Callable[..., Any])


def bearer_principal() -> Principal | None:
    """The principal behind the request's bearer token; raises 401 for a bad token."""
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
        principal = principal_for_token(db(), token.strip())
        if principal is None:
            token_failed()
            raise Unauthenticated("the token is unknown or revoked")
    else:
        principal = _session_principal()
    g.principal = principal
    return principal


def _session_principal() -> Principal | None:
    """Web pages log in with a session cookie; the API accepts it too (same roles, same scope)."""
    from flask import session

    data = session.get("principal")
    if not data:
        return None
    return Principal(**data)


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
