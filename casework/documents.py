"""The signed record of an agreement: what was signed, kept so it can be shown again later.

When a signature completes an agreement, the service prints it (German beside the person's
language) and ``record_signed`` keeps that HTML **in the signature's transaction**: the
signature and the text it binds commit together or not at all. Making the PDF takes a
browser and seconds, so it happens after the commit (``make_pdf``), in a transaction of its
own:

- it succeeds: the PDF and its SHA-256 are stored (``status = stored``) and the agreement's
  audit trail gets a ``pdf`` entry; the hash is listed with the agreement (``documents``);
- it fails (no browser, a timeout, a crash): the signature stands, the document is marked
  ``failed`` with the error, the failure is logged and shown with the agreement, and the PDF
  can be made again from the kept HTML (``make_pdf`` again: the agreement page's button,
  ``POST /v1/agreements/{id}/documents/{doc}/render``, or ``lotse casework render-pdfs``);
- the process dies in between: the document stays ``pending``, listed the same way, and
  ``lotse casework render-pdfs`` makes it.

The PDF is made from the kept HTML, never from the agreement as it is later, so offers
renamed or referrals moved on since do not change what the record says was signed.
Export of a person includes the documents (PDF in base64); erasure deletes them.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import audit
from casework.tables import Agreement, AgreementDocument
from lotse.accounts import Principal
from lotse.db import utcnow
from lotse.errors import NotFound

log = logging.getLogger(__name__)

SIGNED = "signed"
PENDING, STORED, FAILED = "pending", "stored", "failed"
#: The longest error text kept with a failed document.
MAX_ERROR = 2000

Renderer = Callable[[str], bytes]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_signed(
    session: Session, actor: Principal | str, agreement: Agreement, html: str, language: str
) -> AgreementDocument:
    """Keep the print of what was just signed (``pending`` until its PDF is made); call in
    the transaction that completed the signatures."""
    doc = AgreementDocument(
        id=str(uuid.uuid4()),
        agreement_id=agreement.id,
        kind=SIGNED,
        language=language,
        html=html,
        html_sha256=sha256(html.encode("utf-8")),
        status=PENDING,
        attempts=0,
        created_at=utcnow(),
        created_by=actor if isinstance(actor, str) else actor.actor,
    )
    session.add(doc)
    session.flush()
    return doc


def make_pdf(session: Session, document_id: str, render: Renderer) -> AgreementDocument:
    """Make and store the PDF of a kept document from its HTML; on failure mark it ``failed``
    with the error (logged, no exception: the signature it records stands). The caller
    commits."""
    doc = session.get(AgreementDocument, document_id, with_for_update=True)
    if doc is None:
        raise NotFound(f"no document '{document_id}'")
    if doc.status == STORED:
        return doc
    doc.attempts = (doc.attempts or 0) + 1
    try:
        pdf = render(doc.html)
        if not pdf.startswith(b"%PDF"):
            raise ValueError("the renderer returned no PDF")
    except Exception as exc:  # any failure is recorded; the signature must stand
        doc.status = FAILED
        doc.error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        log.warning(
            "agreement PDF failed",
            extra={"agreement_id": doc.agreement_id, "document_id": doc.id, "error": doc.error},
        )
        session.flush()
        return doc
    doc.pdf = pdf
    doc.sha256 = sha256(pdf)
    doc.status = STORED
    doc.error = None
    doc.rendered_at = utcnow()
    agreement = session.get(Agreement, doc.agreement_id)
    if agreement is not None:
        audit.record(
            session,
            doc.created_by,
            "pdf",
            centre_id=agreement.centre_id,
            agreement_id=agreement.id,
            person_key=agreement.person_key,
        )
    session.flush()
    return doc


def documents_of(session: Session, agreement_id: str) -> list[AgreementDocument]:
    return list(
        session.scalars(
            select(AgreementDocument)
            .where(AgreementDocument.agreement_id == agreement_id)
            .order_by(AgreementDocument.created_at, AgreementDocument.id)
        )
    )


def document_summary(doc: AgreementDocument) -> dict[str, Any]:
    """A document as the agreement lists it (no content): kind, language, status, hashes."""
    return {
        "id": doc.id,
        "kind": doc.kind,
        "language": doc.language,
        "status": doc.status,
        "sha256": doc.sha256,
        "html_sha256": doc.html_sha256,
        "error": doc.error,
        "created_at": doc.created_at,
        "rendered_at": doc.rendered_at,
    }


def get_document(session: Session, agreement_id: str, document_id: str) -> AgreementDocument:
    """One document of one agreement (the caller checked access to the agreement)."""
    doc = session.get(AgreementDocument, document_id)
    if doc is None or doc.agreement_id != agreement_id:
        raise NotFound(f"no document '{document_id}' in this agreement")
    return doc


def unfinished(session: Session) -> list[str]:
    """Ids of documents whose PDF is still to be made (pending or failed), oldest first."""
    return list(
        session.scalars(
            select(AgreementDocument.id)
            .where(AgreementDocument.status.in_((PENDING, FAILED)))
            .order_by(AgreementDocument.created_at)
        )
    )
