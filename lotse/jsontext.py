"""JSON from outside (request bodies, import files) read with a limit on nesting.

Python's parser recurses once per level: a body of 100,000 ``[`` exhausts the stack
(``RecursionError``), and a document a few hundred levels deep parses but then breaks whatever
walks it next (validation, storage as JSON). Nothing Lotse reads is nested more than a few
levels (an HSDS service: about six), so a document deeper than ``MAX_DEPTH`` is refused as
unreadable before anything else sees it.
"""

from __future__ import annotations

import json
from typing import Any

from lotse.errors import BadPayload

#: The deepest nesting of arrays and objects accepted.
MAX_DEPTH = 32


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests arrays and objects more than ``limit`` deep (walked without
    recursion, stopping at the first level too deep)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item if isinstance(v, dict | list))
    return False


def load_json(text: str | bytes, what: str = "the request body") -> Any:
    """Parse JSON from outside; ``BadPayload`` naming ``what`` when it is not JSON or is
    nested more than ``MAX_DEPTH`` levels."""
    too_deep = BadPayload(f"{what} is nested more than {MAX_DEPTH} levels deep")
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep from None
    except json.JSONDecodeError as exc:
        raise BadPayload(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload(f"{what} is not valid JSON: {exc}") from None
    if isinstance(value, dict | list) and depth_exceeds(value):
        raise too_deep
    return value
