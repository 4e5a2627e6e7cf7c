"""Labels of the agreement's vocabularies that are printed for the person too (agreement
statuses, step statuses, who is responsible, outcomes, the signing parties): English message
ids, translated on use (``lotse.i18n``). Both catalogue domains extract this module, so each
label has the staff's German and English and the person's languages.
"""

from __future__ import annotations

from lotse.i18n import N_

AGREEMENT_STATUS_LABELS: dict[str, str] = {
    "draft": N_("draft"),
    "signed": N_("signed"),
    "closed": N_("closed"),
}
STEP_STATUS_LABELS: dict[str, str] = {
    "open": N_("open"),
    "done": N_("done"),
    "obstacle": N_("obstacle"),
    "dropped": N_("dropped"),
}
RESPONSIBLE_LABELS: dict[str, str] = {
    "person": N_("the person"),
    "counsellor": N_("counsellor"),
    # TRANSLATORS: The organisation that runs the offer (course provider, daycare, ...).
    "agency": N_("agency"),
    # TRANSLATORS: Jobcenter: the office that pays citizen's benefit and helps find work.
    "job_centre": N_("job centre"),
    # TRANSLATORS: Ausländerbehörde: the local office for residence permits.
    "foreigners_authority": N_("foreigners' authority"),
}
OUTCOME_LABELS: dict[str, str] = {
    "reached": N_("reached"),
    "partly_reached": N_("partly reached"),
    "not_reached": N_("not reached"),
}
PARTY_LABELS: dict[str, str] = {"person": N_("the person"), "counsellor": N_("the counsellor")}
