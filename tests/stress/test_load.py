"""The short form of ``stress/load.py``: 15 s of concurrent clients against ``lotse serve`` with
an import and a promotion in the middle; no failed request, every acknowledged write found."""

from __future__ import annotations

import pytest

from tests.stress.runner import PG_URL, run_script

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_load_loses_nothing(backend: str) -> None:
    args = ["--duration", "15", "--offers", "300"]
    if backend == "postgres":
        if not PG_URL:
            pytest.skip("LOTSE_TEST_POSTGRES_URL not set (CI sets it)")
        args += ["--postgres", PG_URL]
    else:
        args += ["--sqlite"]
    (figures,) = run_script("load.py", *args, timeout=300)
    assert figures["ok"]
    assert figures["failed_requests"] == 0 and figures["responses_5xx"] == 0
    writes = figures["writes_checked"]
    assert writes["patches"] > 0 and writes["referrals"] > 0
    assert set(figures["events"]) == {"import_capacity_30", "promotion", "import_capacity_20"}
