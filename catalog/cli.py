"""``lotse catalog …``: import, export and check the offer catalogue from the command line."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import click

from catalog.duplicates import DUPLICATE_THRESHOLD
from catalog.exporting import EXPORT_FORMATS
from catalog.importing import FORMATS, MODES, ImportReport
from lotse.accounts import Principal
from lotse.csvsafe import neutralise

#: Who the command line acts as (history entries say ``cli``).
CLI_ACTOR = Principal(role="admin", name="cli")


@click.group("catalog")
def catalog_group() -> None:
    """Import, export and check the offer catalogue."""


def report_lines(report: ImportReport, limit: int = 200) -> list[str]:
    """A readable import report: the counts, then each rejected row, then the duplicates."""
    if report.written:
        outcome = "written"
    elif report.dry_run:
        outcome = "dry run: nothing written"
    elif report.created or report.updated:
        outcome = "nothing written"
    else:
        outcome = "nothing to write"
    lines = [
        f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {report.rejected_rows} rows ({outcome})"
    ]
    if report.rejected:
        lines.append("rejected:")
        for r in report.rejected[:limit]:
            where = f"row {r['row']}" + (f" (line {r['line']})" if r.get("line") else "")
            lines.append(f"  {where}, {r['field']}: {r['message']}")
        if len(report.rejected) > limit:
            lines.append(f"  … and {len(report.rejected) - limit} more")
    if report.duplicates:
        lines.append("possible duplicates (reported, not merged):")
        for d in report.duplicates[:limit]:
            other = (
                f"row {d['other_row']}"
                if d.get("other_row") and not d.get("offer_id")
                else f"offer {d['offer_id']}"
            )
            lines.append(
                f"  row {d['row']} ~ {other} “{d['title']}” (similarity {d['similarity']:.2f})"
            )
        if len(report.duplicates) > limit:
            lines.append(f"  … and {len(report.duplicates) - limit} more")
    return lines


@catalog_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agency", "agency_id", required=True, help="the agency the offers belong to")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="default: from the file (.csv; .json is JSON offers or HSDS services; a ZIP is an "
    "HSDS tabular package)",
)
@click.option("--dry-run", is_flag=True, help="check and report, write nothing")
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="atomic",
    show_default=True,
    help="atomic: any rejected row means nothing is written",
)
@click.option("--category", help="HSDS: category of services that carry no Lotse category")
def import_command(
    file: Path, agency_id: str, fmt: str | None, dry_run: bool, mode: str, category: str | None
) -> None:
    """Import offers from a CSV, JSON, HSDS or HSDS tabular (ZIP) file (upsert on
    external_id)."""
    from catalog.importing import import_offers
    from catalog.reading import guess_format
    from lotse.cli_support import fail, progress, sessions
    from lotse.db import transaction
    from lotse.errors import LotseError, RejectedImport
    from lotse.settings import current

    raw = file.read_bytes()
    fmt = fmt or guess_format(raw, name=file.name)
    started = time.perf_counter()
    try:
        with transaction(sessions()) as session:
            report = import_offers(
                session,
                CLI_ACTOR,
                agency_id,
                raw,
                fmt=fmt,
                dry_run=dry_run,
                mode=mode,
                category=category,
                progress=progress,
                helpers=current().import_helpers,
            )
    except RejectedImport as exc:
        rejected = ImportReport(**exc.report)
        click.echo("\n".join(report_lines(rejected)))
        click.echo(f"{exc.detail} (atomic mode; use --mode partial to import the valid rows)")
        sys.exit(1)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo("\n".join(report_lines(report)))
    click.echo(f"{fmt} import of {file.name} took {time.perf_counter() - started:.1f} s", err=True)


@catalog_group.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True
)
@click.option("--agency", "agency_id", help="only this agency's offers")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="file to write (default: standard output)",
)
def export_command(fmt: str, agency_id: str | None, output: Path | None) -> None:
    """Export the active offers as CSV (the import's columns), JSON, HSDS (JSON) or an HSDS
    tabular data package (hsds-tabular: a ZIP, written with -o FILE.zip)."""
    from catalog.exporting import BINARY_FORMATS, export_offers
    from lotse.cli_support import sessions
    from lotse.db import transaction

    if fmt in BINARY_FORMATS and output is None and sys.stdout.isatty():
        raise click.UsageError(f"{fmt} is a ZIP file: name it with -o FILE.zip")
    with transaction(sessions()) as session:
        chunks = export_offers(session, fmt, agency_id)
        if output is None:
            for chunk in chunks:
                click.echo(chunk, nl=False)  # (bytes go to the binary stream)
        else:
            with output.open("wb") as fh:
                for chunk in chunks:
                    fh.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            click.echo(f"wrote {output}", err=True)


@catalog_group.command("duplicates")
@click.option(
    "--threshold",
    type=click.FloatRange(0.5, 1.0),
    default=DUPLICATE_THRESHOLD,
    show_default=True,
    help="similarity (0–1) from which two offers are reported",
)
@click.option("--format", "fmt", type=click.Choice(("table", "csv")), default="table")
def duplicates_command(threshold: float, fmt: str) -> None:
    """List likely duplicate offers across the whole catalogue (reported, never merged)."""
    from catalog.duplicates import catalogue_sketches, duplicate_pairs
    from lotse.cli_support import sessions
    from lotse.db import transaction

    started = time.perf_counter()
    with transaction(sessions()) as session:
        sketches = catalogue_sketches(session)
    pairs = duplicate_pairs(sketches, threshold)
    took = time.perf_counter() - started
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("offer_a", "offer_b", "similarity", "title_a", "title_b"))
        for i, j, sim in pairs:
            a, b = sketches[i], sketches[j]
            writer.writerow(
                [neutralise(str(c)) for c in (a.ref, b.ref, f"{sim:.2f}", a.title, b.title)]
            )
    else:
        for i, j, sim in pairs:
            a, b = sketches[i], sketches[j]
            click.echo(f"{sim:.2f}  {a.ref}  {a.title}\n      {b.ref}  {b.title}")
    click.echo(
        f"{len(pairs)} likely duplicate pairs among {len(sketches)} offers "
        f"(threshold {threshold:.2f}, {took:.1f} s)",
        err=True,
    )
