"""The OpenAPI 3.1 document, generated from the same pydantic models the views validate with.

A view declares its contract with ``@operation(...)``; ``build_document`` walks the URL map and
turns each declaration into a path item, with the models' JSON Schemas under
``components/schemas``. What the document says is therefore what the code checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"


class Problem(BaseModel):
    """An error (RFC 9457 problem details); ``errors`` lists field problems on validation."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None
    report: dict[str, Any] | None = None


@dataclass
class Operation:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    body_types: tuple[str, ...] = ("application/json",)
    query: type[BaseModel] | None = None
    #: status -> a model (JSON), ``(model, "text/csv,image/png")`` (JSON or those), an error's
    #: description (a problem), ``"description|text/csv"`` (other media types) or None.
    responses: dict[int, type[BaseModel] | tuple[type[BaseModel], str] | str | None] = field(
        default_factory=dict
    )
    headers: dict[str, str] = field(default_factory=dict)
    #: The ``operationId``, when a standard names it (the HSDS operations); else derived.
    operation_id: str | None = None


def operation(summary: str, tag: str, **kwargs: Any) -> Callable[[F], F]:
    """Attach an OpenAPI operation to a view function."""

    def decorate(view: F) -> F:
        view.__openapi__ = Operation(summary=summary, tag=tag, **kwargs)  # type: ignore[attr-defined]
        return view

    return decorate


_CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def build_document(app: Flask) -> dict[str, Any]:
    """Build the OpenAPI document for every view that declared an operation."""
    from service.auth import limit_anonymous_reads

    ops: list[tuple[str, str, Operation, tuple[str, ...], bool]] = []
    models: set[type[BaseModel]] = {Problem}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        op: Operation | None = getattr(view, "__openapi__", None)
        if op is None:
            continue
        roles = getattr(view, "required_roles", ())
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        hooks = app.before_request_funcs.get(rule.endpoint.rpartition(".")[0], [])
        counted = limit_anonymous_reads in hooks
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            ops.append((path, method.lower(), op, roles, counted and method == "GET"))
        responses = [r[0] if isinstance(r, tuple) else r for r in op.responses.values()]
        for m in (op.body, op.query, *responses):
            if isinstance(m, type) and issubclass(m, BaseModel):
                models.add(m)
    keyed: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (m, "validation") for m in sorted(models, key=lambda m: m.__name__)
    ]
    _, top = models_json_schema(keyed, ref_template=REF)
    schemas = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for path, method, op, roles, counted in sorted(ops, key=lambda t: (t[0], t[1])):
        paths.setdefault(path, {})[method] = _operation_item(path, op, roles, schemas, counted)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Lotse API",
            "version": "1.0.0",
            "description": "Referral matching and offer recommendations (contract v1).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _media(types: str) -> dict[str, Any]:
    """Content for comma-separated media types: text types are strings, others anything."""
    return {
        t: {"schema": {"type": "string"} if t.startswith("text/") else {}}
        for t in types.split(",")
        if t
    }


def _operation_item(
    path: str,
    op: Operation,
    roles: tuple[str, ...],
    schemas: dict[str, Any],
    counted: bool = False,
) -> dict[str, Any]:
    """One operation; ``counted``: reads without credentials count against the address's
    limit (429)."""
    item: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": op.operation_id or f"{op.tag}_{op.summary}".lower().replace(" ", "_")[:80],
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{([a-z_]+)}", path)
    ]
    if op.query is not None:
        qschema = schemas.get(op.query.__name__) or op.query.model_json_schema(ref_template=REF)
        required = set(qschema.get("required", []))
        for name, prop in qschema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    for name, desc in op.headers.items():
        params.append(
            {
                "name": name,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": desc,
            }
        )
    if params:
        item["parameters"] = params
    if op.body is not None:
        content = {t: {"schema": _ref(op.body)} for t in op.body_types if t == "application/json"}
        for t in op.body_types:
            if t != "application/json":
                content[t] = {"schema": {"type": "string"}}
        item["requestBody"] = {"required": True, "content": content}
    elif op.body_types != ("application/json",):
        item["requestBody"] = {
            "required": True,
            "content": {t: {"schema": {}} for t in op.body_types},
        }
    responses: dict[str, Any] = {}
    problem = {"content": {"application/problem+json": {"schema": _ref(Problem)}}}
    for status, model in op.responses.items():
        other_types = ""
        if isinstance(model, tuple):
            model, other_types = model
        if isinstance(model, type):
            responses[str(status)] = {
                "description": model.__doc__.strip().splitlines()[0] if model.__doc__ else "OK",
                "content": {"application/json": {"schema": _ref(model)}, **_media(other_types)},
            }
        elif isinstance(model, str) and status >= 400 and "|" not in model:
            responses[str(status)] = {"description": model, **problem}  # errors are problems
        elif isinstance(model, str):
            description, _, types = model.partition("|")
            responses[str(status)] = {"description": description, "content": _media(types)}
        else:
            responses[str(status)] = {"description": "No content"}
    for status, desc in (
        (400, "Unreadable input"),
        (422, "Invalid input"),
        (404, "Not found"),
        (503, "Service unavailable"),
    ):
        responses.setdefault(str(status), {"description": desc, **problem})
    if "requestBody" in item:
        responses.setdefault("413", {"description": "Request body too large", **problem})
        if all(t == "application/json" or t.endswith("+json") for t in op.body_types):
            responses.setdefault(
                "415", {"description": "The body is not sent as application/json", **problem}
            )
    if counted:
        responses.setdefault(
            "429", {"description": "Too many requests without credentials", **problem}
        )
    if roles:
        item["security"] = [{"bearer": []}]
        responses.setdefault("401", {"description": "Authentication required", **problem})
        responses.setdefault("429", {"description": "Too many failed attempts", **problem})
        responses.setdefault("403", {"description": "Forbidden", **problem})
    item["responses"] = responses
    return item
