"""What a web login's password must be: long enough, and none that everyone tries first.

A password of at least ``MIN_LENGTH`` characters that is not on the shipped list of common
passwords (``common_passwords.txt``: a few thousand, made from well-known patterns — frequent
words with digits, years and "!" appended, digit runs, repeats, keyboard walks), compared in
lower case, and does not contain the user's own name. The list is read on first use.
"""

from __future__ import annotations

import functools
from importlib import resources

from lotse.errors import FieldError, InvalidInput

MIN_LENGTH = 12
#: Longer passwords are refused: Argon2 hashes them all, and nobody types more.
MAX_LENGTH = 1024
#: A user name this short is no hint (``vhs``), so a password may contain it.
MIN_NAME_IN_PASSWORD = 4


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower case."""
    text = resources.files("lotse").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problems(password: str, username: str = "") -> list[str]:
    """Why ``password`` is refused (empty when it is fine)."""
    if len(password) < MIN_LENGTH:
        return [f"at least {MIN_LENGTH} characters"]
    if len(password) > MAX_LENGTH:
        return [f"at most {MAX_LENGTH} characters"]
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        return ["a common password; choose one that is not on lists of frequent passwords"]
    name = username.lower()
    if len(name) >= MIN_NAME_IN_PASSWORD and name in lowered:
        return ["must not contain the user name"]
    return []


def check_password(password: str, username: str = "") -> None:
    """``InvalidInput`` on ``password`` when ``password_problems`` finds any."""
    problems = password_problems(password, username)
    if problems:
        raise InvalidInput([FieldError("password", p) for p in problems])
