"""The agreement lifecycle: which status allows which action and which changes, and where
each action leads (the referrals' counterpart is ``casework.lifecycle``).

draft ──sign (both sides)──► signed ──close──► closed
  │  update: content and details   │  update: details and schedule; review
  └─ sign (one side): stays draft  └─ (nothing changes once closed)

What the parties signed is binding: goals, steps and the start date change only in a draft;
a signed agreement records progress through reviews. The tables below are the one place that
says so; ``casework.agreements`` asks them before every change.
"""

from __future__ import annotations

from lotse.errors import Conflict

STATUSES: tuple[str, ...] = ("draft", "signed", "closed")

#: What each status allows to happen to the agreement.
ACTIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"update", "sign"}),
    "signed": frozenset({"update", "review", "close"}),
    "closed": frozenset(),
}

#: Where an action leads from a status (an action not listed keeps the status; a signature
#: leads to ``signed`` only when it is the second one).
NEXT: dict[tuple[str, str], str] = {
    ("draft", "sign"): "signed",
    ("signed", "close"): "closed",
}

#: The fields of an update (``AgreementPatch``) each status accepts.
CONTENT: frozenset[str] = frozenset({"goals", "steps", "remove_steps", "start_date"})
DETAILS: frozenset[str] = frozenset({"municipality", "language", "review_every_months"})
CHANGES: dict[str, frozenset[str]] = {
    "draft": CONTENT | DETAILS,
    "signed": DETAILS | {"next_review"},
    "closed": frozenset(),
}

#: Why an action is refused in a status (the API's 409 ``detail``).
REFUSALS: dict[tuple[str, str], str] = {
    ("closed", "update"): "a closed agreement cannot change",
    ("signed", "sign"): "the agreement is signed; signatures are final",
    ("closed", "sign"): "the agreement is closed; signatures are final",
    ("draft", "review"): "only a signed agreement is reviewed; this one is draft",
    ("closed", "review"): "only a signed agreement is reviewed; this one is closed",
    ("draft", "close"): "only a signed agreement can be closed; this one is draft",
    ("closed", "close"): "only a signed agreement can be closed; this one is closed",
}


def check_action(status: str, action: str) -> None:
    """Refuse (``Conflict``) an action the agreement's status does not allow."""
    if action not in ACTIONS[status]:
        raise Conflict(REFUSALS.get((status, action), f"a {status} agreement cannot {action}"))


def check_changes(status: str, fields: set[str]) -> None:
    """Refuse (``Conflict``) an update naming fields the agreement's status keeps fixed."""
    check_action(status, "update")
    fixed = fields - CHANGES[status]
    if not fixed:
        return
    if fixed & CONTENT:
        raise Conflict(
            "a signed agreement is binding as signed; its "
            + ", ".join(sorted(fixed & CONTENT))
            + " cannot change (record progress with a review)"
        )
    if "next_review" in fixed:
        raise Conflict("only a signed agreement has a review schedule")
    raise Conflict(f"a {status} agreement cannot change " + ", ".join(sorted(fixed)))
