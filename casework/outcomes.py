"""Referral outcomes for the ranker: what training reads, what the demo simulation writes,
and the referral events that feed the matcher's outcome history.

``models`` and ``matcher`` define the interfaces (an outcome frame, ``SimulatedReferral``, an
``EventFeed``); casework owns referrals, so the adapters live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from casework.tables import Referral, ReferralEvent
from catalog import taxonomy
from catalog.tables import Offer
from matcher.history import EventFeed, OutcomeEvent, area_key
from models.lifecycle import Workspace
from models.simulation import SIM_ACTOR, SimulatedReferral


def referral_outcomes(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Outcomes for training: every referral made from a served request (``since`` bounds
    the referral's creation, as referrals follow the requests they came from)."""
    stmt = select(Referral.request_id, Referral.offer_id, Referral.status, Referral.updated_at)
    stmt = stmt.where(Referral.request_id.is_not(None))
    if since is not None:
        stmt = stmt.where(Referral.created_at >= since)
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=["request_id", "offer_id", "status", "updated_at"])


def record_simulated_referrals(session: Session, referrals: Sequence[SimulatedReferral]) -> int:
    """Write simulated referrals and their status events with their backdated times.

    A historical record, not live casework: enrolments here take no place from the offers'
    current capacity, and the actor is ``demo:simulate``.
    """
    if not referrals:
        return 0
    offer_ids = {r.offer_id for r in referrals}
    agency: dict[str, str] = dict(
        session.execute(select(Offer.id, Offer.agency_id).where(Offer.id.in_(offer_ids)))
        .tuples()
        .all()
    )
    rows, events = [], []
    for r in referrals:
        first, last = r.history[0], r.history[-1]
        rid = f"sim-{r.request_id[:18]}-{r.offer_id[:13]}"
        rows.append(
            {
                "id": rid[:36],
                "request_id": r.request_id,
                "offer_id": r.offer_id,
                "agency_id": agency[r.offer_id],
                "centre_id": r.centre_id,
                "person_key": r.person_key,
                "status": last.status,
                "consent_at": first.at,
                "created_at": first.at,
                "updated_at": last.at,
                "created_by": SIM_ACTOR,
            }
        )
        previous = None
        for step in r.history:
            events.append(
                {
                    "referral_id": rid[:36],
                    "from_status": previous,
                    "to_status": step.status,
                    "at": step.at,
                    "actor": SIM_ACTOR,
                    "reason": step.reason,
                }
            )
            previous = step.status
    session.execute(insert(Referral), rows)
    session.execute(insert(ReferralEvent), events)
    return len(rows)


#: Read on every recommendation, so as plain SQL: the ORM statement costs far more than the read.
_LATEST_EVENT = f"SELECT max(id) FROM {ReferralEvent.__tablename__}"


def latest_event_id(session: Session) -> int:
    """The newest referral event's id (0 without any): one read of the primary key index."""
    return int(session.connection().exec_driver_sql(_LATEST_EVENT).scalar() or 0)


def events_after(session: Session, after_id: int) -> list[OutcomeEvent]:
    """Referral events with an id above ``after_id``, in id order, with what the outcome
    history needs of each (the offer, its organisation and area as they are now)."""
    rows = session.execute(
        select(
            ReferralEvent.id,
            ReferralEvent.referral_id,
            Referral.offer_id,
            Offer.organization,
            Offer.category,
            Offer.municipality,
            ReferralEvent.to_status,
            ReferralEvent.at,
        )
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .join(Offer, Offer.id == Referral.offer_id)
        .where(ReferralEvent.id > after_id)
        .order_by(ReferralEvent.id)
    ).all()
    return [
        OutcomeEvent(
            event_id=int(r[0]),
            referral_id=r[1],
            offer_id=r[2],
            organization=r[3] or "",
            area=area_key(_parent(r[4]), r[5] or ""),
            status=r[6],
            at=r[7],
        )
        for r in rows
    ]


def _parent(category: str) -> str:
    return taxonomy.parent(category) if taxonomy.is_known(category) else category


#: The events the serving history reads (``matcher.snapshot.SnapshotCache``).
REFERRAL_EVENTS = EventFeed(latest_id=latest_event_id, events_after=events_after)


def workspace(sessions: sessionmaker[Session], data_dir: Path | str) -> Workspace:
    """The lifecycle workspace over this database and data folder, with referral outcomes."""
    return Workspace(sessions=sessions, data_dir=Path(data_dir), outcomes=referral_outcomes)


def cli_workspace() -> Workspace:
    """The workspace of a ``lotse`` command (database and folder from ``LOTSE_*``)."""
    from lotse.cli_support import sessions
    from lotse.settings import current

    return workspace(sessions(), current().data_dir)
