"""The referral lifecycle: which status may follow which, who may set it, and why.

proposed ─┬─ accepted ─┬─ enrolled ─┬─ completed
          │            │            └─ dropped
          │            ├─ declined / rejected_by_provider / dropped
          ├─ declined (the person says no)
          └─ rejected_by_provider (the agency says no)

``declined`` is the person's decision, so only the counselling side records it;
``rejected_by_provider`` is the agency's, so only the agency (or admin) records it.
Declined, dropped and rejected need a reason from a short list (plus optional free text).
"""

from __future__ import annotations

from lotse.i18n import N_

STATUSES: tuple[str, ...] = (
    "proposed",
    "accepted",
    "declined",
    "enrolled",
    "completed",
    "dropped",
    "rejected_by_provider",
)
FINAL: frozenset[str] = frozenset({"declined", "completed", "dropped", "rejected_by_provider"})
#: Statuses of a referral that is still under way (a person has at most one per offer).
OPEN: frozenset[str] = frozenset(STATUSES) - FINAL

TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"accepted", "declined", "rejected_by_provider", "enrolled"}),
    "accepted": frozenset({"enrolled", "declined", "rejected_by_provider", "dropped"}),
    "enrolled": frozenset({"completed", "dropped"}),
    "declined": frozenset(),
    "completed": frozenset(),
    "dropped": frozenset(),
    "rejected_by_provider": frozenset(),
}

#: Which side may set a status. Admin may set any.
SET_BY: dict[str, frozenset[str]] = {
    "accepted": frozenset({"agency", "counsellor"}),
    "declined": frozenset({"counsellor"}),
    "enrolled": frozenset({"agency", "counsellor"}),
    "completed": frozenset({"agency", "counsellor"}),
    "dropped": frozenset({"agency", "counsellor"}),
    "rejected_by_provider": frozenset({"agency"}),
}

#: Reasons from a short list, per status that needs one.
REASONS: dict[str, tuple[str, ...]] = {
    "declined": (
        "no_longer_interested", "schedule_conflict", "too_far", "childcare_missing",
        "found_other_offer", "health", "other",
    ),
    "dropped": (
        "moved_away", "work_started", "health", "childcare_missing", "too_difficult",
        "schedule_conflict", "could_not_contact", "other",
    ),
    "rejected_by_provider": (
        "not_eligible", "no_capacity", "incomplete_documents", "could_not_contact",
        "course_cancelled", "other",
    ),
}  # fmt: skip


def allowed_next(status: str) -> frozenset[str]:
    """Statuses that may follow ``status`` (empty for a final one)."""
    return TRANSITIONS[status]


def is_legal(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


# -- labels (English message ids, translated on use) ----------------------------------------

STATUS_LABELS: dict[str, str] = {
    "proposed": N_("proposed"),
    "accepted": N_("accepted"),
    "declined": N_("declined by the person"),
    "enrolled": N_("enrolled"),
    "completed": N_("completed"),
    "dropped": N_("dropped out"),
    "rejected_by_provider": N_("rejected by the provider"),
}
REASON_LABELS: dict[str, str] = {
    "no_longer_interested": N_("no longer interested"),
    "schedule_conflict": N_("schedule conflict"),
    "too_far": N_("too far away"),
    "childcare_missing": N_("childcare missing"),
    "found_other_offer": N_("found another offer"),
    "health": N_("health"),
    "other": N_("other"),
    "moved_away": N_("moved away"),
    "work_started": N_("started work"),
    "too_difficult": N_("too difficult"),
    "could_not_contact": N_("could not be contacted"),
    "not_eligible": N_("not eligible"),
    "no_capacity": N_("no capacity"),
    "incomplete_documents": N_("incomplete documents"),
    "course_cancelled": N_("course cancelled"),
}
