"""The test client every app fixture uses (``tests/conftest.py``, ``tests/web/conftest.py``)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

OPEN_RESPONSES = "tests.open_responses"


class ClosingClient(FlaskClient):
    """A test client that closes every response it returned when the test ends.

    A streamed response (``stream_with_context``) keeps its request's database session, and on
    PostgreSQL an open transaction, until it is closed, which a WSGI server does after sending
    it but the test client leaves to the caller. Left open, the session is only finalised by
    the garbage collector after the next test's fixture has terminated its connection; the
    rollback then fails and its logged traceback (Python 3.11 parses source for the carets)
    can land inside another ``ast.parse`` and break it ("AST constructor recursion depth
    mismatch")."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        self.application.extensions.setdefault(OPEN_RESPONSES, []).append(response)
        return response


def close_responses(app: Flask) -> None:
    """Close every response the app's test clients returned (see ``ClosingClient``)."""
    for response in app.extensions.pop(OPEN_RESPONSES, []):
        response.close()
