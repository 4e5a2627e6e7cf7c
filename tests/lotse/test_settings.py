"""The one settings object: sources and their order, empty values, secret checks, the
generated secrets file, and the generated reference (.env.example, the docs table)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lotse import settings as s
from lotse.pseudonyms import person_key
from lotse.settings import (
    InvalidSettings,
    Settings,
    UnsafeConfiguration,
    generate_secrets_file,
)

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k7Qx2-9vLmZpW4sTbN8cYr1uHfJd3EaG"  # 32 characters, many distinct
OTHER = "Zr8mW2qPx5LvN7cKt1bYh4sGj9dFe3Ua"


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No LOTSE_* variable set, working directory without a .env; returns the data dir."""
    for name in list(os.environ):
        if name.startswith("LOTSE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    monkeypatch.setenv("LOTSE_DATA_DIR", str(data))
    return data


def test_without_secrets_serving_is_refused_with_every_reason(bare_env: Path) -> None:
    settings = Settings.load()
    assert settings.secret_key is None and settings.pseudonym_secret is None
    problems = settings.secret_problems()
    assert "LOTSE_SECRET_KEY is not set" in problems
    assert "LOTSE_PSEUDONYM_SECRET is not set" in problems
    with pytest.raises(UnsafeConfiguration, match="lotse secrets generate"):
        settings.require_safe_secrets()


@pytest.mark.parametrize(
    ("secret", "fault"),
    [
        ("dev-only-not-secret", "published default"),
        ("  ", "not set"),
        ("short-but-random-9f3", "shorter than 32"),
        ("a" * 40, "too few characters"),
        ("abababababababababababababababababab", "too few characters"),
    ],
)
def test_weak_secret_key_is_named(bare_env: Path, secret: str, fault: str) -> None:
    problems = Settings.load(secret_key=secret, pseudonym_secret=OTHER).secret_problems()
    assert any(p.startswith("LOTSE_SECRET_KEY") and fault in p for p in problems), problems
    assert not any(secret.strip() and secret in p for p in problems), "a value leaked"


def test_the_two_secrets_must_differ(bare_env: Path) -> None:
    problems = Settings.load(secret_key=STRONG, pseudonym_secret=STRONG).secret_problems()
    assert problems == ["LOTSE_PSEUDONYM_SECRET must differ from LOTSE_SECRET_KEY"]
    assert Settings.load(secret_key=STRONG, pseudonym_secret=OTHER).secret_problems() == []


def test_empty_values_in_the_environment_count_as_unset(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOTSE_SECRET_KEY", "")
    monkeypatch.setenv("LOTSE_PSEUDONYM_SECRET", "")
    monkeypatch.setenv("LOTSE_MAX_BODY_MB", "")
    settings = Settings.load()
    assert settings.secret_key is None and settings.pseudonym_secret is None
    assert settings.max_body_mb == 100


def test_a_dotenv_copied_from_the_example_sets_no_empty_secret(bare_env: Path) -> None:
    """The security review's reproduction: a .env copied from .env.example made the
    pseudonym key empty bytes, and the server served."""
    (Path.cwd() / ".env").write_text((ROOT / ".env.example").read_text(), encoding="utf-8")
    settings = Settings.load()
    assert settings.pseudonym_secret is None
    assert settings.secret_problems()
    # and an explicitly empty line in .env is no secret either
    (Path.cwd() / ".env").write_text("LOTSE_PSEUDONYM_SECRET=\nLOTSE_SECRET_KEY=\n")
    assert Settings.load().pseudonym_secret is None


def test_dotenv_is_read_and_the_environment_wins(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (Path.cwd() / ".env").write_text("LOTSE_MAX_BODY_MB=7\nLOTSE_RETENTION_DAYS=30\n")
    monkeypatch.setenv("LOTSE_RETENTION_DAYS", "40")
    settings = Settings.load()
    assert settings.max_body_mb == 7
    assert settings.retention_days == 40
    assert Settings.load(retention_days=50).retention_days == 50


def test_generated_secrets_file_is_private_kept_and_read(bare_env: Path) -> None:
    path, created = generate_secrets_file(bare_env)
    assert created == ["secret_key", "pseudonym_secret"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = Settings.load()
    assert settings.secret_problems() == []
    first = (settings.secret_key, settings.pseudonym_secret)
    # running it again changes nothing: a new pseudonym secret would unlink every record
    _, created_again = generate_secrets_file(bare_env)
    assert created_again == []
    again = Settings.load()
    assert (again.secret_key, again.pseudonym_secret) == first
    assert first[0] is not None and first[1] is not None
    assert first[0].get_secret_value() != first[1].get_secret_value()


def test_the_environment_wins_over_the_secrets_file(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_secrets_file(bare_env)
    monkeypatch.setenv("LOTSE_SECRET_KEY", STRONG)
    settings = Settings.load()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == STRONG
    assert settings.pseudonym_secret is not None  # from the file


def test_a_secrets_file_readable_by_others_is_unsafe(bare_env: Path) -> None:
    path, _ = generate_secrets_file(bare_env)
    path.chmod(0o644)
    problems = Settings.load().secret_problems()
    assert any("readable by other users" in p for p in problems)
    generate_secrets_file(bare_env)  # mends the mode
    assert Settings.load().secret_problems() == []


def test_bad_values_are_named_without_a_traceback(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOTSE_RETENTION_DAYS", "drei Jahre")
    monkeypatch.setenv("LOTSE_LOG_FORMAT", "xml")
    with pytest.raises(InvalidSettings) as err:
        Settings.load()
    assert "LOTSE_RETENTION_DAYS" in err.value.detail
    assert "LOTSE_LOG_FORMAT" in err.value.detail


def test_person_keys_need_a_pseudonym_secret(bare_env: Path) -> None:
    s.reset()
    with pytest.raises(UnsafeConfiguration, match="LOTSE_PSEUDONYM_SECRET"):
        person_key("mbe-wetzlar", "P-1")
    s.install(Settings.load(pseudonym_secret=STRONG))
    one = person_key("mbe-wetzlar", "P-1")
    s.install(Settings.load(pseudonym_secret=OTHER))
    assert person_key("mbe-wetzlar", "P-1") != one  # keyed: unknown secret, unknown key


def test_env_example_and_docs_table_are_generated_from_the_settings() -> None:
    assert (ROOT / ".env.example").read_text(encoding="utf-8") == s.env_example(), (
        "regenerate: python -m lotse.settings env > .env.example"
    )
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert s.markdown_table() in docs, (
        "regenerate the table in docs/operations.md: python -m lotse.settings markdown"
    )


def test_env_example_sets_nothing(bare_env: Path) -> None:
    """Every line of the example is a comment: copying it changes no default."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    assert all(not line.strip() or line.startswith("#") for line in lines)
    assert "# LOTSE_SECRET_KEY=" in lines and "# LOTSE_PSEUDONYM_SECRET=" in lines
