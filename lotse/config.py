"""Configuration, read only from the environment (``LOTSE_*``), with safe local defaults.

Every variable is documented in ``.env.example``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_import_helpers() -> int:
    """Helper processes a large import may use: one fewer than the machine's cores, at most
    three (more do not pay: the database writes stay in one process)."""
    return max(0, min(3, (os.cpu_count() or 1) - 1))


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Config:
    """The settings one Lotse process runs with."""

    data_dir: Path = field(default_factory=lambda: Path("data"))
    database_url: str = ""
    secret_key: str = "dev-only-not-secret"
    max_body_mb: int = 100
    shared_dir: Path = field(default_factory=lambda: Path("..") / "shared")
    import_helpers: int = field(default_factory=default_import_helpers)

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        """Build the configuration from ``LOTSE_*`` variables; ``overrides`` win (tests use them)."""
        data_dir = Path(os.environ.get("LOTSE_DATA_DIR", "data"))
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": os.environ.get("LOTSE_DATABASE_URL", ""),
            "secret_key": os.environ.get("LOTSE_SECRET_KEY", "dev-only-not-secret"),
            "max_body_mb": _int("LOTSE_MAX_BODY_MB", 100),
            "shared_dir": Path(os.environ.get("LOTSE_SHARED_DIR", str(Path("..") / "shared"))),
            "import_helpers": _int("LOTSE_IMPORT_HELPERS", default_import_helpers()),
        }
        values.update(overrides)
        cfg = cls(**values)  # type: ignore[arg-type]
        if not cfg.database_url:
            cfg = cls(**{**values, "database_url": f"sqlite:///{Path(cfg.data_dir) / 'lotse.db'}"})  # type: ignore[arg-type]
        return cfg

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
