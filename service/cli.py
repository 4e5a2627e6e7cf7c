"""The ``lotse`` command: Flask's click CLI, with each package's command group attached.

Core commands live here (``init``, ``serve``, ``tokens``, ``users``, ``demo bootstrap``);
``catalog``, ``demo``, ``ranker`` and the rest come from the package that owns the behaviour.
"""

from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import FlaskGroup

from lotse import accounts
from lotse.accounts import ROLES, create_token, create_user
from lotse.cli_support import fail, sessions
from lotse.db import transaction
from lotse.errors import LotseError
from lotse.settings import UnsafeConfiguration, current, generate_secrets_file


def _create_app() -> Flask:
    """The app the command line works with. Built without the secret check, so that commands
    such as ``lotse secrets generate`` can run before there are secrets; it never serves:
    Flask's own ``run`` command is left out, and ``lotse serve`` checks before it starts."""
    from service.app import create_app

    return create_app(check_secrets=False)


main = FlaskGroup(
    name="lotse",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    help="Lotse: referral matching and offer recommendations.",
)


@click.command("init")
def init_command() -> None:
    """Create the database or migrate it to the newest schema."""
    from service.migrations_runner import migrate

    url = current().database
    migrate(url)
    click.echo("database ready: " + _redacted(url))


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=int, help="default: one per CPU core")
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--timeout", default=60, show_default=True, type=int)
def serve_command(host: str, port: int, workers: int | None, threads: int, timeout: int) -> None:
    """Serve the web UI and API with gunicorn (production server).

    Refuses to start without strong secrets (LOTSE_SECRET_KEY, LOTSE_PSEUDONYM_SECRET, or
    those `lotse secrets generate` wrote to the data directory)."""
    from service.server import port_problem, run_gunicorn, serving_settings

    try:
        settings = serving_settings()
    except UnsafeConfiguration as exc:
        raise click.ClickException("refusing to serve: " + exc.detail) from None
    problem = port_problem(host, port)
    if problem:
        raise click.ClickException(problem)
    run_gunicorn(settings, host=host, port=port, workers=workers, threads=threads, timeout=timeout)


@click.group("secrets")
def secrets_group() -> None:
    """The server's secrets (session signing and person pseudonyms)."""


@secrets_group.command("generate")
def secrets_generate() -> None:
    """Write random secrets to LOTSE_DATA_DIR/secrets.env (mode 0600), keeping any already there."""
    settings = current()
    path, created = generate_secrets_file(settings.data_dir)
    if created:
        names = ", ".join("LOTSE_" + n.upper() for n in created)
        click.echo(f"generated {names} in {path}")
    else:
        click.echo(f"{path} already holds both secrets; nothing changed")
    overridden = ["LOTSE_" + n.upper() for n in created if getattr(settings, n) is not None]
    if overridden:
        click.echo(
            "note: the environment sets " + ", ".join(overridden) + ", which wins over the file"
        )


@secrets_group.command("check")
def secrets_check() -> None:
    """Say whether the secrets are safe to serve with (exit code 1 when not)."""
    problems = current().secret_problems()
    if problems:
        raise click.ClickException("; ".join(problems))
    click.echo("secrets: ok")


@click.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", "agency_id", help="agency slug (role agency); registered if unknown")
@click.option("--centre", "centre_id", help="centre slug (role counsellor); registered if unknown")
@click.option("--label", default="", help="a note on what the token is for")
@click.option(
    "--user", "username", help="the web user it belongs to (disabling the user revokes it)"
)
def tokens_create(
    role: str, agency_id: str | None, centre_id: str | None, label: str, username: str | None
) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    try:
        with transaction(sessions()) as session:
            token = create_token(session, role, agency_id, centre_id, label, user=username)
    except LotseError as exc:
        raise fail(exc) from None
    scope = agency_id or centre_id
    click.echo(
        "created "
        + ("an" if role[0] in "aeiou" else "a")
        + f" {role} token"
        + (f" for {scope}" if scope else "")
        + "; store it now, it is not shown again:"
    )
    click.echo(token)


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


@tokens_group.command("list")
def tokens_list() -> None:
    """Every API token: id, role, scope, user, label, created, revoked (never the token)."""
    with transaction(sessions()) as session:
        rows = accounts.list_tokens(session)
    click.echo(f"{'id':>5}  {'role':<10} {'scope':<20} {'user':<16} {'created':<16}  state  label")
    for token, username in rows:
        state = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active"
        click.echo(
            f"{token.id:>5}  {token.role:<10} {token.agency_id or token.centre_id or '-':<20} "
            f"{username or '-':<16} {_when(token.created_at):<16}  {state}  {token.label}"
        )


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token (its id from `lotse tokens list`): from its next request on, 401."""
    try:
        with transaction(sessions()) as session:
            accounts.revoke_token(session, token_id)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo(f"revoked token {token_id}")


@click.group("users")
def users_group() -> None:
    """Web users."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", "agency_id")
@click.option("--centre", "centre_id")
@click.password_option(
    "--password",
    envvar="LOTSE_PASSWORD",
    help="the password (default: LOTSE_PASSWORD, else a prompt)",
)
def users_create(
    username: str, role: str, agency_id: str | None, centre_id: str | None, password: str
) -> None:
    """Create a web login; the password comes from LOTSE_PASSWORD or a prompt."""
    try:
        with transaction(sessions()) as session:
            create_user(session, username, password, role, agency_id, centre_id)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo(f"created user {username} ({role})")


@users_group.command("list")
def users_list() -> None:
    """Every web user: role, scope, live sessions, tokens, disabled or not."""
    with transaction(sessions()) as session:
        users = accounts.list_users(session)
    click.echo(f"{'username':<20} {'role':<10} {'scope':<20} {'sessions':>8} {'tokens':>6}  state")
    for u in users:
        state = f"disabled {_when(u.disabled_at)}" if u.disabled_at else "active"
        click.echo(
            f"{u.username:<20} {u.role:<10} {u.agency_id or u.centre_id or '-':<20} "
            f"{u.sessions:>8} {u.tokens:>6}  {state}"
        )


@users_group.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable a user at once: no login, every session ended, every token of theirs revoked."""
    try:
        with transaction(sessions()) as session:
            ended, revoked = accounts.disable_user(session, username)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo(
        f"disabled {username}: {ended} session{'s' if ended != 1 else ''} ended, "
        f"{revoked} token{'s' if revoked != 1 else ''} revoked"
    )


@users_group.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Let a disabled user log in again (tokens revoked by disabling stay revoked)."""
    try:
        with transaction(sessions()) as session:
            accounts.enable_user(session, username)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo(f"enabled {username}")


@users_group.command("passwd")
@click.argument("username")
@click.password_option(
    "--password",
    envvar="LOTSE_PASSWORD",
    help="the new password (default: LOTSE_PASSWORD, else a prompt)",
)
def users_passwd(username: str, password: str) -> None:
    """Set a user's password and end their sessions; from LOTSE_PASSWORD or a prompt."""
    try:
        with transaction(sessions()) as session:
            ended = accounts.set_password(session, username, password)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo(f"new password for {username}; {ended} session{'s' if ended != 1 else ''} ended")


def demo_password() -> str:
    chosen = current().demo_password
    return chosen.get_secret_value() if chosen else secrets.token_urlsafe(12)


def register_commands(app: Flask) -> None:
    """Attach every command group to the app's CLI (called by the factory)."""
    app.cli.add_command(init_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(secrets_group)
    app.cli.add_command(tokens_group)
    app.cli.add_command(users_group)
    from catalog.cli import catalog_group

    app.cli.add_command(catalog_group)
    from casework.outcomes import cli_workspace
    from models.cli import build_ranker_group

    app.cli.add_command(build_ranker_group(cli_workspace))
    from casework.cli import casework_group, persons_group

    app.cli.add_command(casework_group)
    app.cli.add_command(persons_group)
    app.cli.add_command(demo_group)
    _attach_demo_commands()


@click.group("demo")
def demo_group() -> None:
    """Demo data: a realistic catalogue and a simulated outcome history."""


def _attach_demo_commands() -> None:
    from catalog.demo import seed_command
    from service.bootstrap import bootstrap_command

    demo_group.add_command(bootstrap_command)

    demo_group.add_command(seed_command)
    from casework.outcomes import cli_workspace, record_simulated_referrals
    from models.cli import build_simulate_command

    demo_group.add_command(build_simulate_command(cli_workspace, record_simulated_referrals))
