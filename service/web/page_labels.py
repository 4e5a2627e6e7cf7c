"""Labels of the pages' own vocabularies (case filters, actors, service areas), in the
page's language through the message catalogue. The contract's vocabularies are in
``service.web.labels``; ``label`` in templates looks in both."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CASE_FILTERS = {
    "open": _l("open"),
    "review_due": _l("review due"),
    "overdue_steps": _l("steps overdue"),
    "closed": _l("closed"),
    "all": _l("all"),
}
#: The agency's buttons, by the status they set.
AGENCY_ACTIONS = {
    "accepted": _l("Accept"),
    "enrolled": _l("Enrol"),
    "completed": _l("Completed"),
    "dropped": _l("Dropped out"),
    "rejected_by_provider": _l("Decline"),
}
SERVICE_AREA_TYPES = {
    "municipality": _l("a municipality"),
    "district": _l("a district"),
    "state": _l("a federal state"),
    "country": _l("all of Germany"),
}
BASELINES = {
    "rule_score": _l("rule score"),
    "logistic_regression": _l("logistic regression"),
    "random": _l("random order"),
}
MODEL_STATUSES = {
    "candidate": _l("candidate"),
    "active": _l("active"),
    "retired": _l("retired"),
}
CASE_STATES = {"open": _l("open"), "closed": _l("closed")}
#: Who acted, by the role part of an actor label (``agency:vhs-wetzlar``).
ACTOR_ROLES = {
    "agency": _l("provider"),
    "counsellor": _l("counselling centre"),
    "admin": _l("administrator"),
    "analyst": _l("analyst"),
}
#: Offer history actions.
HISTORY_ACTIONS = {
    "create": _l("created"),
    "update": _l("changed"),
    "import": _l("imported"),
    "archive": _l("archived"),
    "enrolment": _l("place taken by an enrolment"),
}


def service_area_text(kind: str, name: str) -> str:
    """An offer's service area as a phrase: "all of Hesse", "the district Lahn-Dill-Kreis"."""
    from flask_babel import gettext as _

    if kind == "country":
        return _("all of Germany")
    if kind == "state":
        return _("all of %(name)s", name=name)
    if kind == "district":
        return _("the district %(name)s", name=name)
    return _("the municipality %(name)s", name=name)


def excluded_text(code: str, n: int) -> str | None:
    """How many offers a rule left out, said as the failure it was (None: unknown rule)."""
    from flask_babel import ngettext

    texts = {
        "category": lambda: ngettext(
            "%(num)s offer serves none of the stated needs",
            "%(num)s offers serve none of the stated needs",
            n,
        ),
        "distance": lambda: ngettext(
            "%(num)s offer is too far away (and not online, or online does not suit)",
            "%(num)s offers are too far away (and not online, or online does not suit)",
            n,
        ),
        "active": lambda: ngettext(
            "%(num)s offer is inactive or has ended",
            "%(num)s offers are inactive or have ended",
            n,
        ),
        "age": lambda: ngettext(
            "%(num)s offer is for another age", "%(num)s offers are for another age", n
        ),
        "gender": lambda: ngettext(
            "%(num)s offer is not open to the person's gender",
            "%(num)s offers are not open to the person's gender",
            n,
        ),
        "residence_status": lambda: ngettext(
            "%(num)s offer is not open to the person's residence status",
            "%(num)s offers are not open to the person's residence status",
            n,
        ),
        "benefits": lambda: ngettext(
            "%(num)s offer requires a benefit the person does not receive",
            "%(num)s offers require a benefit the person does not receive",
            n,
        ),
        "german_level": lambda: ngettext(
            "%(num)s offer is for another German level",
            "%(num)s offers are for another German level",
            n,
        ),
        "literacy": lambda: ngettext(
            "%(num)s offer requires reading and writing",
            "%(num)s offers require reading and writing",
            n,
        ),
        "schedule": lambda: ngettext(
            "%(num)s offer runs when the person is not available",
            "%(num)s offers run when the person is not available",
            n,
        ),
        "start": lambda: ngettext(
            "%(num)s offer starts before the earliest start",
            "%(num)s offers start before the earliest start",
            n,
        ),
        "wheelchair": lambda: ngettext(
            "%(num)s offer is not wheelchair accessible",
            "%(num)s offers are not wheelchair accessible",
            n,
        ),
        "child_age": lambda: ngettext(
            "%(num)s childcare offer takes none of the children by age",
            "%(num)s childcare offers take none of the children by age",
            n,
        ),
        "capacity": lambda: ngettext(
            "%(num)s offer has no free place", "%(num)s offers have no free place", n
        ),
        "profession": lambda: ngettext(
            "%(num)s recognition offer is for other professions",
            "%(num)s recognition offers are for other professions",
            n,
        ),
    }
    wording = texts.get(code)
    return wording() if wording else None


YES_NO = {True: _l("yes"), False: _l("no")}

TABLES = {
    "case_filters": CASE_FILTERS,
    "case_states": CASE_STATES,
    "actor_roles": ACTOR_ROLES,
    "history_actions": HISTORY_ACTIONS,
    "agency_actions": AGENCY_ACTIONS,
    "service_area_types": SERVICE_AREA_TYPES,
    "baselines": BASELINES,
    "model_statuses": MODEL_STATUSES,
}
