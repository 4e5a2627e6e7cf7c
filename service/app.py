"""The Flask application factory."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

from lotse import settings as settings_module
from lotse.settings import Settings


def create_app(
    test_config: dict[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    check_secrets: bool = True,
) -> Flask:
    """Build the app: settings, database, error envelope, blueprints and CLI commands.
    Nothing happens at import time.

    ``test_config``: lower-case keys override settings fields, upper-case keys go to Flask's
    own ``app.config``. An app that is to serve (``check_secrets``, the default) refuses to be
    built with missing, weak or shared secrets (``UnsafeConfiguration``). Only the command
    line builds one without the check, to run commands such as ``lotse secrets generate``;
    it never serves (the CLI has no ``run`` command) and signs nothing with a known value."""
    overrides = dict(test_config or {})
    if settings is None:
        settings = Settings.load(
            **{k: v for k, v in overrides.items() if k in Settings.model_fields}
        )
    if check_secrets:
        settings.require_safe_secrets()
    settings_module.install(settings)

    app = Flask(__name__)
    secret = settings.secret_key
    app.config.update(
        # Without a secret (command line only): a random one for this process, so that
        # nothing is ever signed with a value anyone could know.
        SECRET_KEY=secret.get_secret_value() if secret else secrets.token_urlsafe(48),
        MAX_CONTENT_LENGTH=settings.max_body_mb * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update({k: v for k, v in overrides.items() if k.isupper()})

    from service.db import init_db
    from service.errors import register_error_handlers
    from service.observability import init_observability

    # First, so that its request hooks see every request (ids, access log, latency).
    init_observability(app, settings)
    init_db(app, settings)
    register_error_handlers(app)

    from service import ranking

    ranking.init_app(app, settings)

    from service.api import (
        agreements,
        hsds,
        meta,
        models,
        offers,
        offers_io,
        persons,
        recommendations,
        referrals,
        reports,
    )

    for module in (
        meta,
        offers_io,
        offers,
        hsds,
        recommendations,
        referrals,
        models,
        agreements,
        reports,
        persons,
    ):
        app.register_blueprint(module.bp)

    from service.sessions import init_sessions
    from service.web import init_web

    init_sessions(app, settings)
    init_web(app)

    from service.security import init_security

    init_security(app, settings)

    from service.cli import register_commands

    register_commands(app)
    return app
