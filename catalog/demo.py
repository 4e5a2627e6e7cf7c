"""Demo catalogue generator (being written: see issue 2)."""

from __future__ import annotations

import click


@click.command("seed")
def seed_command() -> None:
    """Build a realistic demo catalogue (not written yet)."""
    raise click.ClickException("the demo catalogue generator is not written yet")
