"""Who may do what: agencies, counselling centres, API tokens, web users and the principal.

Tokens and web-session ids are random and high-entropy, so a SHA-256 digest is enough to
store them; passwords are chosen by people, so they are hashed with Argon2id.

Access ends at once, on every server: a revoked token, a disabled user's tokens and a web
session that was ended or has expired are refused on the next request (each request looks
them up in the database). Disabling a user revokes their tokens and deletes their sessions.
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
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from lotse.db import Base, changed_rows, utcnow
from lotse.errors import FieldError, InvalidInput, NotFound
from lotse.i18n import N_
from lotse.passwords import password_problems

ROLES = ("admin", "agency", "counsellor", "analyst")
ROLE_LABELS: dict[str, str] = {
    "admin": N_("administrator"),
    "agency": N_("agency"),
    "counsellor": N_("counsellor"),
    "analyst": N_("analyst"),
}
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TOKEN_PREFIX = "lotse_"

_hasher = PasswordHasher()


class Agency(Base):
    """An organisation that keeps offers in the catalogue (course provider, daycare, job centre)."""

    __tablename__ = "agencies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Postal address as printed (lines separated by newlines); empty until an admin sets it.
    address: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Centre(Base):
    """A counselling centre (MBE, JMD) that owns cases: profiles, referrals, agreements."""

    __tablename__ = "centres"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Postal address as the print view shows it (lines separated by newlines).
    address: Mapped[str] = mapped_column(Text, default="")
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
    #: The web user the token belongs to, if any: disabling the user revokes it.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)


class User(Base):
    """A person who logs into the web pages."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    #: The name colleagues know the user by ("Anna Weber"); shown in histories and print views.
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"))
    centre_id: Mapped[str | None] = mapped_column(ForeignKey("centres.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Set by ``disable_user``: the user can no longer log in, and has no sessions or tokens.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A web login (or a visitor's language and CSRF secret) held on the server.

    The browser's cookie carries only a random id; this row is found by its SHA-256 digest,
    so the table alone lets no one take a session over. ``lotse.websessions`` reads and
    writes it; ``data`` is what the pages keep in ``flask.session``, serialised."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The earlier of the idle and the absolute timeout; moved on as the session is used.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


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

    @property
    def username(self) -> str | None:
        """The web user acting (``user:<name>``), or None for tokens and the command line."""
        return self.name[5:] if self.name.startswith("user:") else None

    def may_edit_agency(self, agency_id: str) -> bool:
        return self.role == "admin" or (self.role == "agency" and self.agency_id == agency_id)

    def may_read_centre(self, centre_id: str) -> bool:
        return self.role == "admin" or (self.role == "counsellor" and self.centre_id == centre_id)


def _check_scope(role: str, agency_id: str | None, centre_id: str | None) -> None:
    errors: list[FieldError] = []
    if role not in ROLES:
        errors.append(FieldError("role", f"unknown role {role!r}; one of {', '.join(ROLES)}"))
    if role == "agency" and not agency_id:
        errors.append(FieldError("agency", N_("an agency role needs --agency ID")))
    if role == "counsellor" and not centre_id:
        errors.append(FieldError("centre", N_("a counsellor role needs --centre ID")))
    for name, value in (("agency", agency_id), ("centre", centre_id)):
        if value is not None and not SLUG.match(value):
            errors.append(
                FieldError(name, N_("must be a short slug: lowercase letters, digits, '-' or '_'"))
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
    user: str | None = None,
) -> str:
    """Create an API token and return it in clear; only its digest is stored.

    A token made for ``user`` (a username) acts with that user's role and scope, and is
    revoked when the user is disabled."""
    owner = None
    if user is not None:
        owner = _user_named(session, user)
        agency_id = agency_id or owner.agency_id
        centre_id = centre_id or owner.centre_id
        if (role, agency_id, centre_id) != (owner.role, owner.agency_id, owner.centre_id):
            raise InvalidInput(
                [FieldError("user", f"a token for {user} has that user's role and scope")]
            )
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
            user_id=owner.id if owner else None,
        )
    )
    session.flush()
    return token


_TOKEN_LOOKUP = (
    select(
        ApiToken.id,
        ApiToken.role,
        ApiToken.agency_id,
        ApiToken.centre_id,
        ApiToken.revoked_at,
        User.disabled_at,
    )
    .outerjoin(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("digest"))
)


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None for an unknown or revoked token (or
    one whose user is disabled)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    # Columns of a statement built once, through the session's connection, not an ORM
    # entity: this runs on every authenticated request, and building the statement and
    # loading an ``ApiToken`` object cost more than the query.
    row = session.connection().execute(_TOKEN_LOOKUP, {"digest": _digest(token)}).first()
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        return None
    return Principal(
        role=row.role, agency_id=row.agency_id, centre_id=row.centre_id, name=f"token:{row.id}"
    )


def list_tokens(session: Session) -> list[tuple[ApiToken, str | None]]:
    """Every token (revoked ones too), oldest first, with its user's name when it has one."""
    return [
        (token, username)
        for token, username in session.execute(
            select(ApiToken, User.username)
            .outerjoin(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id)
        )
    ]


def revoke_token(session: Session, token_id: int) -> ApiToken:
    """Revoke token ``token_id`` (``lotse tokens list`` shows the ids); it gets 401 from its
    next request on. Revoking a revoked token changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    agency_id: str | None = None,
    centre_id: str | None = None,
    display_name: str = "",
) -> User:
    """Create a web user with an Argon2id password hash; the password must pass
    ``lotse.passwords`` (12 characters or more, not a common one, not the user name)."""
    _check_scope(role, agency_id, centre_id)
    errors = []
    if not re.match(r"^[A-Za-z0-9._-]{2,64}$", username):
        errors.append(FieldError("username", N_("2-64 letters, digits, '.', '_' or '-'")))
    errors.extend(password_errors(password, username))
    if session.scalar(select(User).where(User.username == username)) is not None:
        errors.append(FieldError("username", N_("already taken")))
    if errors:
        raise InvalidInput(errors)
    if agency_id:
        ensure_agency(session, agency_id)
    if centre_id:
        ensure_centre(session, centre_id)
    user = User(
        username=username,
        password_hash=_hasher.hash(password),
        display_name=display_name.strip()[:200],
        role=role,
        agency_id=agency_id,
        centre_id=centre_id,
    )
    session.add(user)
    session.flush()
    return user


def set_display_name(session: Session, username: str, display_name: str) -> None:
    """The name colleagues know the user by (shown in histories and print views)."""
    name = display_name.strip()
    if len(name) > 200:
        raise InvalidInput([FieldError("display_name", N_("at most 200 characters"))])
    _user_named(session, username).display_name = name
    session.flush()


def list_organisations(session: Session) -> tuple[list[Agency], list[Centre]]:
    """Every agency and every counselling centre, by id."""
    return (
        list(session.scalars(select(Agency).order_by(Agency.id))),
        list(session.scalars(select(Centre).order_by(Centre.id))),
    )


def describe_organisation(
    session: Session, kind: str, org_id: str, name: str, address: str
) -> Agency | Centre:
    """Give an agency or a centre (``kind``) its display name and postal address (lines);
    the print views and the referral inbox show them."""
    row: Agency | Centre | None
    if kind == "agency":
        row = session.get(Agency, org_id)
    elif kind == "centre":
        row = session.get(Centre, org_id)
    else:
        raise NotFound(f"no kind {kind!r}")
    if row is None:
        raise NotFound(f"no {kind} {org_id!r}")
    errors = []
    if not name.strip() or len(name.strip()) > 200:
        errors.append(FieldError("name", N_("1 to 200 characters")))
    if len(address) > 1000:
        errors.append(FieldError("address", N_("at most 1000 characters")))
    if errors:
        raise InvalidInput(errors)
    row.name = name.strip()
    row.address = "\n".join(line.strip() for line in address.splitlines() if line.strip())
    session.flush()
    return row


def password_errors(password: str, username: str = "") -> list[FieldError]:
    """What is wrong with ``password`` as a new password (empty: nothing); the rules are
    ``lotse.passwords.password_problems``."""
    return [FieldError("password", p) for p in password_problems(password, username)]


def principal_of(user: User) -> Principal:
    """The principal a web user acts as."""
    return Principal(
        role=user.role,
        agency_id=user.agency_id,
        centre_id=user.centre_id,
        name=f"user:{user.username}",
    )


def authenticate_user(session: Session, username: str, password: str) -> Principal | None:
    """The principal for a correct username and password of a user who is not disabled, else
    None (same cost either way)."""
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    return principal_of(user)


def _user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def active_user_id(session: Session, username: str) -> int | None:
    """The id of the user ``username`` if it exists and is not disabled."""
    return session.scalar(
        select(User.id).where(User.username == username, User.disabled_at.is_(None))
    )


@dataclass(frozen=True)
class UserInfo:
    """A web user as ``lotse users list`` shows it (never the password hash)."""

    username: str
    role: str
    agency_id: str | None
    centre_id: str | None
    created_at: datetime
    disabled_at: datetime | None
    sessions: int
    tokens: int
    display_name: str = ""


def list_users(session: Session, now: datetime | None = None) -> list[UserInfo]:
    """Every web user, by name, with their live sessions and unrevoked tokens."""
    now = now or utcnow()
    live = (
        select(WebSession.user_id, func.count().label("n"))
        .where(WebSession.expires_at > now)
        .group_by(WebSession.user_id)
        .subquery()
    )
    tokens = (
        select(ApiToken.user_id, func.count().label("n"))
        .where(ApiToken.revoked_at.is_(None))
        .group_by(ApiToken.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User, live.c.n, tokens.c.n)
        .outerjoin(live, live.c.user_id == User.id)
        .outerjoin(tokens, tokens.c.user_id == User.id)
        .order_by(User.username)
    )
    return [
        UserInfo(
            u.username,
            u.role,
            u.agency_id,
            u.centre_id,
            u.created_at,
            u.disabled_at,
            n_sessions or 0,
            n_tokens or 0,
            u.display_name or "",
        )
        for u, n_sessions, n_tokens in rows
    ]


def end_sessions(session: Session, user_id: int) -> int:
    """Log the user out everywhere: delete every web session of theirs; returns how many."""
    return changed_rows(session.execute(delete(WebSession).where(WebSession.user_id == user_id)))


def disable_user(session: Session, username: str) -> tuple[int, int]:
    """Disable a web user at once: no more logins, every session ended, every token of
    theirs revoked. Returns ``(sessions ended, tokens revoked)``. Their records (history,
    audit entries) stay; ``enable_user`` lets them log in again (their tokens stay revoked)."""
    user = _user_named(session, username)
    now = utcnow()
    if user.disabled_at is None:
        user.disabled_at = now
    ended = end_sessions(session, user.id)
    revoked = changed_rows(
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    session.flush()
    return ended, revoked


def enable_user(session: Session, username: str) -> None:
    """Let a disabled user log in again."""
    user = _user_named(session, username)
    user.disabled_at = None
    session.flush()


def set_password(session: Session, username: str, password: str) -> int:
    """Give a user a new password and end their sessions (whoever knew the old one is logged
    out too); returns how many sessions ended."""
    user = _user_named(session, username)
    errors = password_errors(password, username)
    if errors:
        raise InvalidInput(errors)
    user.password_hash = _hasher.hash(password)
    ended = end_sessions(session, user.id)
    session.flush()
    return ended


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so their failures cost as much as others'."""
    return _hasher.hash("timing-equaliser")
