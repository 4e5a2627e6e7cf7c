"""Intake drafts: kept per web session on the server, gone with the session and with the
person's erasure (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from casework import intake, privacy
from casework.intake import IntakeDraft
from lotse import websessions
from lotse.accounts import create_user, ensure_centre
from lotse.db import transaction, utcnow
from tests.casework.cases import COUNSELLOR

LIFETIMES = websessions.Lifetimes(idle=timedelta(hours=1), absolute=timedelta(hours=8))


def _session_hash(s, username: str, centre: str) -> str:
    user = create_user(s, username, "a-long-password-1", "counsellor", centre_id=centre)
    sid = websessions.create(s, "", utcnow(), LIFETIMES, user_id=user.id)
    return websessions.digest(sid)


def _draft(ref: str) -> dict:
    return {"profile": {"person_ref": ref, "age": 30, "profession": "Zahntechnikerin"}}


def test_erasure_deletes_the_persons_intake_drafts_only(sessions):
    with transaction(sessions) as s:
        ensure_centre(s, "mbe-wetzlar")
        ensure_centre(s, "mbe-hamm")
        mine = _session_hash(s, "berater", "mbe-wetzlar")
        colleague = _session_hash(s, "kollegin", "mbe-wetzlar")
        other_person = _session_hash(s, "dritte", "mbe-wetzlar")
        other_centre = _session_hash(s, "hamm", "mbe-hamm")
        intake.save_draft(s, mine, "mbe-wetzlar", _draft("MBE/2027/017"))
        intake.save_draft(s, colleague, "mbe-wetzlar", _draft("MBE/2027/017"))
        intake.save_draft(s, other_person, "mbe-wetzlar", _draft("MBE/2027/018"))
        intake.save_draft(s, other_centre, "mbe-hamm", _draft("MBE/2027/017"))
    with transaction(sessions) as s:
        privacy.erase_person(s, COUNSELLOR, "MBE/2027/017")
    with sessions() as s:
        left = set(s.scalars(select(IntakeDraft.session_hash)))
        assert left == {other_person, other_centre}
        assert intake.load_draft(s, mine, "mbe-wetzlar") is None


def test_a_draft_ends_with_its_session(sessions):
    with transaction(sessions) as s:
        ensure_centre(s, "mbe-wetzlar")
        mine = _session_hash(s, "berater", "mbe-wetzlar")
        intake.save_draft(s, mine, "mbe-wetzlar", _draft("P-1"))
        assert intake.load_draft(s, mine, "mbe-wetzlar") == _draft("P-1")
        assert intake.load_draft(s, mine, "mbe-hamm") is None  # another centre's session
    with transaction(sessions) as s:
        websessions.end(s, mine)  # logout
    with sessions() as s:
        assert s.scalar(select(IntakeDraft)) is None
