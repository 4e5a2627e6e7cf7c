"""Pseudonymous keys for people.

Counsellors identify a person by their centre's own pseudonymous reference (``person_ref``).
Lotse stores, next to recommendations, impressions and referrals, only a keyed hash of it
(HMAC-SHA-256 with a server secret, scoped to the centre), so the stored key cannot be turned
back into the reference, and references of two centres never collide.
"""

from __future__ import annotations

import hashlib
import hmac

from lotse.settings import UnsafeConfiguration, current


def pseudonym_secret() -> bytes:
    """The server secret for person keys (``LOTSE_PSEUDONYM_SECRET``).

    There is no fallback: a key made with a missing or known secret could be recomputed by
    anyone who guesses a reference, so without one nothing about a person is stored."""
    secret = current().pseudonym_secret
    if secret is None:
        raise UnsafeConfiguration(
            "LOTSE_PSEUDONYM_SECRET is not set; run `lotse secrets generate` or set it"
        )
    return secret.get_secret_value().encode()


def person_key(centre_id: str, person_ref: str) -> str:
    """The stored key of one person of one centre (64 hex characters)."""
    message = f"{centre_id}\x1f{person_ref}".encode()
    return hmac.new(pseudonym_secret(), message, hashlib.sha256).hexdigest()
