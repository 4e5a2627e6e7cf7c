"""The centres' case register: which pseudonymous reference a person key belongs to.

Kept apart from ``casework.cases`` (which reads agreements and referrals) so that intakes,
agreements and erasure can open and erase cases without importing what reads them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from casework.tables import Case
from lotse.accounts import ensure_centre
from lotse.db import changed_rows, utcnow
from lotse.pseudonyms import person_key


def note_case(session: Session, centre_id: str, person_ref: str) -> Case:
    """Open the person's case, or mark it as worked on now; returns it."""
    ref = person_ref.strip()
    key = person_key(centre_id, ref)
    case = session.get(Case, (centre_id, key))
    now = utcnow()
    if case is None:
        ensure_centre(session, centre_id)
        case = Case(centre_id=centre_id, person_key=key, person_ref=ref, opened_at=now)
        session.add(case)
    case.updated_at = now
    session.flush()
    return case


def erase_case(session: Session, centre_id: str, key: str) -> int:
    """Delete the person's case row (the reference goes with it); returns how many."""
    result = session.execute(
        delete(Case).where(Case.centre_id == centre_id, Case.person_key == key)
    )
    return changed_rows(result)


def person_refs(session: Session, centre_id: str, keys: Iterable[str]) -> dict[str, str]:
    """``{person_key: person_ref}`` for the keys that have a case in the centre."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.execute(
        select(Case.person_key, Case.person_ref).where(
            Case.centre_id == centre_id, Case.person_key.in_(wanted)
        )
    )
    return dict(rows.tuples().all())
