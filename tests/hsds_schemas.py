"""Validators for the HSDS 3.0 schemas kept in ``tests/data/hsds``.

``Schemas()["service"]`` is the compiled schema ``schema/compiled/service.json``;
``Schemas()["raw:taxonomy_term"]`` is ``schema/taxonomy_term.json`` with its references to the
other object schemas resolved (the HSDS OpenAPI document points some answers at these, for
which no compiled schema exists); ``Schemas()["page"]`` is the ``Page`` envelope of the HSDS
OpenAPI document, with ``contents`` required. Each is built once, when first asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HSDS_DIR = Path(__file__).resolve().parent / "data" / "hsds"
#: Where the raw object schemas live upstream; their ``$ref``s ("location.json") are relative.
BASE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _registry() -> Registry:
    resources = [
        (BASE + path.name, Resource.from_contents(_load(path), default_specification=DRAFT202012))
        for path in sorted((HSDS_DIR / "schema").glob("*.json"))
        if path.name != "openapi.json"
    ]
    return Registry().with_resources(resources)


class Schemas(dict):
    """Validators by name, built when first asked for (the compiled schemas are big)."""

    def __missing__(self, name: str) -> Draft202012Validator:
        checker = Draft202012Validator.FORMAT_CHECKER
        if name == "page":
            openapi = _load(HSDS_DIR / "schema" / "openapi.json")
            page = openapi["components"]["schemas"]["Page"]
            schema = {**page, "required": [*page["properties"], "contents"]}
            validator = Draft202012Validator(schema)
        elif name.startswith("raw:"):
            ref = {"$ref": BASE + name.removeprefix("raw:") + ".json"}
            validator = Draft202012Validator(ref, registry=_registry(), format_checker=checker)
        else:
            schema = _load(HSDS_DIR / "schema" / "compiled" / f"{name}.json")
            Draft202012Validator.check_schema(schema)
            validator = Draft202012Validator(schema, format_checker=checker)
        self[name] = validator
        return validator


def assert_valid(validator: Draft202012Validator, doc: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors[:5]
