"""The short forms of ``stress/faults.py``: the importer killed mid-file, the database stopped
and started under a running server, corrupted model artifacts."""

from __future__ import annotations

import pytest

from stress.common import private_cluster_possible
from tests.stress.runner import PG_URL, run_script

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killed_import_leaves_the_catalogue_old_or_new(backend: str) -> None:
    args = ["import-kill", "--short"]
    if backend == "postgres":
        if not PG_URL:
            pytest.skip("LOTSE_TEST_POSTGRES_URL not set (CI sets it)")
        args += ["--postgres", PG_URL]
    (figures,) = run_script("faults.py", *args, timeout=300)
    assert figures["ok"]
    assert figures["faults_survived"] == figures["kills"] == 3
    assert figures["killed_while_writing"] >= 1


def test_database_restart_gives_503_then_full_service() -> None:
    reason = private_cluster_possible()
    if reason:
        pytest.skip(f"no private PostgreSQL cluster: {reason}")
    (figures,) = run_script("faults.py", "db-restart", "--short", timeout=300)
    assert figures["ok"]
    assert figures["faults_survived"] == figures["cycles"] == 1
    assert figures["requests_while_down"] == figures["answered_503_problem_json"] > 0
    assert figures["served_after"] == figures["requests_after"] > 0


def test_corrupted_model_is_refused_while_the_active_one_serves() -> None:
    (figures,) = run_script("faults.py", "corrupt-model", "--short", timeout=300)
    assert figures["ok"]
    assert figures["failed"] == 0 and figures["faults_survived"] == 3
