"""Pseudonymous keys for people.

Counsellors identify a person by their centre's own pseudonymous reference (``person_ref``).
Lotse stores, next to recommendations, impressions and referrals, only a keyed hash of it
(HMAC-SHA-256 with a server secret, scoped to the centre), so the stored key cannot be turned
back into the reference, and references of two centres never collide.
"""

from __future__ import annotations

import hashlib
import hmac
import os


def pseudonym_secret() -> bytes:
    """The server secret for person keys (``LOTSE_PSEUDONYM_SECRET``, else the app secret)."""
    secret = os.environ.get("LOTSE_PSEUDONYM_SECRET") or os.environ.get(
        "LOTSE_SECRET_KEY", "dev-only-not-secret"
    )
    return secret.encode()


def person_key(centre_id: str, person_ref: str) -> str:
    """The stored key of one person of one centre (64 hex characters)."""
    message = f"{centre_id}\x1f{person_ref}".encode()
    return hmac.new(pseudonym_secret(), message, hashlib.sha256).hexdigest()
