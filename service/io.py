"""Reading requests and writing responses: JSON bodies, query strings, version headers."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from flask import Response, json, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import UnsupportedMediaType

from catalog.schema import pydantic_field_errors
from lotse.errors import BadPayload, FieldError, InvalidInput, PreconditionRequired
from lotse.i18n import N_
from lotse.jsontext import load_json

M = TypeVar("M", bound=BaseModel)


def is_json(mimetype: str) -> bool:
    """``application/json`` or a JSON-based type such as ``application/merge-patch+json``."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def json_body() -> Any:
    """The request's JSON body; a clear 400 when it is missing or not JSON, and 415 when it
    is sent as another media type (a browser's cross-site form can send text/plain or form
    data, never application/json, without the site's consent)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadPayload("the request body is empty; send JSON")
    if not is_json(request.mimetype):
        raise UnsupportedMediaType(
            f"send the body as 'Content-Type: application/json', not '{request.mimetype or 'none'}'"
        )
    return load_json(raw)


def parse_body(model: type[M]) -> M:
    """The JSON body validated against ``model`` (422 naming each bad field)."""
    data = json_body()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(pydantic_field_errors(exc)) from None


def parse_query(model: type[M]) -> M:
    """The query string validated against ``model``; unknown parameters are rejected."""
    try:
        return model.model_validate(request.args.to_dict(flat=True))
    except ValidationError as exc:
        raise InvalidInput(pydantic_field_errors(exc)) from None


_VERSION = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')
#: Versions are counters: more digits than this cannot be one (and ``int`` refuses thousands).
_MAX_VERSION_DIGITS = 18


def if_match(required: bool = True) -> int | None:
    """The version in ``If-Match`` (``3``, ``"3"`` or ``W/"3"``)."""
    raw = request.headers.get("If-Match")
    if raw is None:
        if required:
            raise PreconditionRequired(
                "send 'If-Match: <version>' with the version you read, so that no one's "
                "change is lost"
            )
        return None
    too_long = BadPayload(f"If-Match: a version number has at most {_MAX_VERSION_DIGITS} digits")
    if len(raw) > 4 * _MAX_VERSION_DIGITS:
        raise too_long
    m = _VERSION.match(raw)
    if not m:
        raise InvalidInput([FieldError("If-Match", N_("must be the offer's version number"))])
    digits = m.group(1).lstrip("0") or "0"
    if len(digits) > _MAX_VERSION_DIGITS:
        raise too_long
    return int(digits)


def respond(
    payload: BaseModel | dict | list, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialise a model (JSON mode, so dates become ISO strings) or plain data."""
    body = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload)
    resp = Response(body, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp
