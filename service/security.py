"""Security on every response and against guessing: headers, HTTPS, proxies, rate limits.

``init_security(app)`` is called by the app factory. It

- sets security headers on every response: a Content-Security-Policy for pages that load no
  script at all (styles from ``/static`` plus the one inline ``<style>`` of the printable
  agreement, allowed by its hash), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options:
  DENY`` with ``frame-ancestors 'none'``, ``Referrer-Policy: same-origin`` (paths can carry a
  person's reference, so they never leave the site; same-origin keeps the Referer that
  Flask-WTF's CSRF check needs under HTTPS), a Permissions-Policy that turns off device APIs,
  and, with ``LOTSE_HTTPS=1``, HSTS;
- trusts ``X-Forwarded-For`` / ``-Proto`` from ``LOTSE_PROXY_HOPS`` proxies (0 by default),
  so that rate limits see the client's address behind a load balancer;
- keeps the rate limits (``Limiter``): failed web logins per username and address (and, five
  times as many, per address), failed bearer tokens per address, reads of the public API
  without credentials per address, and catalogue exports per client. Past a limit the
  answer is 429 with ``Retry-After`` (seconds until the window ends).

The counts live in the database (``lotse.ratelimits``: one upsert per counted request), so
every process and every server behind a load balancer counts together.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import TooManyRequests

from lotse import ratelimits
from lotse.db import transaction
from lotse.settings import Settings
from service.db import state
from service.errors import problem

#: The per-address login limit is this many times the per-username limit.
LOGIN_ADDRESS_FACTOR = 5
#: Windows of the limits on anonymous reads and on exports, in seconds.
MINUTE, HOUR = 60, 3600
#: How often one process deletes the counters of ended windows, in seconds.
PURGE_EVERY = 60
#: Refused keys one process remembers (then it forgets them all and asks the database).
MAX_REFUSED_KEYS = 10_000
HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)


# --- rate limits ---------------------------------------------------------------------------


class RateLimited(TooManyRequests):
    """Too many requests or failures from this client; answered as 429 problem+json with
    Retry-After."""

    def __init__(self, retry_after: int, detail: str) -> None:
        super().__init__(description=detail, retry_after=retry_after)
        self.wait = retry_after


class Limiter:
    """The rate limits of one app, counted in the database (see the module docstring).

    A limit of 0 is off: nothing is counted or looked up for it."""

    def __init__(self, settings: Settings) -> None:
        self.window = settings.rate_limit_window_seconds
        self.login_max = settings.login_max_failures
        self.token_max = settings.token_max_failures
        self.anonymous_max = settings.anon_reads_per_minute
        self.export_max = settings.exports_per_hour
        #: Seconds since the epoch; tests set their own.
        self.clock: Callable[[], float] = time.time
        self._purged_at = 0.0
        #: Keys this process saw past their limit, with the end of that window: a count only
        #: grows within its window, so until then they are refused without a database write.
        self._refused_until: dict[str, float] = {}

    def over_limit(self, key: str, seconds: int, most: int) -> int | None:
        """Count one for ``key``; the seconds to wait when that makes more than ``most`` in
        the current window, else None."""
        now = self.clock()
        until = self._refused_until.get(key)
        if until is not None:
            if now < until:
                return max(1, math.ceil(until - now))
            self._refused_until.pop(key, None)
        window = self.count(key, seconds)
        if window.count <= most:
            return None
        if len(self._refused_until) >= MAX_REFUSED_KEYS:
            self._refused_until.clear()
        self._refused_until[key] = now + window.resets_in
        return window.resets_in

    def count(self, key: str, seconds: int) -> ratelimits.Window:
        """Count one for ``key`` (in a transaction of its own) and return the new count."""
        now = self.clock()
        with transaction(state().sessions) as session:
            window = ratelimits.count(session, key, seconds, now)
            if now - self._purged_at >= PURGE_EVERY:
                self._purged_at = now
                ratelimits.purge_expired(session, now)
        return window

    def peek(self, key: str, seconds: int) -> ratelimits.Window:
        """``key``'s count, read in the request's own session: a read needs no transaction
        of its own (and on every authenticated request, one commit fewer counts)."""
        from service.db import request_session

        return ratelimits.peek(request_session(), key, seconds, self.clock())

    def forget(self, key: str) -> None:
        with transaction(state().sessions) as session:
            ratelimits.forget(session, key)


def rate_limits() -> Limiter:
    return current_app.extensions["lotse_rate_limits"]


def client_address() -> str:
    """The client's address (behind ``LOTSE_PROXY_HOPS`` trusted proxies: the forwarded one)."""
    return request.remote_addr or "unknown"


def _hashed(name: str) -> str:
    # Hashed so that the counters hold no usernames.
    return hashlib.sha256(name.strip().lower().encode()).hexdigest()[:32]


def _login_key(username: str) -> str:
    return f"login:{_hashed(username)}|{client_address()}"


def _login_address_key() -> str:
    return f"login-address:{client_address()}"


def login_retry_after(username: str) -> int | None:
    """Seconds this username from this address must wait before trying again, or None."""
    limits = rate_limits()
    if limits.login_max <= 0:
        return None
    waits = []
    for key, most in (
        (_login_key(username), limits.login_max),
        (_login_address_key(), limits.login_max * LOGIN_ADDRESS_FACTOR),
    ):
        window = limits.peek(key, limits.window)
        if window.count >= most:
            waits.append(window.resets_in)
    return max(waits) if waits else None


def login_failed(username: str) -> None:
    limits = rate_limits()
    if limits.login_max > 0:
        limits.count(_login_key(username), limits.window)
        limits.count(_login_address_key(), limits.window)


def login_succeeded(username: str) -> None:
    limits = rate_limits()
    if limits.login_max > 0:
        limits.forget(_login_key(username))


def check_token_attempts() -> None:
    """Refuse (429) a bearer token from an address with too many failed tokens lately."""
    limits = rate_limits()
    if limits.token_max <= 0:
        return
    window = limits.peek(f"token:{client_address()}", limits.window)
    if window.count >= limits.token_max:
        raise RateLimited(
            window.resets_in,
            f"too many requests with unknown or malformed tokens from this address; "
            f"try again in {window.resets_in} seconds",
        )


def token_failed() -> None:
    limits = rate_limits()
    if limits.token_max > 0:
        limits.count(f"token:{client_address()}", limits.window)


def count_anonymous_read() -> None:
    """Count a read of the public API without credentials against the client's address;
    429 past ``LOTSE_ANON_READS_PER_MINUTE``."""
    limits = rate_limits()
    if limits.anonymous_max <= 0:
        return
    wait = limits.over_limit(f"anon:{client_address()}", MINUTE, limits.anonymous_max)
    if wait:
        raise RateLimited(
            wait,
            f"more than {limits.anonymous_max} requests per minute without credentials from "
            f"this address; try again in {wait} seconds, or use a token",
        )


def count_export(client: str | None) -> None:
    """Count a catalogue export of ``client`` (a principal's name; None: the address);
    429 past ``LOTSE_EXPORTS_PER_HOUR``."""
    limits = rate_limits()
    if limits.export_max <= 0:
        return
    key = f"export:{_hashed(client)}" if client else f"export-address:{client_address()}"
    wait = limits.over_limit(key, HOUR, limits.export_max)
    if wait:
        raise RateLimited(
            wait,
            f"more than {limits.export_max} exports per hour from this client; try again "
            f"in {wait} seconds",
        )


# --- headers -------------------------------------------------------------------------------


def inline_style_hashes(app: Flask) -> list[str]:
    """CSP sources (``'sha256-…'``) for every literal ``<style>`` block in the templates.

    The blocks hold no template expressions, so the rendered text is the source text."""
    hashes: set[str] = set()
    loader = app.jinja_env.loader
    if loader is None:
        return []
    for name in loader.list_templates():
        if not name.endswith(".html"):
            continue
        source, _filename, _uptodate = loader.get_source(app.jinja_env, name)
        for block in _STYLE_BLOCK.findall(source):
            if "{{" in block or "{%" in block:
                continue
            digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
            hashes.add(f"'sha256-{digest}'")
    return sorted(hashes)


def content_security_policy(style_hashes: list[str]) -> str:
    """No scripts, no plugins, no framing; styles and images only from this site."""
    return "; ".join(
        [
            "default-src 'none'",
            "style-src " + " ".join(["'self'", *style_hashes]),
            "img-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def security_headers(csp: str, https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


# --- wiring --------------------------------------------------------------------------------


def init_security(app: Flask, settings: Settings) -> None:
    """Headers, HTTPS settings, trusted proxies and rate limits for ``app``."""
    https = settings.https
    if https:
        app.config["PREFERRED_URL_SCHEME"] = "https"
    hops = settings.proxy_hops
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    app.extensions["lotse_rate_limits"] = Limiter(settings)

    headers = security_headers(content_security_policy(inline_style_hashes(app)), https)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(RateLimited)
    def _rate_limited(exc: RateLimited) -> Response:
        resp = problem(429, "Too many requests", exc.description or "")
        resp.headers["Retry-After"] = str(exc.wait)
        return resp
