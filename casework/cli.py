"""``lotse casework …``: casework housekeeping from the command line (retention purge)."""

from __future__ import annotations

import click

from lotse.cli_support import fail, sessions
from lotse.db import transaction
from lotse.errors import LotseError

#: Who the command line acts as in the audit log.
CLI_ACTOR = "cli"


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
