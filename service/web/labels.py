"""Human labels for the contract's codes, in the page's language.

Each vocabulary has one label table, kept beside the vocabulary (``catalog.vocab``,
``catalog.taxonomy``, ``casework.labels``, ``casework.lifecycle``, ``casework.agreements``,
``lotse.accounts``); this module only names them for the templates and translates through the
page's catalogue (``lotse.i18n``).
"""

from __future__ import annotations

from casework import labels as casework_labels
from casework import lifecycle
from casework.agreements import OBSTACLE_LABELS
from catalog import taxonomy, vocab
from lotse.accounts import ROLE_LABELS
from service.web.i18n import page_translator


def category_label(code: str | None) -> str:
    """A category or parent code as people say it, in the page's language."""
    if not code:
        return ""
    return taxonomy.label(code, page_translator())


def label(table: dict[str, str], code: str | None) -> str:
    """``code`` from a vocabulary as a label (the code itself when unknown)."""
    return page_translator().label(table, code)


#: Vocabularies the templates may look up by name (``code|label("days")``).
TABLES: dict[str, dict[str, str]] = {
    "german_levels": vocab.GERMAN_LEVEL_LABELS,
    "days": vocab.DAY_LABELS,
    "times": vocab.TIME_LABELS,
    "genders": vocab.GENDER_LABELS,
    "residence_statuses": vocab.RESIDENCE_STATUS_LABELS,
    "benefits": vocab.BENEFIT_LABELS,
    "target_groups": vocab.TARGET_GROUP_LABELS,
    "offer_statuses": vocab.STATUS_LABELS,
    "referral_statuses": lifecycle.STATUS_LABELS,
    "referral_reasons": lifecycle.REASON_LABELS,
    "roles": ROLE_LABELS,
    "agreement_statuses": casework_labels.AGREEMENT_STATUS_LABELS,
    "step_statuses": casework_labels.STEP_STATUS_LABELS,
    "responsible": casework_labels.RESPONSIBLE_LABELS,
    "outcomes": casework_labels.OUTCOME_LABELS,
    "obstacles": OBSTACLE_LABELS,
    "parties": casework_labels.PARTY_LABELS,
}


def options(table: str) -> dict[str, str]:
    """A vocabulary as ``{code: label}`` in the page's language, for selects and checkboxes."""
    t = page_translator()
    return {code: t.gettext(message) for code, message in TABLES[table].items()}


class _Vocabularies:
    """The templates' ``vocab.GENDERS`` …: each vocabulary's options, translated on access."""

    def __getattr__(self, name: str) -> dict[str, str]:
        table = name.lower()
        if table not in TABLES:
            raise AttributeError(name)
        return options(table)


VOCAB = _Vocabularies()
