"""The ``lotse`` command: Flask's click CLI, with each package's command group attached.

Core commands live here (``init``, ``serve``, ``tokens``, ``users``, ``demo bootstrap``);
``catalog``, ``demo``, ``ranker`` and the rest come from the package that owns the behaviour.
"""

from __future__ import annotations

import os
import secrets

import click
from flask import Flask
from flask.cli import FlaskGroup

from lotse.accounts import ROLES, create_token, create_user
from lotse.cli_support import fail, sessions
from lotse.config import Config
from lotse.db import transaction
from lotse.errors import LotseError


def _create_app() -> Flask:
    from service.app import create_app

    return create_app()


main = FlaskGroup(
    name="lotse",
    create_app=_create_app,
    add_version_option=False,
    help="Lotse: referral matching and offer recommendations.",
)


@click.command("init")
def init_command() -> None:
    """Create the database or migrate it to the newest schema."""
    from service.schema import migrate

    url = Config.from_env().database_url
    migrate(url)
    click.echo("database ready: " + _redacted(url))


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="default: one per CPU core")
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--timeout", default=60, show_default=True, type=int)
def serve_command(host: str, port: int, workers: int | None, threads: int, timeout: int) -> None:
    """Serve the web UI and API with gunicorn (production server)."""
    from service.server import run_gunicorn

    run_gunicorn(host=host, port=port, workers=workers, threads=threads, timeout=timeout)


@click.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", "agency_id", help="agency slug (role agency); registered if unknown")
@click.option("--centre", "centre_id", help="centre slug (role counsellor); registered if unknown")
@click.option("--label", default="", help="a note on what the token is for")
def tokens_create(role: str, agency_id: str | None, centre_id: str | None, label: str) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    try:
        with transaction(sessions()) as session:
            token = create_token(session, role, agency_id, centre_id, label)
    except LotseError as exc:
        raise fail(exc) from None
    scope = agency_id or centre_id
    click.echo(
        f"created a {role} token"
        + (f" for {scope}" if scope else "")
        + "; store it now, it is not shown again:"
    )
    click.echo(token)


@click.group("users")
def users_group() -> None:
    """Web users."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", "agency_id")
@click.option("--centre", "centre_id")
def users_create(username: str, role: str, agency_id: str | None, centre_id: str | None) -> None:
    """Create a web login; the password comes from LOTSE_PASSWORD or a prompt."""
    password = os.environ.get("LOTSE_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        with transaction(sessions()) as session:
            create_user(session, username, password, role, agency_id, centre_id)
    except LotseError as exc:
        raise fail(exc) from None
    click.echo(f"created user {username} ({role})")


def demo_password() -> str:
    return os.environ.get("LOTSE_DEMO_PASSWORD") or secrets.token_urlsafe(9)


def register_commands(app: Flask) -> None:
    """Attach every command group to the app's CLI (called by the factory)."""
    app.cli.add_command(init_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(tokens_group)
    app.cli.add_command(users_group)
    from catalog.cli import catalog_group

    app.cli.add_command(catalog_group)
    from casework.outcomes import cli_workspace
    from models.cli import build_ranker_group

    app.cli.add_command(build_ranker_group(cli_workspace))
    from casework.cli import casework_group

    app.cli.add_command(casework_group)
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
