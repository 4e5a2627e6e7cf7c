"""Passwords of web logins: 12 characters or more, none of the common ones, not the name."""

from __future__ import annotations

import pytest

from lotse import settings
from lotse.accounts import authenticate_user, create_user
from lotse.db import transaction
from lotse.errors import InvalidInput
from lotse.passwords import MIN_LENGTH, common_passwords, password_problems


@pytest.mark.parametrize(
    "password",
    ["12345678", "kurz-2026", "123456789012", "Password1234", "PASSWORT2026!", "qwertzuiop123",
     "aaaaaaaaaaaaaaa", "abababababababab", "1q2w3e4r5t6z", "erika.mustermann!"],
)  # fmt: skip
def test_short_common_and_own_name_passwords_are_refused(password):
    assert password_problems(password, "erika.mustermann")


@pytest.mark.parametrize(
    "password", ["Lahnbrücke-Wetzlar-7", "demo-password-1", "right-password-1", "x" * 11 + "yZ"]
)
def test_good_passwords_pass(password):
    assert password_problems(password, "erika.mustermann") == []


def test_the_shipped_list_has_a_few_thousand_entries_of_the_minimum_length():
    entries = common_passwords()
    assert 2000 <= len(entries) <= 20_000
    assert min(map(len, entries)) >= MIN_LENGTH
    assert "123456789012" in entries and "password1234" in entries


def test_demo_passwords_pass():
    from service.cli import demo_password

    assert all(password_problems(demo_password()) == [] for _ in range(200))


def test_create_user_refuses_weak_passwords(sessions):
    with transaction(sessions) as s:
        for weak in ("12345678", "123456789012"):
            with pytest.raises(InvalidInput) as exc:
                create_user(s, "erika", weak, "analyst")
            assert exc.value.errors[0].field == "password"
        create_user(s, "erika", "Lahnbrücke-Wetzlar-7", "analyst")
        assert authenticate_user(s, "erika", "Lahnbrücke-Wetzlar-7") is not None


def test_cli_refuses_a_weak_password(runner, monkeypatch):
    monkeypatch.setenv("LOTSE_PASSWORD", "12345678")
    result = runner.invoke(args=["users", "create", "erika", "--role", "analyst"])
    assert result.exit_code == 1 and "at least 12 characters" in result.output
    monkeypatch.setenv("LOTSE_PASSWORD", "Lahnbrücke-Wetzlar-7")
    result = runner.invoke(args=["users", "create", "erika", "--role", "analyst"])
    assert result.exit_code == 0, result.output
    from lotse.cli_support import sessions

    sessions().kw["bind"].dispose()


def test_demo_bootstrap_refuses_a_weak_fixed_password_before_any_work(runner, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("LOTSE_DEMO_PASSWORD", "12345678")
    settings.reset()
    result = runner.invoke(args=["demo", "bootstrap", "--port", str(port), "--offers", "10"])
    assert result.exit_code == 1
    assert "LOTSE_DEMO_PASSWORD: at least 12 characters" in result.output
    assert "database ready" not in result.output
