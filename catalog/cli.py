"""``lotse catalog …`` and ``lotse demo …``: the catalogue from the command line."""

from __future__ import annotations

import click


@click.group("catalog")
def catalog_group() -> None:
    """Import, export and check the offer catalogue."""
