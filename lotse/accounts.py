"""Who may do what: agencies, counselling centres, API tokens, web users and the principal.

Tokens are random and high-entropy, so a SHA-256 digest is enough to store them; passwords are
chosen by people, so they are hashed with Argon2id.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from lotse.db import Base, utcnow
from lotse.errors import FieldError, InvalidInput
from lotse.passwords import password_problems

ROLES = ("admin", "agency", "counsellor", "analyst")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TOKEN_PREFIX = "lotse_"

_hasher = PasswordHasher()


class Agency(Base):
    """An organisation that keeps offers in the catalogue (course provider, daycare, job centre)."""

    __tablename__ = "agencies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Centre(Base):
    """A counselling centre (MBE, JMD) that owns cases: profiles, referrals, agreements."""

    __tablename__ = "centres"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"))
    centre_id: Mapped[str | None] = mapped_column(ForeignKey("centres.id"))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class User(Base):
    """A person who logs into the web pages."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"))
    centre_id: Mapped[str | None] = mapped_column(ForeignKey("centres.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a role and, for agency and counsellor, the one scope it acts in."""

    role: str
    agency_id: str | None = None
    centre_id: str | None = None
    name: str = ""

    @property
    def actor(self) -> str:
        """A short, non-personal label for history and audit logs, e.g. ``agency:vhs-wetzlar``."""
        scope = self.agency_id or self.centre_id
        return f"{self.role}:{scope}" if scope else (self.name or self.role)

    def may_edit_agency(self, agency_id: str) -> bool:
        return self.role == "admin" or (self.role == "agency" and self.agency_id == agency_id)

    def may_read_centre(self, centre_id: str) -> bool:
        return self.role == "admin" or (self.role == "counsellor" and self.centre_id == centre_id)


def _check_scope(role: str, agency_id: str | None, centre_id: str | None) -> None:
    errors: list[FieldError] = []
    if role not in ROLES:
        errors.append(FieldError("role", f"unknown role {role!r}; one of {', '.join(ROLES)}"))
    if role == "agency" and not agency_id:
        errors.append(FieldError("agency", "an agency role needs --agency ID"))
    if role == "counsellor" and not centre_id:
        errors.append(FieldError("centre", "a counsellor role needs --centre ID"))
    for name, value in (("agency", agency_id), ("centre", centre_id)):
        if value is not None and not SLUG.match(value):
            errors.append(
                FieldError(name, "must be a short slug: lowercase letters, digits, '-' or '_'")
            )
    if errors:
        raise InvalidInput(errors)


def ensure_agency(session: Session, agency_id: str, name: str | None = None) -> Agency:
    """Return the agency ``agency_id``, registering it when it is unknown."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        agency = Agency(id=agency_id, name=name or agency_id)
        session.add(agency)
        session.flush()
    return agency


def ensure_centre(session: Session, centre_id: str, name: str | None = None) -> Centre:
    """Return the centre ``centre_id``, registering it when it is unknown."""
    centre = session.get(Centre, centre_id)
    if centre is None:
        centre = Centre(id=centre_id, name=name or centre_id)
        session.add(centre)
        session.flush()
    return centre


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    role: str,
    agency_id: str | None = None,
    centre_id: str | None = None,
    label: str = "",
) -> str:
    """Create an API token and return it in clear; only its digest is stored."""
    _check_scope(role, agency_id, centre_id)
    if agency_id:
        ensure_agency(session, agency_id)
    if centre_id:
        ensure_centre(session, centre_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=_digest(token),
            role=role,
            agency_id=agency_id if role in ("agency", "admin") else None,
            centre_id=centre_id if role in ("counsellor", "admin") else None,
            label=label,
        )
    )
    session.flush()
    return token


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None for an unknown or revoked token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(
        role=row.role, agency_id=row.agency_id, centre_id=row.centre_id, name=f"token:{row.id}"
    )


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    agency_id: str | None = None,
    centre_id: str | None = None,
) -> User:
    """Create a web user with an Argon2id password hash; the password must pass
    ``lotse.passwords`` (12 characters or more, not a common one, not the user name)."""
    _check_scope(role, agency_id, centre_id)
    errors = []
    if not re.match(r"^[A-Za-z0-9._-]{2,64}$", username):
        errors.append(FieldError("username", "2-64 letters, digits, '.', '_' or '-'"))
    errors += [FieldError("password", p) for p in password_problems(password, username)]
    if session.scalar(select(User).where(User.username == username)) is not None:
        errors.append(FieldError("username", "already taken"))
    if errors:
        raise InvalidInput(errors)
    if agency_id:
        ensure_agency(session, agency_id)
    if centre_id:
        ensure_centre(session, centre_id)
    user = User(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        agency_id=agency_id,
        centre_id=centre_id,
    )
    session.add(user)
    session.flush()
    return user


def authenticate_user(session: Session, username: str, password: str) -> Principal | None:
    """The principal for a correct username and password, else None (same cost either way)."""
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None:
        return None
    return Principal(
        role=user.role,
        agency_id=user.agency_id,
        centre_id=user.centre_id,
        name=f"user:{user.username}",
    )


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so their failures cost as much as others'."""
    return _hasher.hash("timing-equaliser")
