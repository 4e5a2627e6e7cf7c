"""``lotse demo bootstrap``: everything ``make run`` needs before serving.

Generates the server's secrets into the data directory when there are none, creates or
migrates the database, loads the demo catalogue when the catalogue is empty,
simulates an outcome history and trains a first ranker when there is none, creates one demo
login and API token per role, and prints them.
"""

from __future__ import annotations

import click
from sqlalchemy import delete

from lotse.accounts import (
    User,
    create_token,
    create_user,
    describe_organisation,
    ensure_centre,
)
from lotse.cli_support import sessions
from lotse.db import transaction
from lotse.passwords import password_problems
from lotse.settings import Settings, current, generate_secrets_file, install

DEMO_USERS = (
    ("admin", "admin", None, None),
    ("berater", "counsellor", None, "mbe-wetzlar"),
    ("vhs", "agency", "vhs-wetzlar", None),
    ("analyst", "analyst", None, None),
)
#: Display names of the demo users, as histories and print views show them.
DEMO_NAMES = {"berater": "Anna Weber", "vhs": "Jonas Berger (VHS)"}
#: The demo centre, as the print view names it (an admin changes it on /admin/organisations).
DEMO_CENTRE = (
    "mbe-wetzlar",
    "Migrationsberatung für erwachsene Zuwanderer (MBE) Wetzlar",
    "Bahnhofstraße 12\n35576 Wetzlar",
)


@click.command("bootstrap")
@click.option("--offers", default=2000, show_default=True, help="demo catalogue size")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="where `lotse serve` will listen"
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="checked to be free before any work; named in the banner",
)
def bootstrap_command(offers: int, seed: int, host: str, port: int) -> None:
    """Prepare a local demo: secrets, database, catalogue, demo logins and tokens."""
    from service.cli import demo_password
    from service.migrations_runner import migrate
    from service.server import port_problem

    problem = port_problem(host, port)
    if problem:
        raise click.ClickException(problem)
    password = demo_password()
    weak = password_problems(password)
    if weak:
        raise click.ClickException("LOTSE_DEMO_PASSWORD: " + "; ".join(weak))

    path, created = generate_secrets_file(current().data_dir)
    if created:
        click.echo(f"generated random secrets in {path} (mode 0600)")
        install(Settings.load())  # this process goes on with them (pseudonyms of the demo)
    migrate(current().database)
    click.echo("database ready")
    _seed_catalogue_if_empty(offers, seed)
    _train_demo_ranker_if_none()
    lines = []
    with transaction(sessions()) as session:
        for username, role, agency, centre in DEMO_USERS:
            session.execute(delete(User).where(User.username == username))
            session.flush()
            create_user(
                session,
                username,
                password,
                role,
                agency,
                centre,
                display_name=DEMO_NAMES.get(username, ""),
            )
            token = create_token(session, role, agency, centre, label="demo")
            scope = agency or centre or ""
            lines.append(f"  {username:<9} {role:<11} {scope:<13} {token}")
        centre_id, name, address = DEMO_CENTRE
        centre_row = ensure_centre(session, centre_id)
        if centre_row.name == centre_id:  # never overwrite what an admin entered
            describe_organisation(session, "centre", centre_id, name, address)
    click.echo("\nDemo credentials (web login: username / password; API: Bearer token)")
    click.echo(f"  password for every demo user: {password}")
    click.echo("  user      role        scope         API token")
    for line in lines:
        click.echo(line)
    click.echo(f"\nOpen http://{host}:{port} — API document at /openapi.json\n")


def _train_demo_ranker_if_none() -> None:
    """Simulate an outcome history and train, evaluate and promote a first ranker, so analysts
    can try the whole loop at once (does nothing once any version exists)."""
    from casework.outcomes import cli_workspace, record_simulated_referrals
    from models.lifecycle import ensure_demo_ranker

    ensure_demo_ranker(cli_workspace(), record_simulated_referrals, echo=click.echo)


def _seed_catalogue_if_empty(offers: int, seed: int) -> None:
    from catalog.store import count_offers

    with transaction(sessions()) as session:
        existing = count_offers(session, include_archived=True)
    if existing:
        click.echo(f"catalogue has {existing} offers; not reseeding")
        return
    from catalog.demo import seed_catalogue

    with transaction(sessions()) as session:
        n = seed_catalogue(session, offers=offers, seed=seed)
    click.echo(f"loaded {n} demo offers")
