"""Migrating the database: every table module (the schema as a whole), and upgrading a database
to the newest migration.

Only ``service`` may import every package, so the list of table modules lives here; Alembic's
environment and ``lotse init`` use it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from lotse.db import Base, ensure_sqlite_folder

#: Modules that define tables. A new package with tables adds itself here.
TABLE_MODULES: tuple[str, ...] = (
    "lotse.accounts",
    "lotse.ratelimits",
    "catalog.tables",
    "matcher.tables",
    "models.tables",
    "casework.tables",
    "casework.intake",
)


def register_tables() -> None:
    """Import every table module so that ``Base.metadata`` holds the whole schema."""
    for name in TABLE_MODULES:
        importlib.import_module(name)


def alembic_config(url: str):
    """The Alembic configuration for ``url``, pointing at the packaged migrations."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Create or upgrade the database at ``url`` to the newest schema (idempotent)."""
    from alembic import command

    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), "head")


__all__ = ["Base", "alembic_config", "migrate", "register_tables"]
