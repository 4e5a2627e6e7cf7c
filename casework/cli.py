"""Casework from the command line: ``lotse casework …`` (housekeeping: the retention purge,
the PDFs of signed agreements still to be made)
and ``lotse persons …`` (export and erasure of one person, for the data-protection officer).
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from lotse.accounts import Principal
from lotse.cli_support import fail, sessions
from lotse.db import transaction
from lotse.errors import LotseError

#: Who the command line acts as in the audit log.
CLI_ACTOR = "cli"
#: The command line acts as admin, for the one centre named with ``--centre``.
CLI_PRINCIPAL = Principal(role="admin", name=CLI_ACTOR)


@click.group("casework")
def casework_group() -> None:
    """Integration agreements and referrals: housekeeping."""


@casework_group.command("purge")
@click.option("--dry-run", is_flag=True, help="only count what would be anonymised")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="retention in days (default: LOTSE_RETENTION_DAYS, else 1095)",
)
def purge_command(dry_run: bool, days: int | None) -> None:
    """Anonymise closed agreements older than the retention period, with their referrals
    and the recommendations those came from."""
    from casework.privacy import purge_expired, retention_days

    try:
        keep = days or retention_days()
        with transaction(sessions()) as session:
            report = purge_expired(session, CLI_ACTOR, days=keep, dry_run=dry_run)
    except LotseError as exc:
        raise fail(exc) from None
    verb = "would anonymise" if dry_run else "anonymised"
    click.echo(
        f"{verb} {report.agreements_anonymised} closed agreement(s) older than {keep} days, "
        f"{report.referrals_anonymised} referral(s), "
        f"{report.requests_anonymised} recommendation request(s)"
        + ("" if dry_run else f"; {report.audit_entries_unlinked} audit entries unlinked")
    )


@casework_group.command("render-pdfs")
def render_pdfs_command() -> None:
    """Make the PDF of every signed agreement whose PDF is still missing (rendering failed,
    or the server stopped before it was made), from the print kept with the signatures."""
    from casework.documents import make_pdf, unfinished
    from lotse.pdf import html_to_pdf

    try:
        with transaction(sessions()) as session:
            ids = unfinished(session)
        stored = failed = 0
        for document_id in ids:
            with transaction(sessions()) as session:
                doc = make_pdf(session, document_id, html_to_pdf)
                if doc.status == "stored":
                    stored += 1
                else:
                    failed += 1
                    click.echo(f"document {document_id}: {doc.error}", err=True)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo(f"{stored} PDF(s) stored, {failed} failed")
    if failed:
        raise SystemExit(1)


@click.group("persons")
def persons_group() -> None:
    """Data protection: export or erase everything held about one person of one centre.

    PERSON_REF is the centre's own reference, exactly as the centre gave it (any characters:
    "MBE/2026/017", ".."); one that begins with "-" follows "--" (lotse persons erase --centre
    ID -- -17)."""


def _check_centre(session: Any, centre_id: str) -> None:
    from lotse.accounts import Centre

    if session.get(Centre, centre_id) is None:
        raise click.ClickException(f"unknown centre '{centre_id}'")


def _json_value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@persons_group.command("export")
@click.argument("person_ref")
@click.option("--centre", "centre_id", required=True, help="the centre the person belongs to")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write to this file (created readable by its owner only); default: standard output",
)
def persons_export(person_ref: str, centre_id: str, output: Path | None) -> None:
    """Export everything held about one person as JSON: agreements, referrals with their
    history, recommendations served, and who read or changed the case. Audited."""
    from casework.privacy import export_person

    try:
        with transaction(sessions()) as session:
            _check_centre(session, centre_id)
            data = export_person(session, CLI_PRINCIPAL, person_ref, centre_id)
    except LotseError as exc:
        raise fail(exc) from None
    text = json.dumps(data, default=_json_value, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    # Personal data: the file is the owner's alone from its first byte.
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    click.echo(
        f"exported {len(data['agreements'])} agreement(s), {len(data['referrals'])} "
        f"referral(s), {len(data['recommendations'])} recommendation(s) to {output}",
        err=True,
    )


@persons_group.command("erase")
@click.argument("person_ref")
@click.option("--centre", "centre_id", required=True, help="the centre the person belongs to")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def persons_erase(person_ref: str, centre_id: str, yes: bool) -> None:
    """Erase one person: drafts deleted; binding agreements, referrals and recommendations
    unlinked from the person and stripped of free text (totals stay). Cannot be undone."""
    from casework.privacy import clean_person_ref, erase_person

    try:
        ref = clean_person_ref(person_ref)
        with transaction(sessions()) as session:
            _check_centre(session, centre_id)
        if not yes and not click.confirm(
            f"Erase everything held about {ref!r} of centre {centre_id}? This cannot be undone."
        ):
            raise click.ClickException("not confirmed; nothing was erased")
        with transaction(sessions()) as session:
            report = erase_person(session, CLI_PRINCIPAL, ref, centre_id)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo(
        f"erased: {report.agreements_deleted} draft agreement(s) deleted, "
        f"{report.agreements_anonymised} agreement(s) anonymised, "
        f"{report.referrals_anonymised} referral(s) and {report.requests_anonymised} "
        f"recommendation request(s) unlinked, {report.audit_entries_unlinked} audit "
        "entries unlinked"
    )
