"""Security on every response and against guessing: headers, HTTPS, proxies, rate limits.

``init_security(app)`` is called by the app factory. It

- sets security headers on every response: a Content-Security-Policy for pages that load no
  script at all (styles from ``/static`` plus the one inline ``<style>`` of the printable
  agreement, allowed by its hash), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options:
  DENY`` with ``frame-ancestors 'none'``, ``Referrer-Policy: same-origin`` (paths can carry a
  person's reference, so they never leave the site; same-origin keeps the Referer that
  Flask-WTF's CSRF check needs under HTTPS), a Permissions-Policy that turns off device APIs,
  and, with ``LOTSE_HTTPS=1``, HSTS and the ``Secure`` session cookie;
- trusts ``X-Forwarded-For`` / ``-Proto`` from ``LOTSE_PROXY_HOPS`` proxies (0 by default),
  so that rate limits see the client's address behind a load balancer;
- keeps per-process sliding windows of failures: web logins per username and address (and,
  five times as many, per address), bearer tokens per address. Past the limit the answer is
  429 with ``Retry-After`` until the oldest failure in the window has aged out.

Each app server process counts on its own: with N processes an attacker gets up to N times
the limit (docs/operations.md says how to enforce one limit at the load balancer).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import TooManyRequests

from lotse.settings import Settings
from service.errors import problem

#: The per-address login limit is this many times the per-username limit.
LOGIN_ADDRESS_FACTOR = 5
HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)


# --- rate limits ---------------------------------------------------------------------------


class RateLimited(TooManyRequests):
    """Too many failures from this client; answered as 429 problem+json with Retry-After."""

    def __init__(self, retry_after: int, detail: str) -> None:
        super().__init__(description=detail, retry_after=retry_after)
        self.wait = retry_after


class SlidingWindow:
    """At most ``max_failures`` failures per key within ``window`` seconds.

    Each key keeps the times of its last ``max_failures`` failures; it is blocked while the
    oldest of them is younger than the window. Thread-safe; at most ``max_keys`` keys are
    kept (the least recently failed are forgotten first), so memory stays bounded whatever
    an attacker sends. ``max_failures <= 0`` turns the limit off.
    """

    def __init__(
        self,
        max_failures: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may try again, or None when it may try now."""
        if self.max_failures <= 0:
            return None
        with self._lock:
            times = self._failures.get(key)
            if times is None or len(times) < self.max_failures:
                return None
            wait = times[0] + self.window - self.clock()
            if wait <= 0:
                return None
            return max(1, math.ceil(wait))

    def fail(self, key: str) -> None:
        """Record one failure for ``key``."""
        if self.max_failures <= 0:
            return
        with self._lock:
            times = self._failures.pop(key, None)
            if times is None:
                times = deque(maxlen=self.max_failures)
            times.append(self.clock())
            self._failures[key] = times  # most recently failed last
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a successful login)."""
        with self._lock:
            self._failures.pop(key, None)


@dataclass
class RateLimits:
    """The windows one app process keeps."""

    login: SlidingWindow
    login_address: SlidingWindow
    token: SlidingWindow


def rate_limits() -> RateLimits | None:
    return current_app.extensions.get("lotse_rate_limits")


def client_address() -> str:
    """The client's address (behind ``LOTSE_PROXY_HOPS`` trusted proxies: the forwarded one)."""
    return request.remote_addr or "unknown"


def _login_key(username: str) -> str:
    # Hashed so that the table in memory holds no usernames.
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"{name}|{client_address()}"


def login_retry_after(username: str) -> int | None:
    """Seconds this username from this address must wait before trying again, or None."""
    limits = rate_limits()
    if limits is None:
        return None
    waits = [
        limits.login.retry_after(_login_key(username)),
        limits.login_address.retry_after(client_address()),
    ]
    found = [w for w in waits if w]
    return max(found) if found else None


def login_failed(username: str) -> None:
    limits = rate_limits()
    if limits is not None:
        limits.login.fail(_login_key(username))
        limits.login_address.fail(client_address())


def login_succeeded(username: str) -> None:
    limits = rate_limits()
    if limits is not None:
        limits.login.reset(_login_key(username))


def check_token_attempts() -> None:
    """Refuse (429) a bearer token from an address with too many failed tokens lately."""
    limits = rate_limits()
    if limits is None:
        return
    wait = limits.token.retry_after(client_address())
    if wait:
        raise RateLimited(
            wait,
            f"too many requests with unknown or malformed tokens from this address; "
            f"try again in {wait} seconds",
        )


def token_failed() -> None:
    limits = rate_limits()
    if limits is not None:
        limits.token.fail(client_address())


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
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"
    hops = settings.proxy_hops
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    window = float(settings.rate_limit_window_seconds)
    login_max = settings.login_max_failures
    app.extensions["lotse_rate_limits"] = RateLimits(
        login=SlidingWindow(login_max, window),
        login_address=SlidingWindow(login_max * LOGIN_ADDRESS_FACTOR, window),
        token=SlidingWindow(settings.token_max_failures, window),
    )

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
