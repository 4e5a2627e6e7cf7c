"""Referral outcomes for the ranker: what training reads, what the demo simulation writes,
and the completion rates the matcher's snapshot carries.

``models`` defines the interfaces (an outcome frame, ``SimulatedReferral``, a completion-rate
source); casework owns referrals, so the adapters live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from casework.tables import Referral, ReferralEvent
from catalog.tables import Offer
from models.lifecycle import Workspace
from models.simulation import SIM_ACTOR, SimulatedReferral

#: Closed referrals an offer needs before its completion rate is shown to the ranker: fewer
#: would be noise (and could say something about a single person).
MIN_CLOSED_REFERRALS = 5


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
    agency = dict(
        session.execute(select(Offer.id, Offer.agency_id).where(Offer.id.in_(offer_ids))).all()
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


def completion_rates(session: Session, offer_ids: Sequence[str]) -> np.ndarray:
    """Per offer: completed / closed referrals (completed, dropped, declined, rejected), NaN
    with fewer than ``MIN_CLOSED_REFERRALS`` closed ones (the matcher's ``completion_rate``)."""
    closed = ("completed", "dropped", "declined", "rejected_by_provider")
    rows = session.execute(
        select(Referral.offer_id, Referral.status, func.count())
        .where(Referral.status.in_(closed))
        .group_by(Referral.offer_id, Referral.status)
    ).all()
    frame = pd.DataFrame(rows, columns=["offer_id", "status", "n"])
    total = frame.groupby("offer_id")["n"].sum()
    done = frame[frame["status"] == "completed"].groupby("offer_id")["n"].sum()
    rate = (done.reindex(total.index).fillna(0) / total).where(total >= MIN_CLOSED_REFERRALS)
    return rate.reindex(list(offer_ids)).to_numpy(dtype=np.float64)


def workspace(sessions: sessionmaker[Session], data_dir: Path | str) -> Workspace:
    """The lifecycle workspace over this database and data folder, with referral outcomes."""
    return Workspace(sessions=sessions, data_dir=Path(data_dir), outcomes=referral_outcomes)


def cli_workspace() -> Workspace:
    """The workspace of a ``lotse`` command (database and folder from ``LOTSE_*``)."""
    from lotse.cli_support import sessions
    from lotse.settings import current

    return workspace(sessions(), current().data_dir)
