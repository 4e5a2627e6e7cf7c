"""The Flask application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from lotse.config import Config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration from the environment (``test_config`` overrides it),
    database, error envelope, blueprints and CLI commands. Nothing happens at import time."""
    app = Flask(__name__)
    overrides = dict(test_config or {})
    config = Config.from_env(
        **{k: v for k, v in overrides.items() if k in Config.__dataclass_fields__}
    )
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_body_mb * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update({k: v for k, v in overrides.items() if k.isupper()})

    from service.db import init_db
    from service.errors import register_error_handlers
    from service.observability import init_observability

    # First, so that its request hooks see every request (ids, access log, latency).
    init_observability(app)
    init_db(app, config)
    register_error_handlers(app)

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

    from service.web import init_web

    init_web(app)

    from service.security import init_security

    init_security(app)

    from service.cli import register_commands

    register_commands(app)
    return app
