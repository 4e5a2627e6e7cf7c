"""Intake drafts: the profile a counsellor is working on, kept on the server between pages.

The intake form, the suggestions, "why not?" and the agreement draft all work from the
profile last entered, so it has to outlive one request. It holds what a person told their
counsellor (residence status, benefits, children, profession, needs), so it is kept here,
never in the browser's cookie: one row per web session (``session_hash``, the digest of the
session's random id), deleted with the session (logout, timeout, disabled user) by the
database's cascade, and erased with the person (``erase_drafts``, called by
``casework.privacy.erase_person``), found by the same ``person_key`` as their other records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.register import note_case
from lotse.db import Base, JsonType, changed_rows, utcnow
from lotse.pseudonyms import person_key


class IntakeDraft(Base):
    """The current intake of one web session of a counsellor."""

    __tablename__ = "intake_drafts"
    session_hash: Mapped[str] = mapped_column(
        ForeignKey("web_sessions.id_hash", ondelete="CASCADE"), primary_key=True
    )
    centre_id: Mapped[str] = mapped_column(ForeignKey("centres.id"))
    #: The person's key when the intake names a ``person_ref`` (erasure finds it by this).
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)
    #: ``{"profile": {...}, "request_id": ..., "place": {...}}`` as the pages use it.
    content: Mapped[dict[str, Any]] = mapped_column(JsonType)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _key(centre_id: str, content: dict[str, Any]) -> str | None:
    profile = content.get("profile") or {}
    ref = profile.get("person_ref") if isinstance(profile, dict) else None
    ref = ref.strip() if isinstance(ref, str) else ""
    return person_key(centre_id, ref) if ref else None


def save_draft(
    session: Session, session_hash: str, centre_id: str, content: dict[str, Any]
) -> None:
    """Keep ``content`` as the session's intake, replacing the one before."""
    draft = session.get(IntakeDraft, session_hash)
    if draft is None:
        draft = IntakeDraft(session_hash=session_hash)
        session.add(draft)
    draft.centre_id = centre_id
    draft.person_key = _key(centre_id, content)
    draft.content = content
    draft.updated_at = utcnow()
    session.flush()
    if draft.person_key is not None:
        # an intake that names the person opens their case (or marks it as worked on)
        note_case(session, centre_id, content["profile"]["person_ref"])


def load_draft(session: Session, session_hash: str, centre_id: str) -> dict[str, Any] | None:
    """The session's intake, or None (also when it was made for another centre)."""
    draft = session.scalar(
        select(IntakeDraft).where(
            IntakeDraft.session_hash == session_hash, IntakeDraft.centre_id == centre_id
        )
    )
    return draft.content if draft is not None else None


def drop_draft(session: Session, session_hash: str) -> None:
    """Forget the session's intake (a new intake begins)."""
    session.execute(delete(IntakeDraft).where(IntakeDraft.session_hash == session_hash))


def erase_drafts(session: Session, centre_id: str, key: str) -> int:
    """Delete every intake draft of one person of one centre; returns how many."""
    result = session.execute(
        delete(IntakeDraft).where(IntakeDraft.centre_id == centre_id, IntakeDraft.person_key == key)
    )
    return changed_rows(result)
