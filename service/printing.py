"""The person's printouts and the record of what was signed.

- ``agreement_html``: the integration agreement, German (or the staff's English) beside the
  person's language, paragraph by paragraph, right-to-left where that language is;
- ``next_steps_html``: "my next steps" in the person's language;
- ``sign_and_record``: a signature, and when it completes the agreement, the bilingual print
  kept in the same transaction; ``finish_record`` then makes its PDF (``casework.documents``
  says what happens when that fails).

The templates live in ``templates/person``; their texts are in both catalogue domains
(``babel.cfg``, ``babel-person.cfg``), so every language of ``lotse.i18n.PERSON_LANGUAGES`` has
each of them (``tests/lotse/test_translations.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import render_template
from sqlalchemy.orm import Session

from casework import agreements, documents
from casework import labels as casework_labels
from casework.tables import Agreement, AgreementDocument
from catalog import taxonomy
from catalog.vocab import DAYS, TIME_LABELS
from lotse.accounts import Principal
from lotse.i18n import (
    N_,
    PERSON_LANGUAGES,
    STAFF_LANGUAGES,
    Translator,
    person_translator,
    translator,
)
from lotse.pdf import html_to_pdf
from matcher.person_reasons import offer_reasons


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular/plural pair for extraction (``-k Nn_:1,2``) without translating it."""
    return singular, plural


def _labels() -> dict[str, Any]:
    return {
        "category_labels": taxonomy.LABELS,
        "responsible_labels": casework_labels.RESPONSIBLE_LABELS,
        "outcome_labels": casework_labels.OUTCOME_LABELS,
        "step_status_labels": casework_labels.STEP_STATUS_LABELS,
        "N_": N_,
        "Nn_": Nn_,
    }


def agreement_html(data: dict[str, Any], first: str = "de", person: str | None = None) -> str:
    """The printable agreement: ``first`` (de, en) beside the person's language ``person``
    (one of ``PERSON_LANGUAGES``; None or the same language: one column)."""
    left = translator(first if first in STAFF_LANGUAGES else "de")
    right: Translator | None = None
    if person is not None and person in PERSON_LANGUAGES and not (person == first != "de"):
        right = person_translator(person)
    return render_template(
        "person/agreement.html",
        a=data,
        L=left,
        P=right,
        page_lang=left.code,
        page_dir=left.direction,
        **_labels(),
    )


def next_steps_html(data: dict[str, Any], lang: str) -> str:
    """The person's "my next steps" sheet in ``lang`` (``PERSON_LANGUAGES``)."""
    t = person_translator(lang)
    goals = {g["index"]: g["category"] for g in data["goals"]}
    steps = []
    for step in data["steps"]:
        offer = step.get("offer")
        reasons = (
            offer_reasons(offer, goals.get(step["goal"]), t.code, t) if offer is not None else []
        )
        steps.append({**step, "reasons": reasons})

    def when_days(days: list[str]) -> str:
        names = t.day_names("wide")
        return t.list([names[DAYS.index(d)] for d in DAYS if d in days])

    def when_times(times: list[str]) -> str:
        return t.list([t.gettext(TIME_LABELS[x]) for x in TIME_LABELS if x in times])

    return render_template(
        "person/next_steps.html",
        a=data,
        steps=steps,
        T=t,
        page_lang=t.code,
        page_dir=t.direction,
        when_days=when_days,
        when_times=when_times,
        **_labels(),
    )


def sign_and_record(
    session: Session,
    actor: Principal,
    agreement_id: str,
    party: str,
    on: date | None = None,
    *,
    expected_version: int | None = None,
) -> tuple[Agreement, str | None]:
    """Record a signature (``casework.agreements.sign_agreement``, one conditional statement);
    when it completes the agreement, keep the bilingual print of what was signed (German
    beside the agreement's language) in the same transaction. Returns the agreement and the
    kept document's id (None when the agreement still waits for the other side). The caller
    commits, then calls ``finish_record``."""
    agreement = agreements.sign_agreement(
        session, actor, agreement_id, party, on, expected_version=expected_version
    )
    if agreement.status != "signed":
        return agreement, None
    data = agreements.print_data(session, agreement)
    html = agreement_html(data, "de", agreement.language)
    doc = documents.record_signed(session, actor, agreement, html, agreement.language)
    return agreement, doc.id


def finish_record(session: Session, document_id: str) -> AgreementDocument:
    """Make the PDF of a kept document and commit (stored, or failed with the error; the
    signature stands either way)."""
    doc = documents.make_pdf(session, document_id, html_to_pdf)
    session.commit()
    return doc
