"""The Flask service: app factory, API blueprints, auth, error envelope, CLI and web pages.

Nothing imports ``service``; it is the only package that imports Flask.
"""

from service.app import create_app

__all__ = ["create_app"]
