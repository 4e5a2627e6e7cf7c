"""Human labels for the contract's codes, in the page's language.

Category labels come from ``catalog.taxonomy.LABELS`` (German and English); the other closed
vocabularies are translated through the message catalogue.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from catalog import taxonomy
from service.web.i18n import current_language

GERMAN_LEVELS = {
    "none": _l("no German yet"),
    "A1": "A1",
    "A2": "A2",
    "B1": "B1",
    "B2": "B2",
    "C1": "C1",
    "C2": "C2",
}
DAYS = {
    "mon": _l("Monday"),
    "tue": _l("Tuesday"),
    "wed": _l("Wednesday"),
    "thu": _l("Thursday"),
    "fri": _l("Friday"),
    "sat": _l("Saturday"),
    "sun": _l("Sunday"),
}
TIMES = {"morning": _l("mornings"), "afternoon": _l("afternoons"), "evening": _l("evenings")}
GENDERS = {
    "unspecified": _l("not stated"),
    "female": _l("female"),
    "male": _l("male"),
    "diverse": _l("diverse"),
}
RESIDENCE_STATUSES = {
    "recognised_refugee": _l("recognised refugee"),
    "asylum_seeker": _l("asylum seeker"),
    "tolerated": _l("tolerated (Duldung)"),
    "family_reunification": _l("family reunification"),
    "eu_citizen": _l("EU citizen"),
    "skilled_worker": _l("skilled worker"),
    "resettler": _l("resettler (Spätaussiedler)"),
    "other": _l("other"),
}
BENEFITS = {
    "sgb2": _l("citizen's benefit (SGB II)"),
    "asylblg": _l("asylum seekers' benefits (AsylbLG)"),
    "none": _l("no benefits"),
}
TARGET_GROUPS = {
    "parents": _l("parents"),
    "youth": _l("young people"),
    "women": _l("women"),
    "literacy": _l("literacy learners"),
    "second_script": _l("second-script learners"),
    "disability": _l("people with disabilities"),
}
OFFER_STATUSES = {"active": _l("active"), "inactive": _l("inactive")}
REFERRAL_STATUSES = {
    "proposed": _l("proposed"),
    "accepted": _l("accepted"),
    "declined": _l("declined by the person"),
    "enrolled": _l("enrolled"),
    "completed": _l("completed"),
    "dropped": _l("dropped out"),
    "rejected_by_provider": _l("rejected by the provider"),
}
REFERRAL_REASONS = {
    "no_longer_interested": _l("no longer interested"),
    "schedule_conflict": _l("schedule conflict"),
    "too_far": _l("too far away"),
    "childcare_missing": _l("childcare missing"),
    "found_other_offer": _l("found another offer"),
    "health": _l("health"),
    "other": _l("other"),
    "moved_away": _l("moved away"),
    "work_started": _l("started work"),
    "too_difficult": _l("too difficult"),
    "could_not_contact": _l("could not be contacted"),
    "not_eligible": _l("not eligible"),
    "no_capacity": _l("no capacity"),
    "incomplete_documents": _l("incomplete documents"),
    "course_cancelled": _l("course cancelled"),
}
AGREEMENT_STATUSES = {"draft": _l("draft"), "signed": _l("signed"), "closed": _l("closed")}
STEP_STATUSES = {
    "open": _l("open"),
    "done": _l("done"),
    "obstacle": _l("obstacle"),
    "dropped": _l("dropped"),
}
RESPONSIBLE = {
    "person": _l("the person"),
    "counsellor": _l("counsellor"),
    "agency": _l("agency"),
    "job_centre": _l("job centre"),
    "foreigners_authority": _l("foreigners' authority"),
}
OUTCOMES = {
    "reached": _l("reached"),
    "partly_reached": _l("partly reached"),
    "not_reached": _l("not reached"),
}
OBSTACLES = {
    "language_barrier": _l("language barrier"),
    "childcare_missing": _l("childcare missing"),
    "no_place_available": _l("no place available"),
    "waiting_time": _l("waiting time"),
    "documents_missing": _l("documents missing"),
    "recognition_pending": _l("recognition pending"),
    "residence_status": _l("residence status"),
    "health": _l("health"),
    "housing": _l("housing"),
    "transport": _l("transport"),
    "financial": _l("money"),
    "schedule_conflict": _l("schedule conflict"),
    "family_obligations": _l("family obligations"),
    "motivation": _l("motivation"),
    "other": _l("other"),
}
PARTIES = {"person": _l("the person"), "counsellor": _l("the counsellor")}
ROLES = {
    "admin": _l("administrator"),
    "agency": _l("agency"),
    "counsellor": _l("counsellor"),
    "analyst": _l("analyst"),
}


def category_label(code: str | None) -> str:
    """A category or parent code as people say it, in the page's language."""
    if not code:
        return ""
    pair = taxonomy.LABELS.get(code)
    if pair is None:
        return code
    return pair[0] if current_language() == "de" else pair[1]


def label(table: dict, code: str | None) -> str:
    """``code`` from a vocabulary as a label (the code itself when unknown)."""
    if code is None:
        return ""
    return str(table.get(code, code))


#: Vocabularies the templates may look up by name (``code|label("days")``).
TABLES = {
    "german_levels": GERMAN_LEVELS,
    "days": DAYS,
    "times": TIMES,
    "genders": GENDERS,
    "residence_statuses": RESIDENCE_STATUSES,
    "benefits": BENEFITS,
    "target_groups": TARGET_GROUPS,
    "offer_statuses": OFFER_STATUSES,
    "referral_statuses": REFERRAL_STATUSES,
    "referral_reasons": REFERRAL_REASONS,
    "roles": ROLES,
    "agreement_statuses": AGREEMENT_STATUSES,
    "step_statuses": STEP_STATUSES,
    "responsible": RESPONSIBLE,
    "outcomes": OUTCOMES,
    "obstacles": OBSTACLES,
    "parties": PARTIES,
}
