"""The audit log: who read or changed which case, and when.

Casework functions write an entry for every read or change of a case, in the same
transaction as the work itself, so an entry exists exactly when the work was committed. An
entry names the case by agreement id and/or ``person_key`` only — never a person reference,
a note or any other personal detail — so the log itself can be kept after erasure.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from casework.tables import AuditEntry
from lotse.accounts import Principal
from lotse.db import changed_rows, utcnow

#: Every action an entry may record.
ACTIONS: tuple[str, ...] = (
    "read",
    "list",
    "print",
    "create",
    "update",
    "sign",
    "review",
    "close",
    "export",
    "erase",
    "purge",
    "pdf",
)


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    *,
    centre_id: str | None = None,
    agreement_id: str | None = None,
    person_key: str | None = None,
) -> None:
    """Add one audit entry (no flush: it is written with the rest of the unit of work)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor.actor if isinstance(actor, Principal) else actor,
            action=action,
            centre_id=centre_id,
            agreement_id=agreement_id,
            person_key=person_key,
        )
    )


def record_many(
    session: Session,
    actor: Principal,
    action: str,
    cases: Iterable[tuple[str, str, str]],
) -> None:
    """One entry per ``(centre_id, agreement_id, person_key)``, inserted in bulk: a list view
    shows several cases at once, and each of them was read."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    now = utcnow()
    rows = [
        {
            "at": now,
            "actor": actor.actor,
            "action": action,
            "centre_id": centre_id,
            "agreement_id": agreement_id,
            "person_key": key,
        }
        for centre_id, agreement_id, key in cases
    ]
    if rows:
        session.execute(insert(AuditEntry), rows)


def entries_for_person(session: Session, person_key: str) -> list[AuditEntry]:
    """Every entry about one person, oldest first (the export shows who saw their case)."""
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.person_key == person_key).order_by(AuditEntry.id)
        )
    )


def entries_for_agreement(session: Session, agreement_id: str) -> list[AuditEntry]:
    """Every entry about one agreement, oldest first."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.agreement_id == agreement_id)
            .order_by(AuditEntry.id)
        )
    )


def unlink_person(session: Session, person_key: str) -> int:
    """Drop ``person_key`` from earlier entries (erasure): otherwise the log would tie the
    anonymised agreements, still named by id, back to anyone who can compute the key."""
    result = session.execute(
        update(AuditEntry)
        .where(AuditEntry.person_key == person_key)
        .values(person_key=None)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(result)


def unlink_agreements(session: Session, agreement_ids: Iterable[str]) -> int:
    """Drop ``person_key`` from entries about these agreements (retention purge), for the
    same reason as ``unlink_person``."""
    ids = list(agreement_ids)
    if not ids:
        return 0
    result = session.execute(
        update(AuditEntry)
        .where(AuditEntry.agreement_id.in_(ids), AuditEntry.person_key.is_not(None))
        .values(person_key=None)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(result)
