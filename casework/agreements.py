"""Integration agreements: goals, agreed steps, signatures, reviews and closing.

draft ──(both sides sign)──► signed ──(reviews …)──► closed (each goal reached / partly / not)

- An agreement belongs to one counselling centre and one person, named by the centre's own
  pseudonymous ``person_ref`` (kept only here, for the print view and the counsellor's list)
  and by ``person_key`` (which links it to referrals and recommendations).
- Goals and steps change only while the agreement is a draft: once both sides have signed,
  what they signed is binding, and what changes from then on is recorded by reviews.
- A step is a referral to an offer (made straight from a recommendation's suggestions through
  ``casework.referrals.create_referral``, so consent is required and the referral carries the
  ``request_id`` the ranker later learns from) or another action; each has a responsible
  party and a due date.
- Reviews follow a schedule (every ``review_every_months``); a review records each step's
  status, a note, the joint balance of successes and obstacles, and moves the next date.
- Every read and change writes an audit entry (``casework.audit``).
- Two people may change one agreement at once. Every change moves the version with one
  conditional statement (``UPDATE … WHERE id = … AND version = … AND status = …``), so of two
  changes made from the same version one wins and the other is refused: ``StaleVersion``
  when it named the version it read (``If-Match``), ``Conflict`` otherwise or when the status
  moved on. A signature is one conditional statement too, so when both sides sign at once
  exactly one of them completes the agreement. At most one open (draft or signed) agreement
  per centre and person, held by a partial unique index.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, NoReturn, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Select, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from casework import agreement_lifecycle, audit, referrals
from casework.documents import document_summary, documents_of
from casework.origin import origin_of_request
from casework.register import note_case
from casework.tables import (
    OPEN_AGREEMENT_INDEX,
    Agreement,
    AgreementGoal,
    AgreementReview,
    AgreementStep,
    Referral,
)
from catalog import taxonomy
from catalog.tables import Offer
from lotse.accounts import Centre, Principal, User, ensure_centre
from lotse.db import changed_rows, utcnow
from lotse.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from lotse.i18n import N_, PERSON_LANGUAGES, preferred_person_language
from lotse.pseudonyms import person_key
from matcher.places import municipality_name, municipality_or_none
from matcher.tables import RecommendationRequest

Responsible = Literal["person", "counsellor", "agency", "job_centre", "foreigners_authority"]
StepStatus = Literal["open", "done", "obstacle", "dropped"]
Outcome = Literal["reached", "partly_reached", "not_reached"]
Party = Literal["person", "counsellor"]
#: Obstacles a review can name (plus free text); short on purpose, so reports can count them.
ObstacleCode = Literal[
    "language_barrier",
    "childcare_missing",
    "no_place_available",
    "waiting_time",
    "documents_missing",
    "recognition_pending",
    "residence_status",
    "health",
    "housing",
    "transport",
    "financial",
    "schedule_conflict",
    "family_obligations",
    "motivation",
    "other",
]

#: Obstacle labels (English message ids, translated on use).
OBSTACLE_LABELS: dict[str, str] = {
    "language_barrier": N_("language barrier"),
    "childcare_missing": N_("childcare missing"),
    "no_place_available": N_("no place available"),
    "waiting_time": N_("waiting time"),
    "documents_missing": N_("documents missing"),
    "recognition_pending": N_("recognition pending"),
    "residence_status": N_("residence status"),
    "health": N_("health"),
    "housing": N_("housing"),
    "transport": N_("transport"),
    "financial": N_("money"),
    "schedule_conflict": N_("schedule conflict"),
    "family_obligations": N_("family obligations"),
    "motivation": N_("motivation"),
    "other": N_("other"),
}

STATUSES: tuple[str, ...] = agreement_lifecycle.STATUSES
#: Filters of the counsellor's list: ``open`` is draft and signed.
LIST_FILTERS: tuple[str, ...] = ("open", "draft", "signed", "closed", "all")
RESPONSIBLE: tuple[str, ...] = get_args(Responsible)
STEP_STATUSES: tuple[str, ...] = get_args(StepStatus)
OUTCOMES: tuple[str, ...] = get_args(Outcome)
PARTIES: tuple[str, ...] = get_args(Party)
OBSTACLES: tuple[str, ...] = get_args(ObstacleCode)
DEFAULT_REVIEW_MONTHS = 3
#: A review counts as due this many days before its date, so it can be scheduled in time.
REVIEW_SOON_DAYS = 14
#: Referral statuses that fulfil a referral step (the person got the place).
REFERRAL_FULFILLED = frozenset({"enrolled", "completed"})
#: Referral statuses after which a step can no longer be late (it needs a review instead).
REFERRAL_SETTLED = REFERRAL_FULFILLED | frozenset({"declined", "dropped", "rejected_by_provider"})


# --- inputs --------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GoalIn(_In):
    """A goal: a need category (leaf or parent code), a priority (1 = first) and a target."""

    category: str = Field(min_length=1, max_length=64)
    priority: int = Field(1, ge=1, le=5)
    target: str = Field("", max_length=500, description='what is to be reached, e.g. "B1"')
    target_by: date | None = Field(None, description="by when (the month counts)")

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if not taxonomy.is_known(value):
            hint = taxonomy.suggest(value)
            raise ValueError(
                f"unknown category '{value}'"
                + (f"; did you mean {', '.join(hint)}?" if hint else "")
            )
        return value


class StepIn(_In):
    """An agreed step. ``referral``: ``request_id`` and ``offer_id`` of a suggestion (with
    ``consent: true``; a referral is made) or an existing ``referral_id``. ``action``:
    ``text``. ``goal`` is the index of the goal it serves (referrals default to the first
    goal of the offer's need category)."""

    kind: Literal["referral", "action"]
    request_id: str | None = Field(None, max_length=64)
    offer_id: str | None = Field(None, max_length=64)
    referral_id: str | None = Field(None, max_length=64)
    consent: bool = False
    text: str | None = Field(None, max_length=1000)
    responsible: Responsible | None = None
    due: date | None = None
    goal: int | None = Field(None, ge=0)


def _official_municipality(value: str | None) -> str | None:
    """A municipality as reports group by it: its official name ("Nurnberg" → "Nürnberg"),
    never the text as typed; an unknown or ambiguous name is refused with candidates."""
    if value is None or not value.strip():
        return None
    try:
        return municipality_name(value)
    except InvalidInput as exc:
        raise ValueError(exc.errors[0].message) from None


def _person_language(value: str | None) -> str | None:
    """A language the person's printouts come in (``lotse.i18n.PERSON_LANGUAGES``)."""
    if value is None:
        return None
    code = value.strip().lower()
    if code not in PERSON_LANGUAGES:
        raise ValueError("one of " + ", ".join(PERSON_LANGUAGES))
    return code


class AgreementIn(_In):
    """A new agreement (a draft until both sides sign)."""

    person_ref: str = Field(min_length=1, max_length=100)
    language: str | None = Field(
        None,
        max_length=8,
        description="the person's preferred language for printouts (ar, fa, uk, tr, ru, en, "
        "de = plain German); default: the first of `languages` that printouts come in, else de",
    )
    languages: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="the person's languages from the intake (ISO 639-1, in their order)",
    )
    centre_id: str | None = Field(None, max_length=64, description="admin only")
    start_date: date | None = None
    municipality: str | None = Field(
        None, max_length=100, description="a German municipality; stored by its official name"
    )
    review_every_months: int = Field(DEFAULT_REVIEW_MONTHS, ge=1, le=24)
    goals: list[GoalIn] = Field(default_factory=list, max_length=20)
    steps: list[StepIn] = Field(default_factory=list, max_length=50)

    _municipality = field_validator("municipality")(_official_municipality)
    _language = field_validator("language")(_person_language)


class AgreementPatch(_In):
    """Changes to an agreement. Goals (replaced as a whole), new steps, removed steps and the
    start date only in a draft; schedule, municipality and the person's language until it
    is closed."""

    start_date: date | None = None
    municipality: str | None = Field(
        None, max_length=100, description="a German municipality; stored by its official name"
    )
    review_every_months: int | None = Field(None, ge=1, le=24)
    next_review: date | None = None
    goals: list[GoalIn] | None = Field(None, max_length=20)
    steps: list[StepIn] | None = Field(None, max_length=50)
    remove_steps: list[int] | None = Field(None, max_length=50)
    language: str | None = Field(
        None, max_length=8, description="the person's preferred language for printouts"
    )

    _municipality = field_validator("municipality")(_official_municipality)
    _language = field_validator("language")(_person_language)


class SignatureIn(_In):
    """One side's signature and its date (default today)."""

    party: Party
    date: dt.date | None = None


class StepReviewIn(_In):
    step_id: int
    status: StepStatus


class ObstacleIn(_In):
    code: ObstacleCode
    step_id: int | None = None
    text: str = Field("", max_length=1000)


class ReferralOutcomeIn(_In):
    """A referral step's referral moved on at a review (declined, dropped … with a reason
    from ``casework.lifecycle.REASONS``, as through the referral API)."""

    step_id: int
    status: Literal["accepted", "declined", "enrolled", "completed", "dropped"]
    reason: str | None = Field(None, max_length=40)


class ReviewIn(_In):
    """A joint review: per-step statuses, a note, successes and obstacles; and the
    referrals that moved on since the last one."""

    date: dt.date | None = None
    steps: list[StepReviewIn] = Field(default_factory=list, max_length=50)
    referrals: list[ReferralOutcomeIn] = Field(default_factory=list, max_length=50)
    note: str = Field("", max_length=4000)
    successes: str = Field("", max_length=4000)
    obstacles: list[ObstacleIn] = Field(default_factory=list, max_length=30)
    next_review: dt.date | None = Field(None, description="default: date + review_every_months")


class GoalOutcomeIn(_In):
    goal: int = Field(ge=0)
    outcome: Outcome


class CloseIn(_In):
    """Closing: every goal's outcome."""

    date: dt.date | None = None
    outcomes: list[GoalOutcomeIn] = Field(max_length=20)
    note: str = Field("", max_length=4000)


# --- dates ---------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _today(today: date | None) -> date:
    return today or utcnow().date()


def _not_future(value: date, today: date, name: str) -> None:
    if value > today:
        raise InvalidInput([FieldError(name, f"{value.isoformat()} lies in the future")])


# --- reading -------------------------------------------------------------------------------


def centre_for_actor(actor: Principal, centre_id: str | None) -> str:
    """The centre an actor creates or looks up cases in: a counsellor's own, or (admin) the
    one named; a counsellor naming another centre is refused."""
    if actor.role == "counsellor":
        if centre_id and centre_id != actor.centre_id:
            raise Forbidden("counsellors act only for their own counselling centre")
        return actor.centre_id or ""
    if actor.role == "admin":
        if not centre_id:
            raise InvalidInput([FieldError("centre_id", N_("admin must name the centre_id"))])
        return centre_id
    raise Forbidden("only counsellors and admin work with cases")


def _load(session: Session, actor: Principal, agreement_id: str, for_update: bool) -> Agreement:
    agreement = session.get(Agreement, agreement_id, with_for_update=for_update)
    if agreement is None or agreement.anonymised_at is not None:
        raise NotFound(f"no agreement with id '{agreement_id}'")
    if not actor.may_read_centre(agreement.centre_id):
        raise Forbidden("this agreement belongs to another counselling centre")
    return agreement


def get_agreement(session: Session, actor: Principal, agreement_id: str) -> Agreement:
    """An agreement of the actor's centre (admin: any); the read is audited."""
    agreement = _load(session, actor, agreement_id, for_update=False)
    _audit(session, actor, "read", agreement)
    return agreement


def _audit(session: Session, actor: Principal, action: str, agreement: Agreement) -> None:
    audit.record(
        session,
        actor,
        action,
        centre_id=agreement.centre_id,
        agreement_id=agreement.id,
        person_key=agreement.person_key,
    )


def goals_of(session: Session, agreement_id: str) -> list[AgreementGoal]:
    return list(
        session.scalars(
            select(AgreementGoal)
            .where(AgreementGoal.agreement_id == agreement_id)
            .order_by(AgreementGoal.position)
        )
    )


def steps_of(session: Session, agreement_ids: Sequence[str]) -> list[AgreementStep]:
    if not agreement_ids:
        return []
    return list(
        session.scalars(
            select(AgreementStep)
            .where(AgreementStep.agreement_id.in_(list(agreement_ids)))
            .order_by(AgreementStep.agreement_id, AgreementStep.position)
        )
    )


def reviews_of(session: Session, agreement_id: str) -> list[AgreementReview]:
    return list(
        session.scalars(
            select(AgreementReview)
            .where(AgreementReview.agreement_id == agreement_id)
            .order_by(AgreementReview.held_on, AgreementReview.id)
        )
    )


def _referrals_with_offers(
    session: Session, steps: Sequence[AgreementStep]
) -> dict[str, tuple[Referral, Offer]]:
    ids = [s.referral_id for s in steps if s.referral_id]
    if not ids:
        return {}
    rows = session.execute(
        select(Referral, Offer)
        .join(Offer, Offer.id == Referral.offer_id)
        .where(Referral.id.in_(ids))
    )
    return {r.id: (r, o) for r, o in rows}


def step_overdue(step: AgreementStep, referral_status: str | None, today: date) -> bool:
    """A step is late when its due date has passed and it is neither done nor dropped; a
    referral step also stops being late once the referral is enrolled or settled, since then
    its next move belongs to a review, not to a reminder."""
    if step.due is None or step.due >= today or step.status in ("done", "dropped"):
        return False
    return referral_status not in REFERRAL_SETTLED


def review_state(agreement: Agreement, today: date) -> tuple[bool, bool]:
    """``(due, overdue)``: due when the next review is at most ``REVIEW_SOON_DAYS`` away
    (or past), overdue when its date has passed. Only signed agreements are reviewed."""
    if agreement.status != "signed" or agreement.next_review is None:
        return False, False
    due = agreement.next_review <= today + timedelta(days=REVIEW_SOON_DAYS)
    return due, agreement.next_review < today


def _step_dict(
    step: AgreementStep, linked: dict[str, tuple[Referral, Offer]], today: date, binding: bool
) -> dict[str, Any]:
    referral = None
    status = None
    if step.referral_id and step.referral_id in linked:
        r, o = linked[step.referral_id]
        status = r.status
        referral = {
            "id": r.id,
            "request_id": r.request_id,
            "offer_id": o.id,
            "offer_title": o.title,
            "organization": o.organization,
            "municipality": o.municipality,
            "category": o.category,
            "status": r.status,
        }
    return {
        "id": step.id,
        "kind": step.kind,
        "goal": step.goal,
        "text": step.text,
        "responsible": step.responsible,
        "due": step.due,
        "status": step.status,
        "overdue": binding and step_overdue(step, status, today),
        "referral": referral,
    }


def describe_agreement(
    session: Session, agreement: Agreement, today: date | None = None
) -> dict[str, Any]:
    """Everything about one agreement as plain data (goals, steps with their referrals and
    offers, reviews, schedule state). No audit entry: the caller's read or change has one."""
    day = _today(today)
    due, overdue = review_state(agreement, day)
    steps = steps_of(session, [agreement.id])
    linked = _referrals_with_offers(session, steps)
    signatures = [
        {"party": party, "date": on}
        for party, on in (
            ("person", agreement.person_signed_on),
            ("counsellor", agreement.counsellor_signed_on),
        )
        if on is not None
    ]
    return {
        "id": agreement.id,
        "centre_id": agreement.centre_id,
        "person_ref": agreement.person_ref,
        "status": agreement.status,
        "binding": agreement.status in ("signed", "closed"),
        "language": agreement.language,
        "municipality": agreement.municipality,
        "start_date": agreement.start_date,
        "review_every_months": agreement.review_every_months,
        "next_review": agreement.next_review,
        "review_due": due,
        "review_overdue": overdue,
        "signatures": signatures,
        "signed_on": agreement.signed_on,
        "closed_on": agreement.closed_on,
        "closing_note": agreement.closing_note,
        "counsellor_username": agreement.counsellor_username,
        "counsellor_name": counsellor_name(session, agreement),
        "version": agreement.version,
        "created_at": agreement.created_at,
        "updated_at": agreement.updated_at,
        "created_by": agreement.created_by,
        "goals": [
            {
                "index": g.position,
                "category": g.category,
                "priority": g.priority,
                "target": g.target or "",
                "target_by": g.target_by,
                "outcome": g.outcome,
            }
            for g in goals_of(session, agreement.id)
        ],
        "steps": [_step_dict(s, linked, day, agreement.status == "signed") for s in steps],
        "reviews": [
            {
                "id": r.id,
                "date": r.held_on,
                "note": r.note or "",
                "successes": r.successes or "",
                "obstacles": list(r.obstacles or []),
                "steps": list(r.step_statuses or []),
                "next_review": r.next_review,
                "by": r.created_by,
            }
            for r in reviews_of(session, agreement.id)
        ],
        "documents": [document_summary(d) for d in documents_of(session, agreement.id)],
    }


@dataclass
class AgreementListing:
    """The counsellor's overview: agreements (as summaries), and what needs attention."""

    items: list[dict[str, Any]] = field(default_factory=list)
    reviews_due: int = 0
    reviews_overdue: int = 0
    overdue_steps: list[dict[str, Any]] = field(default_factory=list)


def _status_filter(stmt: Select, status: str) -> Select:
    if status == "open":
        return stmt.where(Agreement.status.in_(("draft", "signed")))
    if status == "all":
        return stmt
    return stmt.where(Agreement.status == status)


LIST_LIMIT = 1000


def list_agreements(
    session: Session,
    actor: Principal,
    *,
    status: str = "open",
    review_due: bool | None = None,
    centre_id: str | None = None,
    today: date | None = None,
) -> AgreementListing:
    """The centre's agreements (admin: every centre, or ``centre_id``), next review first,
    with due and overdue reviews and late steps. Each listed case is audited as read."""
    if status not in LIST_FILTERS:
        raise InvalidInput([FieldError("status", "one of " + ", ".join(LIST_FILTERS))])
    day = _today(today)
    stmt = select(Agreement).where(Agreement.anonymised_at.is_(None))
    if actor.role == "counsellor":
        if centre_id and centre_id != actor.centre_id:
            raise Forbidden("counsellors see only their own centre's agreements")
        stmt = stmt.where(Agreement.centre_id == actor.centre_id)
    elif actor.role == "admin":
        if centre_id:
            stmt = stmt.where(Agreement.centre_id == centre_id)
    else:
        raise Forbidden("only counsellors and admin see agreements")
    stmt = _status_filter(stmt, status)
    if review_due is not None:
        soon = day + timedelta(days=REVIEW_SOON_DAYS)
        is_due = (Agreement.status == "signed") & (Agreement.next_review <= soon)
        stmt = stmt.where(is_due if review_due else ~is_due | Agreement.next_review.is_(None))
    stmt = stmt.order_by(
        Agreement.next_review.is_(None), Agreement.next_review, Agreement.created_at
    ).limit(LIST_LIMIT)
    agreements = list(session.scalars(stmt))
    steps = steps_of(session, [a.id for a in agreements])
    linked = _referrals_with_offers(session, steps)
    by_agreement: dict[str, list[AgreementStep]] = {}
    for s in steps:
        by_agreement.setdefault(s.agreement_id, []).append(s)
    listing = AgreementListing()
    for a in agreements:
        due, overdue = review_state(a, day)
        listing.reviews_due += due
        listing.reviews_overdue += overdue
        described = [
            _step_dict(s, linked, day, a.status == "signed") for s in by_agreement.get(a.id, [])
        ]
        late = [d for d in described if d["overdue"]]
        listing.overdue_steps.extend(
            {"agreement_id": a.id, "person_ref": a.person_ref, **d} for d in late
        )
        listing.items.append(
            {
                "id": a.id,
                "centre_id": a.centre_id,
                "person_ref": a.person_ref,
                "status": a.status,
                "municipality": a.municipality,
                "start_date": a.start_date,
                "signed_on": a.signed_on,
                "closed_on": a.closed_on,
                "next_review": a.next_review,
                "review_due": due,
                "review_overdue": overdue,
                "steps": len(described),
                "open_steps": sum(1 for d in described if d["status"] in ("open", "obstacle")),
                "overdue_steps": len(late),
                "updated_at": a.updated_at,
            }
        )
    audit.record_many(
        session, actor, "list", [(a.centre_id, a.id, a.person_key) for a in agreements]
    )
    return listing


# --- creating and changing -----------------------------------------------------------------


def _prefixed(errors: list[FieldError], prefix: str) -> list[FieldError]:
    return [FieldError(f"{prefix}.{e.field}", e.message) for e in errors]


def _check_goal_refs(steps: Sequence[StepIn], goals: int, prefix: str = "steps") -> None:
    errors = [
        FieldError(f"{prefix}.{i}.goal", f"there is no goal {s.goal} (goals count from 0)")
        for i, s in enumerate(steps)
        if s.goal is not None and s.goal >= goals
    ]
    if errors:
        raise InvalidInput(errors)


def _check_step_shapes(steps: Sequence[StepIn], prefix: str = "steps") -> None:
    """Each kind has its own required fields; checked here so errors name the exact field."""
    errors: list[FieldError] = []
    for i, s in enumerate(steps):
        at = f"{prefix}.{i}"
        if s.kind == "action":
            if not s.text:
                errors.append(FieldError(f"{at}.text", N_("an action step needs a text")))
            if s.responsible is None:
                errors.append(FieldError(f"{at}.responsible", "one of " + ", ".join(RESPONSIBLE)))
            for name in ("request_id", "offer_id", "referral_id"):
                if getattr(s, name):
                    errors.append(FieldError(f"{at}.{name}", N_("only referral steps name one")))
        elif s.referral_id:
            if s.request_id or s.offer_id:
                errors.append(
                    FieldError(f"{at}.referral_id", N_("give referral_id or request_id + offer_id"))
                )
        else:
            for name in ("request_id", "offer_id"):
                if not getattr(s, name):
                    errors.append(
                        FieldError(
                            f"{at}.{name}", N_("a referral step needs request_id and offer_id")
                        )
                    )
            if s.consent is not True:
                errors.append(
                    FieldError(
                        f"{at}.consent",
                        N_("the person's consent must be recorded before a referral"),
                    )
                )
    if errors:
        raise InvalidInput(errors)


def _default_goal(goals: Sequence[AgreementGoal], category: str) -> int | None:
    """The first goal whose need covers the offer's category (same leaf or same parent)."""
    parent = taxonomy.parent(category) if taxonomy.is_known(category) else category
    for g in goals:
        if g.category == category or g.category == parent:
            return g.position
    for g in goals:
        if taxonomy.is_known(g.category) and taxonomy.parent(g.category) == parent:
            return g.position
    return None


def _add_steps(
    session: Session,
    actor: Principal,
    agreement: Agreement,
    steps: Sequence[StepIn],
    goals: Sequence[AgreementGoal],
    prefix: str = "steps",
) -> list[AgreementStep]:
    """Append steps; a referral step from a suggestion makes the referral (consent checked,
    same centre and same person as the agreement)."""
    _check_step_shapes(steps, prefix)
    _check_goal_refs(steps, len(goals), prefix)
    position = (
        session.scalar(
            select(func.max(AgreementStep.position)).where(
                AgreementStep.agreement_id == agreement.id
            )
        )
        or 0
    )
    added = []
    for i, s in enumerate(steps):
        at = f"{prefix}.{i}"
        referral = None
        if s.kind == "referral":
            referral = _referral_for_step(session, actor, agreement, s, at)
        position += 1
        goal = s.goal
        if goal is None and referral is not None:
            offer = session.get(Offer, referral.offer_id)
            goal = _default_goal(goals, offer.category) if offer else None
        step = AgreementStep(
            agreement_id=agreement.id,
            position=position,
            goal=goal,
            kind=s.kind,
            text=s.text or None,
            responsible=s.responsible or "agency",
            due=s.due,
            status="open",
            referral_id=referral.id if referral else None,
        )
        session.add(step)
        added.append(step)
    session.flush()
    return added


def _referral_for_step(
    session: Session, actor: Principal, agreement: Agreement, s: StepIn, at: str
) -> Referral:
    if s.referral_id:
        try:
            referral = referrals.get_referral(session, actor, s.referral_id)
        except NotFound:
            raise InvalidInput([FieldError(f"{at}.referral_id", N_("no such referral"))]) from None
        if referral.centre_id != agreement.centre_id or referral.person_key != agreement.person_key:
            raise InvalidInput(
                [FieldError(f"{at}.referral_id", N_("that referral is about another person"))]
            )
        taken = session.scalar(
            select(AgreementStep.agreement_id).where(AgreementStep.referral_id == referral.id)
        )
        if taken:
            raise InvalidInput(
                [
                    FieldError(
                        f"{at}.referral_id", N_("that referral is already a step of an agreement")
                    )
                ]
            )
        return referral
    assert s.request_id and s.offer_id  # _check_step_shapes made sure
    try:
        origin = origin_of_request(session, s.request_id)
    except InvalidInput as exc:
        raise InvalidInput(_prefixed(exc.errors, at)) from None
    if origin.centre_id != agreement.centre_id or origin.person_key != agreement.person_key:
        raise InvalidInput(
            [
                FieldError(
                    f"{at}.request_id",
                    N_(
                        "that recommendation was made for another person_ref; ask again for this person"
                    ),
                )
            ]
        )
    if session.get(Offer, s.offer_id) is None:
        raise InvalidInput([FieldError(f"{at}.offer_id", f"no offer with id '{s.offer_id}'")])
    try:
        return referrals.create_referral(session, actor, origin, s.offer_id, s.consent)
    except InvalidInput as exc:
        raise InvalidInput(_prefixed(exc.errors, at)) from None


def _replace_goals(
    session: Session, agreement: Agreement, goals: Sequence[GoalIn]
) -> list[AgreementGoal]:
    for old in goals_of(session, agreement.id):
        session.delete(old)
    session.flush()
    rows = [
        AgreementGoal(
            agreement_id=agreement.id,
            position=i,
            category=g.category,
            priority=g.priority,
            target=g.target or None,
            target_by=g.target_by,
        )
        for i, g in enumerate(goals)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _municipality_of_requests(session: Session, steps: Sequence[StepIn]) -> str | None:
    """The municipality of the place the person's recommendations were made for (by its
    official name): where the agreement counts in reports unless the counsellor names one."""
    ids = [s.request_id for s in steps if s.request_id]
    for request_id in ids:
        req = session.get(RecommendationRequest, request_id)
        place = (req.context or {}).get("municipality") if req else None
        if place:
            return municipality_or_none(str(place))
    return None


def create_agreement(
    session: Session, actor: Principal, data: AgreementIn, *, today: date | None = None
) -> Agreement:
    """Record a draft agreement with its goals and steps (referral steps make referrals).

    One open agreement per person and centre: a second is a ``Conflict``, since two
    simultaneous plans for one person would make reviews and reports ambiguous.
    """
    centre_id = centre_for_actor(actor, data.centre_id)
    if not actor.may_read_centre(centre_id):
        raise Forbidden("this counselling centre is not yours")
    key = person_key(centre_id, data.person_ref)
    existing = session.scalar(
        select(Agreement.id).where(
            Agreement.centre_id == centre_id,
            Agreement.person_key == key,
            Agreement.status.in_(("draft", "signed")),
            Agreement.anonymised_at.is_(None),
        )
    )
    if existing:
        raise Conflict(
            f"this person already has an open agreement ({existing}); change or close it"
        )
    _check_step_shapes(data.steps)
    _check_goal_refs(data.steps, len(data.goals))
    ensure_centre(session, centre_id)
    now = utcnow()
    agreement = Agreement(
        id=str(uuid.uuid4()),
        centre_id=centre_id,
        person_key=key,
        person_ref=data.person_ref,
        municipality=data.municipality or _municipality_of_requests(session, data.steps),
        status="draft",
        start_date=data.start_date or _today(today),
        review_every_months=data.review_every_months,
        language=data.language or preferred_person_language(data.languages),
        version=1,
        created_at=now,
        updated_at=now,
        created_by=actor.actor,
        counsellor_username=actor.username,
    )
    session.add(agreement)
    try:
        session.flush()
    except IntegrityError as exc:
        # another creation for this person committed between the check above and this insert
        if not _is_open_agreement_clash(exc):
            raise
        raise Conflict(
            "this person already has an open agreement, created just now by someone else; "
            "read the centre's agreements, then change or close that one"
        ) from None
    note_case(session, centre_id, data.person_ref)
    goals = _replace_goals(session, agreement, data.goals)
    _add_steps(session, actor, agreement, data.steps, goals)
    _audit(session, actor, "create", agreement)
    return agreement


def _is_open_agreement_clash(exc: IntegrityError) -> bool:
    """Whether the insert broke the one-open-agreement-per-person index (PostgreSQL names
    the index, SQLite its columns)."""
    message = str(exc.orig)
    return OPEN_AGREEMENT_INDEX in message or (
        "agreements.centre_id, agreements.person_key" in message
    )


def _check_version(agreement: Agreement, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != agreement.version:
        raise StaleVersion(
            f"the agreement is at version {agreement.version}, not {expected_version}; "
            "read it again"
        )


def _claim(session: Session, agreement: Agreement, expected_version: int | None) -> None:
    """Move the agreement to its next version, but only from the version and status this
    change read. Of two changes that read the same version the second finds the row moved on
    and is refused, so neither overwrites the other; the winner holds the row until it
    commits."""
    now = utcnow()
    moved = session.execute(
        update(Agreement)
        .where(
            Agreement.id == agreement.id,
            Agreement.version == agreement.version,
            Agreement.status == agreement.status,
            Agreement.anonymised_at.is_(None),
        )
        .values(version=Agreement.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(moved) != 1:
        _lost_race(session, agreement, expected_version)
    set_committed_value(agreement, "version", agreement.version + 1)
    set_committed_value(agreement, "updated_at", now)


def _lost_race(
    session: Session, agreement: Agreement, expected_version: int | None = None
) -> NoReturn:
    """Refuse a change that another one overtook: 409 when the status moved on, 412 when the
    caller named the version it read, 409 otherwise."""
    row = session.execute(
        select(Agreement.status, Agreement.version, Agreement.anonymised_at).where(
            Agreement.id == agreement.id
        )
    ).first()
    if row is None or row.anonymised_at is not None:
        raise NotFound(f"no agreement with id '{agreement.id}'")
    if row.status != agreement.status:
        raise Conflict(
            f"the agreement became {row.status} while this change was made; read it again"
        )
    if expected_version is not None:
        raise StaleVersion(
            f"the agreement is at version {row.version}, not {expected_version}; read it again"
        )
    raise Conflict("the agreement was changed by someone else meanwhile; read it again")


def _last_review_date(session: Session, agreement: Agreement) -> date | None:
    return session.scalar(
        select(func.max(AgreementReview.held_on)).where(
            AgreementReview.agreement_id == agreement.id
        )
    )


def update_agreement(
    session: Session,
    actor: Principal,
    agreement_id: str,
    patch: AgreementPatch,
    *,
    expected_version: int | None = None,
    today: date | None = None,
) -> Agreement:
    """Change an agreement: what its status allows (``agreement_lifecycle.CHANGES``; goals,
    steps and the start date only in a draft, the schedule only once signed), else
    ``Conflict``."""
    agreement = _load(session, actor, agreement_id, for_update=True)
    given = patch.model_fields_set
    agreement_lifecycle.check_changes(agreement.status, set(given))
    _check_version(agreement, expected_version)
    _claim(session, agreement, expected_version)
    _change_details(agreement, patch, given)
    _change_content(session, actor, agreement, patch, given)
    _change_schedule(session, agreement, patch, given)
    session.flush()
    _audit(session, actor, "update", agreement)
    return agreement


def _change_details(agreement: Agreement, patch: AgreementPatch, given: set[str]) -> None:
    """Start date, municipality and the person's language."""
    if "start_date" in given and patch.start_date is not None:
        agreement.start_date = patch.start_date
    if "municipality" in given:
        agreement.municipality = patch.municipality or None
    if "language" in given and patch.language:
        agreement.language = patch.language


def _change_content(
    session: Session,
    actor: Principal,
    agreement: Agreement,
    patch: AgreementPatch,
    given: set[str],
) -> None:
    """A draft's steps removed, goals replaced, steps added (in that order, so new steps may
    serve the new goals). Goals are not replaced from under a remaining step."""
    goals = goals_of(session, agreement.id)
    if "remove_steps" in given and patch.remove_steps:
        _remove_steps(session, agreement, patch.remove_steps)
    if "goals" in given and patch.goals is not None:
        remaining = steps_of(session, [agreement.id])
        late = [s for s in remaining if s.goal is not None and s.goal >= len(patch.goals)]
        if late:
            raise InvalidInput(
                [
                    FieldError(
                        "goals",
                        f"step {s.id} serves goal {s.goal}, which the new goals lack",
                    )
                    for s in late
                ]
            )
        goals = _replace_goals(session, agreement, patch.goals)
    if "steps" in given and patch.steps:
        _add_steps(session, actor, agreement, patch.steps, goals)


def _change_schedule(
    session: Session, agreement: Agreement, patch: AgreementPatch, given: set[str]
) -> None:
    """The review interval, and the next review: given, or the new interval counted from the
    last review (or the signatures)."""
    if "review_every_months" in given and patch.review_every_months is not None:
        agreement.review_every_months = patch.review_every_months
        if agreement.status == "signed" and "next_review" not in given:
            base = _last_review_date(session, agreement) or agreement.signed_on
            if base is not None:
                agreement.next_review = add_months(base, agreement.review_every_months)
    if "next_review" in given and patch.next_review is not None:
        agreement.next_review = patch.next_review


def _remove_steps(session: Session, agreement: Agreement, step_ids: Sequence[int]) -> None:
    """Remove draft steps. A referral made for a removed step stays (it is the agency's
    record too); the counsellor withdraws it through its own status if need be."""
    steps = {s.id: s for s in steps_of(session, [agreement.id])}
    unknown = [i for i in step_ids if i not in steps]
    if unknown:
        raise InvalidInput(
            [FieldError("remove_steps", f"no step {i} in this agreement") for i in unknown]
        )
    for i in step_ids:
        session.delete(steps[i])
    session.flush()


def sign_agreement(
    session: Session,
    actor: Principal,
    agreement_id: str,
    party: str,
    on: date | None = None,
    *,
    expected_version: int | None = None,
    today: date | None = None,
) -> Agreement:
    """Record one side's signature; with both, the agreement is signed (binding) and its
    first review falls ``review_every_months`` after the later signature.

    The signature, and with the other side's the move to ``signed``, is one conditional
    statement: when both sides sign at once, each statement sees the other's signature or
    none, so exactly one of them completes the agreement.
    """
    if party not in PARTIES:
        raise InvalidInput([FieldError("party", "one of " + ", ".join(PARTIES))])
    day = _today(today)
    signed = on or day
    _not_future(signed, day, "date")
    agreement = _load(session, actor, agreement_id, for_update=True)
    agreement_lifecycle.check_action(agreement.status, "sign")
    mine, other = (
        (Agreement.person_signed_on, Agreement.counsellor_signed_on)
        if party == "person"
        else (Agreement.counsellor_signed_on, Agreement.person_signed_on)
    )
    if getattr(agreement, mine.key) is not None:
        raise Conflict(f"the {party} has already signed")
    if not goals_of(session, agreement.id) or not steps_of(session, [agreement.id]):
        raise Conflict("an agreement needs at least one goal and one step before signing")
    _check_version(agreement, expected_version)
    completes = other.is_not(None)
    stmt = (
        update(Agreement)
        .where(
            Agreement.id == agreement.id,
            Agreement.status == "draft",
            Agreement.anonymised_at.is_(None),
            mine.is_(None),
        )
        .values(
            {
                mine: signed,
                Agreement.status: case(
                    (completes, agreement_lifecycle.NEXT["draft", "sign"]),
                    else_=Agreement.status,
                ),
                Agreement.signed_on: case(
                    (completes, case((other > signed, other), else_=signed)), else_=None
                ),
                Agreement.version: Agreement.version + 1,
                Agreement.updated_at: utcnow(),
            }
        )
        .execution_options(synchronize_session=False)
    )
    if expected_version is not None:
        stmt = stmt.where(Agreement.version == expected_version)
    if changed_rows(session.execute(stmt)) != 1:
        if _signed_meanwhile(session, agreement, mine):
            raise Conflict(f"the {party} has already signed")
        _lost_race(session, agreement, expected_version)
    session.refresh(agreement)
    if party == "counsellor" and actor.username:
        agreement.counsellor_username = actor.username
        session.flush()
    if agreement.status == "signed":
        # this signature completed it (the statement moved it from draft, and the row is
        # ours until commit): schedule the first review
        assert agreement.signed_on is not None
        agreement.next_review = add_months(agreement.signed_on, agreement.review_every_months)
        session.flush()
    _audit(session, actor, "sign", agreement)
    return agreement


def _signed_meanwhile(session: Session, agreement: Agreement, column: Any) -> bool:
    return session.scalar(select(column).where(Agreement.id == agreement.id)) is not None


def add_review(
    session: Session,
    actor: Principal,
    agreement_id: str,
    review: ReviewIn,
    *,
    expected_version: int | None = None,
    today: date | None = None,
) -> Agreement:
    """Record a joint review of a signed agreement: sets each named step's status and moves
    the next review (given, or ``review_every_months`` after this one). Returns the
    agreement, which now lists the review."""
    day = _today(today)
    held = review.date or day
    _not_future(held, day, "date")
    agreement = _load(session, actor, agreement_id, for_update=True)
    agreement_lifecycle.check_action(agreement.status, "review")
    if agreement.signed_on and held < agreement.signed_on:
        raise InvalidInput([FieldError("date", N_("a review cannot precede the signatures"))])
    steps = {s.id: s for s in steps_of(session, [agreement.id])}
    errors: list[FieldError] = []
    seen: set[int] = set()
    for i, s in enumerate(review.steps):
        if s.step_id not in steps:
            errors.append(
                FieldError(f"steps.{i}.step_id", f"no step {s.step_id} in this agreement")
            )
        elif s.step_id in seen:
            errors.append(FieldError(f"steps.{i}.step_id", N_("named twice")))
        seen.add(s.step_id)
    for i, o in enumerate(review.obstacles):
        if o.step_id is not None and o.step_id not in steps:
            errors.append(
                FieldError(f"obstacles.{i}.step_id", f"no step {o.step_id} in this agreement")
            )
    if review.next_review is not None and review.next_review <= held:
        errors.append(FieldError("next_review", N_("must come after the review")))
    for i, r in enumerate(review.referrals):
        if r.step_id not in steps or steps[r.step_id].referral_id is None:
            errors.append(
                FieldError(f"referrals.{i}.step_id", f"step {r.step_id} is no referral step")
            )
    if errors:
        raise InvalidInput(errors)
    _check_done_referrals(session, review, steps)
    _check_version(agreement, expected_version)
    _claim(session, agreement, expected_version)
    for i, r in enumerate(review.referrals):
        referral_id = steps[r.step_id].referral_id
        assert referral_id is not None
        try:
            referrals.change_status(session, actor, referral_id, r.status, r.reason)
        except InvalidInput as exc:
            raise InvalidInput(_prefixed(exc.errors, f"referrals.{i}")) from None
    for s in review.steps:
        steps[s.step_id].status = s.status
    next_review = review.next_review or add_months(held, agreement.review_every_months)
    row = AgreementReview(
        agreement_id=agreement.id,
        held_on=held,
        note=review.note or None,
        successes=review.successes or None,
        obstacles=[o.model_dump() for o in review.obstacles],
        step_statuses=[s.model_dump() for s in review.steps],
        next_review=next_review,
        created_at=utcnow(),
        created_by=actor.actor,
    )
    session.add(row)
    agreement.next_review = next_review
    session.flush()
    _audit(session, actor, "review", agreement)
    return agreement


def _check_done_referrals(
    session: Session, review: ReviewIn, steps: dict[int, AgreementStep]
) -> None:
    """A referral step is done only once the agency has at least accepted its referral: a
    step marked done while its referral is still proposed (also after the review's own
    referral changes) would contradict the referral."""
    moved = {r.step_id: r.status for r in review.referrals}
    errors = []
    for i, s in enumerate(review.steps):
        step = steps[s.step_id]
        if s.status != "done" or step.referral_id is None:
            continue
        status = moved.get(s.step_id) or session.scalar(
            select(Referral.status).where(Referral.id == step.referral_id)
        )
        if status == "proposed":
            errors.append(
                FieldError(
                    f"steps.{i}.status",
                    N_(
                        "a referral step is done only once its referral is accepted, enrolled or "
                        "completed; it is still proposed"
                    ),
                )
            )
    if errors:
        raise InvalidInput(errors)


def close_agreement(
    session: Session,
    actor: Principal,
    agreement_id: str,
    close: CloseIn,
    *,
    expected_version: int | None = None,
    today: date | None = None,
) -> Agreement:
    """Close a signed agreement with every goal's outcome (each goal exactly once)."""
    day = _today(today)
    closed = close.date or day
    _not_future(closed, day, "date")
    agreement = _load(session, actor, agreement_id, for_update=True)
    agreement_lifecycle.check_action(agreement.status, "close")
    if agreement.signed_on and closed < agreement.signed_on:
        raise InvalidInput([FieldError("date", N_("closing cannot precede the signatures"))])
    goals = {g.position: g for g in goals_of(session, agreement.id)}
    errors: list[FieldError] = []
    given: dict[int, str] = {}
    for i, o in enumerate(close.outcomes):
        if o.goal not in goals:
            errors.append(FieldError(f"outcomes.{i}.goal", f"there is no goal {o.goal}"))
        elif o.goal in given:
            errors.append(FieldError(f"outcomes.{i}.goal", N_("named twice")))
        given[o.goal] = o.outcome
    missing = sorted(set(goals) - set(given))
    if missing:
        errors.append(
            FieldError(
                "outcomes",
                "every goal needs an outcome; missing goal(s) " + ", ".join(map(str, missing)),
            )
        )
    if errors:
        raise InvalidInput(errors)
    _check_version(agreement, expected_version)
    _claim(session, agreement, expected_version)
    for position, outcome in given.items():
        goals[position].outcome = outcome
    agreement.status = agreement_lifecycle.NEXT["signed", "close"]
    agreement.closed_on = closed
    agreement.closing_note = close.note or None
    agreement.next_review = None
    session.flush()
    _audit(session, actor, "close", agreement)
    return agreement


def counsellor_name(session: Session, agreement: Agreement) -> str | None:
    """The display name (or user name) of the agreement's counsellor, if known."""
    if not agreement.counsellor_username:
        return None
    user = session.scalar(select(User).where(User.username == agreement.counsellor_username))
    if user is None:
        return None
    return user.display_name or user.username


OFFER_PRINT_FIELDS: tuple[str, ...] = (
    "title",
    "category",
    "organization",
    "street",
    "postcode",
    "municipality",
    "online",
    "languages",
    "days",
    "times",
    "start_date",
    "end_date",
    "childcare",
    "cost_eur",
    "wheelchair_accessible",
    "url",
    "email",
    "phone",
    "capacity_free",
)


def print_data(session: Session, agreement: Agreement, today: date | None = None) -> dict[str, Any]:
    """What the printouts show (no audit entry: the caller's read or signature has one): the
    agreement, its centre's name, and for each referral step the offer's address, times and
    contact details. The person appears only by the centre's pseudonymous reference."""
    data = describe_agreement(session, agreement, today)
    centre = session.get(Centre, agreement.centre_id)
    data["centre_name"] = centre.name if centre else agreement.centre_id
    data["centre_address"] = [
        line.strip() for line in (centre.address if centre else "").splitlines() if line.strip()
    ]
    offers = {
        o.id: o
        for o in session.scalars(
            select(Offer).where(
                Offer.id.in_([s["referral"]["offer_id"] for s in data["steps"] if s["referral"]])
            )
        )
    }
    for step in data["steps"]:
        offer = offers.get(step["referral"]["offer_id"]) if step["referral"] else None
        step["offer"] = (
            {name: getattr(offer, name) for name in OFFER_PRINT_FIELDS} if offer else None
        )
    return data


def printable_agreement(
    session: Session, actor: Principal, agreement_id: str, *, today: date | None = None
) -> dict[str, Any]:
    """What the print views show (``print_data``), audited as ``print``."""
    agreement = _load(session, actor, agreement_id, for_update=False)
    _audit(session, actor, "print", agreement)
    return print_data(session, agreement, today)


__all__ = [
    "OBSTACLES",
    "AgreementIn",
    "AgreementListing",
    "AgreementPatch",
    "CloseIn",
    "ReviewIn",
    "SignatureIn",
    "add_months",
    "add_review",
    "centre_for_actor",
    "close_agreement",
    "create_agreement",
    "describe_agreement",
    "get_agreement",
    "list_agreements",
    "printable_agreement",
    "sign_agreement",
    "update_agreement",
]
