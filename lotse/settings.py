"""Every setting Lotse reads: one validated object (``Settings``), from ``LOTSE_*`` variables.

Where a value comes from, highest priority first:

1. keyword arguments to ``Settings.load`` (tests, and the server's own defaults);
2. the process environment (``LOTSE_*``);
3. a ``.env`` file in the working directory, when there is one (always read, so that a
   deployment behaves the same whatever happened to be installed);
4. for the two secrets only: ``secrets.env`` in the data directory, which ``lotse secrets
   generate`` (and so ``make run``) writes with random values and file mode 0600;
5. the defaults below.

An empty value counts as unset everywhere (a ``.env`` copied from ``.env.example`` never
sets an empty secret). ``.env.example`` and the settings table in ``docs/operations.md`` are
generated from this class (``python -m lotse.settings``); a test keeps them in step.

Nothing here runs at import time; ``current()`` loads the settings of this process on first
use, and the app factory installs its own with ``install()``.
"""

from __future__ import annotations

import os
import secrets as _random
import stat
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lotse.errors import LotseError

#: File in the data directory that holds generated secrets.
SECRETS_FILE = "secrets.env"
#: Shortest secret accepted for serving (characters). 32 URL-safe characters carry 192 bits.
MIN_SECRET_LENGTH = 32
#: Values that were ever published as defaults or examples: never secret.
KNOWN_DEFAULTS = frozenset(
    {
        "dev-only-not-secret",
        "change-me",
        "changeme",
        "secret",
        "dev",
        "development",
        "test",
        "lotse",
    }
)
SECRET_NAMES = ("secret_key", "pseudonym_secret")


def default_import_helpers() -> int:
    """Helper processes a large import may use: one fewer than the machine's cores, at most
    three (more do not pay: the database writes stay in one process)."""
    return max(0, min(3, (os.cpu_count() or 1) - 1))


class UnsafeConfiguration(LotseError):
    """The settings are not safe to serve with (missing, weak or shared secrets)."""

    title = "Unsafe configuration"


class InvalidSettings(LotseError):
    """A ``LOTSE_*`` value has the wrong type or is out of range; says which and why."""

    title = "Invalid settings"


class Settings(BaseSettings):
    """The settings of one Lotse process."""

    model_config = SettingsConfigDict(
        env_prefix="LOTSE_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    # --- storage ---
    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the SQLite database file, model artifacts, uploads and the "
        "generated secrets file",
    )
    database_url: str = Field(
        default="",
        description="Database URL; default sqlite:///$LOTSE_DATA_DIR/lotse.db. PostgreSQL: "
        "postgresql+psycopg://lotse:PASSWORD@127.0.0.1:5432/lotse",
    )
    db_pool_size: int | None = Field(
        default=None,
        ge=1,
        description="PostgreSQL connections per process (SQLAlchemy's default 5)",
    )
    db_max_overflow: int | None = Field(
        default=None,
        ge=0,
        description="Extra PostgreSQL connections per process allowed in bursts (default 10)",
    )

    # --- secrets ---
    secret_key: SecretStr | None = Field(
        default=None,
        description="Secret that signs the CSRF tokens of forms and cookie-authenticated API "
        "calls: at least 32 random characters. `lotse secrets generate` writes one to $LOTSE_DATA_DIR/secrets.env; "
        "`lotse serve` refuses to start without a strong one",
    )
    pseudonym_secret: SecretStr | None = Field(
        default=None,
        description="Secret for the keyed hash that stands for a person next to "
        "recommendations, impressions, referrals and agreements: at least 32 random characters, "
        "different from LOTSE_SECRET_KEY. Changing it unlinks all earlier records of a person",
    )

    # --- requests and imports ---
    max_body_mb: int = Field(
        default=100, ge=1, description="Largest accepted request body in MB (bigger gets 413)"
    )
    import_helpers: int = Field(
        default_factory=default_import_helpers,
        ge=0,
        description="Helper processes a large bulk import may use beside the one serving it; "
        "0 for none. Default: the machine's cores minus one, at most 3",
    )

    # --- logs ---
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="Log format: json (one object per line) or text. Default: json under "
        "`lotse serve`, text elsewhere",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of Lotse's own loggers"
    )

    # --- security ---
    https: bool = Field(
        default=False,
        description="Served over HTTPS (directly or by the load balancer): adds HSTS and marks "
        "the session cookie Secure",
    )
    proxy_hops: int = Field(
        default=0,
        ge=0,
        description="How many reverse proxies in front set X-Forwarded-For/-Proto (1 behind one "
        "load balancer); 0 trusts none",
    )
    login_max_failures: int = Field(
        default=10,
        ge=0,
        description="Failed web logins per username and address within the window before 429 "
        "(per address: five times as many); 0 = off",
    )
    token_max_failures: int = Field(
        default=10,
        ge=0,
        description="Failed bearer tokens per address within the window before 429; 0 = off",
    )
    rate_limit_window_seconds: int = Field(
        default=300,
        ge=1,
        description="The window in which failed logins and tokens are counted, in seconds",
    )
    anon_reads_per_minute: int = Field(
        default=60,
        ge=0,
        description="Requests per minute one client address may make to the public read API "
        "(/v1/offers, /hsds) without credentials before 429; 0 = off",
    )
    exports_per_hour: int = Field(
        default=20,
        ge=0,
        description="Catalogue exports (/v1/offers/export, and /hsds lists with format=ndjson) "
        "per hour for one client (its token or login, else its address) before 429; 0 = off",
    )

    # --- web sessions ---
    session_idle_minutes: int = Field(
        default=60,
        ge=1,
        description="A web session ends after this many minutes without a request",
    )
    session_hours: int = Field(
        default=8,
        ge=1,
        description="A web session ends this many hours after the login, however busy",
    )

    # --- learning ---
    history_half_life_days: float = Field(
        default=180.0,
        gt=0,
        description="Half-life of the outcome history the ranker sees: an outcome this many days "
        "old counts half as much as one of today, so a change of an offer's quality shows",
    )
    exploration_share: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description="Share of recommendation requests whose order is randomised a little (one "
        "pair of neighbours near the top swapped, never a clearly worse offer into the first "
        "three), logged with exact probabilities for counterfactual evaluation; 0 = off",
    )
    exploration_depth: int = Field(
        default=6,
        ge=2,
        le=20,
        description="Exploration swaps neighbours among this many first places",
    )
    exploration_tolerance: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="An offer may be swapped into the first three only when its score is within "
        "this share of the one it passes",
    )

    # --- models and casework ---
    model_check_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often a worker checks which ranker version is active (seconds)",
    )
    retention_days: int = Field(
        default=1095,
        ge=1,
        description="Days after closing before `lotse casework purge` erases an agreement",
    )
    code_revision: str = Field(
        default="",
        description="Code revision written into model cards when there is no git checkout",
    )
    chromium: str = Field(
        default="chromium",
        description="Chromium (path or command) that prints signed agreements to PDF; "
        "Debian's `chromium` with `fonts-noto-core` for Arabic and Dari/Farsi",
    )
    pdf_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait for one PDF of a signed agreement (seconds)",
    )

    # --- demo ---
    demo_password: SecretStr | None = Field(
        default=None,
        description="Fixed password for the demo users that `make run` creates (default: "
        "random, printed)",
    )

    @field_validator("secret_key", "pseudonym_secret", "demo_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """Whitespace alone is no secret: it counts as unset, like an empty value."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and not value.strip():
            return None
        return value

    # --- derived values ---

    @property
    def database(self) -> str:
        """The database URL in use (the SQLite file in the data directory by default)."""
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'lotse.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.database.startswith("sqlite")

    @property
    def secrets_path(self) -> Path:
        return Path(self.data_dir) / SECRETS_FILE

    # --- loading ---

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the environment, ``.env`` and the data directory's secrets file;
        ``overrides`` win over all of them. Raises ``InvalidSettings`` naming each bad
        variable (never its value: it may be a secret)."""
        try:
            settings = cls(**overrides)
        except ValidationError as exc:
            raise InvalidSettings(
                "; ".join(
                    "LOTSE_" + ".".join(str(p) for p in err["loc"]).upper() + ": " + err["msg"]
                    for err in exc.errors()
                )
            ) from None
        missing = [n for n in SECRET_NAMES if getattr(settings, n) is None]
        if not missing or not settings.secrets_path.is_file():
            return settings
        stored = read_secrets_file(settings.secrets_path)
        found = {n: stored[n] for n in missing if stored.get(n)}
        return settings.model_copy(update={n: SecretStr(v) for n, v in found.items()})

    # --- checks ---

    def secret_problems(self) -> list[str]:
        """Why these settings are unsafe to serve with; empty when they are safe.

        Each line names the variable and the fault, never the value."""
        problems = []
        values: dict[str, str] = {}
        for name in SECRET_NAMES:
            env = "LOTSE_" + name.upper()
            secret = getattr(self, name)
            if secret is None:
                problems.append(f"{env} is not set")
                continue
            value = secret.get_secret_value()
            values[name] = value
            if value.strip().lower() in KNOWN_DEFAULTS:
                problems.append(f"{env} is a published default value")
            elif len(value) < MIN_SECRET_LENGTH:
                problems.append(f"{env} is shorter than {MIN_SECRET_LENGTH} characters")
            elif len(set(value)) < 8:
                problems.append(f"{env} repeats too few characters to be random")
        if len(values) == 2 and values["secret_key"] == values["pseudonym_secret"]:
            problems.append("LOTSE_PSEUDONYM_SECRET must differ from LOTSE_SECRET_KEY")
        path = self.secrets_path
        if path.is_file() and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(f"{path} is readable by other users (chmod 600 it)")
        return problems

    def require_safe_secrets(self) -> None:
        """Raise ``UnsafeConfiguration`` listing every problem, with the way out."""
        problems = self.secret_problems()
        if problems:
            raise UnsafeConfiguration(
                "; ".join(problems)
                + ". Run `lotse secrets generate` (writes random ones to "
                + f"{self.secrets_path}) or set both variables; see docs/operations.md"
            )


# --- the generated secrets file ------------------------------------------------------------


def read_secrets_file(path: Path) -> dict[str, str]:
    """``secret_key`` and ``pseudonym_secret`` from a ``KEY=value`` file (blank values skipped)."""
    from dotenv import dotenv_values

    names = {"LOTSE_" + n.upper(): n for n in SECRET_NAMES}
    out = {}
    for key, value in dotenv_values(path).items():
        if key in names and value and value.strip():
            out[names[key]] = value.strip()
    return out


def new_secret() -> str:
    """64 URL-safe random characters (384 bits)."""
    return _random.token_urlsafe(48)


def generate_secrets_file(data_dir: Path) -> tuple[Path, list[str]]:
    """Make sure ``data_dir/secrets.env`` holds both secrets, creating what is missing.

    Existing values are kept (replacing the pseudonym secret would unlink every stored
    record of a person). The file is written to a temporary name with mode 0600 and renamed
    over the old one, so it is never readable by others, nor half-written. Returns the path
    and the names of the secrets it created."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRETS_FILE
    stored = read_secrets_file(path) if path.is_file() else {}
    created = [n for n in SECRET_NAMES if not stored.get(n)]
    if not created:
        os.chmod(path, 0o600)
        return path, []
    for name in created:
        stored[name] = new_secret()
    lines = [
        "# Generated by `lotse secrets generate`. Keep this file private (mode 0600) and in",
        "# your backups: without LOTSE_PSEUDONYM_SECRET, stored records cannot be found again.",
        *(f"LOTSE_{n.upper()}={stored[n]}" for n in SECRET_NAMES),
    ]
    tmp = path.with_name(f".{SECRETS_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path, created


# --- this process's settings ---------------------------------------------------------------

_current: Settings | None = None


def current() -> Settings:
    """The settings of this process: those the app factory installed, else loaded once from
    the environment. Domain code that needs a setting (the pseudonym key) reads it here, so
    one process never mixes two values."""
    global _current
    if _current is None:
        _current = Settings.load()
    return _current


def install(settings: Settings) -> None:
    """Make ``settings`` this process's settings (called by the app factory)."""
    global _current
    _current = settings


def reset() -> None:
    """Forget the installed settings; the next ``current()`` reads the environment again."""
    global _current
    _current = None


# --- generated reference: .env.example and the docs table ----------------------------------

ENV_EXAMPLE_HEADER = """\
# Every setting Lotse reads, generated from lotse/settings.py (python -m lotse.settings env).
# All are optional for a local run; each line shows the default. Copy to .env and uncomment
# what you change: the environment wins over .env. The two secrets stay commented out here:
# `make run` (lotse secrets generate) writes random ones to $LOTSE_DATA_DIR/secrets.env.
"""


def _default_text(name: str) -> str:
    field = Settings.model_fields[name]
    if name == "import_helpers":
        return "cores - 1, at most 3"
    if field.default is None or field.default == "":
        return ""
    value = field.default
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def reference_rows() -> list[tuple[str, str, str]]:
    """``(variable, default, description)`` for every setting, in declaration order."""
    return [
        ("LOTSE_" + name.upper(), _default_text(name), field.description or "")
        for name, field in Settings.model_fields.items()
    ]


def env_example() -> str:
    """The text of ``.env.example``."""
    import textwrap

    out = [ENV_EXAMPLE_HEADER]
    for var, default, description in reference_rows():
        out.extend(textwrap.wrap(description, 96, initial_indent="# ", subsequent_indent="# "))
        shown = "" if default.startswith("cores") else default
        out.append(f"# {var}={shown}\n")
    return "\n".join(out)


def markdown_table() -> str:
    """The settings table of ``docs/operations.md``."""
    lines = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    for var, default, description in reference_rows():
        lines.append(f"| `{var}` | {default or '–'} | {description.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "env"
    sys.stdout.write(env_example() if what == "env" else markdown_table())
