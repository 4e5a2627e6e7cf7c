"""The short form of ``stress/schema_fuzz.py``: schemathesis against ``/openapi.json`` of a real
server, every operation, no 5xx, every answer as documented."""

from __future__ import annotations

import pytest

from tests.stress.runner import PG_URL, run_script

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_generated_requests_get_documented_answers(backend: str) -> None:
    args = ["--requests", "300", "--max-seconds", "150"]
    if backend == "postgres":
        if not PG_URL:
            pytest.skip("LOTSE_TEST_POSTGRES_URL not set (CI sets it)")
        args += ["--postgres", PG_URL]
    (figures,) = run_script("schema_fuzz.py", *args, timeout=400)
    assert figures["ok"]
    assert figures["requests"] >= 300
    assert figures["operations_untested"] == []
    assert figures["responses_5xx"] == 0 and figures["failed_requests"] == 0
