"""The short form of ``stress/cluster.py``: two ``lotse serve`` behind HAProxy on PostgreSQL for
20 s of load, one of them killed and restarted, a promotion; sessions, CSRF tokens, rate limits
and logouts hold across the servers, both serve the promoted version within 2 s, no
acknowledged write is lost and no idempotent request fails."""

from __future__ import annotations

import pytest

from stress.cluster import PROMOTION_BUDGET_S, haproxy_missing
from stress.common import private_cluster_possible
from tests.stress.runner import PG_URL, run_script

pytestmark = pytest.mark.slow


def test_two_servers_behind_haproxy_survive_a_kill_and_follow_a_promotion() -> None:
    reason = haproxy_missing()
    if reason:
        pytest.skip(f"no load balancer: {reason}; .ci/run installs it")
    args = ["--duration", "20", "--offers", "300"]
    if PG_URL:
        args += ["--postgres", PG_URL]
    elif reason := private_cluster_possible():
        pytest.skip(f"no PostgreSQL: LOTSE_TEST_POSTGRES_URL not set and {reason}")
    (figures,) = run_script("cluster.py", *args, timeout=900)
    assert figures["ok"]
    failover = figures["failover"]
    assert failover["failed_idempotent"] == 0 and failover["failed_otherwise"] == 0
    assert figures["kill"]["served_after_restart"] > 0
    assert set(figures["served_by"]) == {"a", "b"}
    delays = figures["promotion_delay_s"]
    assert set(delays) == {"a", "b"} and max(delays.values()) <= PROMOTION_BUDGET_S
    assert set(figures["sessions"].values()) == {"ok"}
    assert figures["anonymous_limit"]["ok"] and figures["forwarded_for"]["ok"]
    assert figures["retry_policy"]["ok"]  # POST and PATCH never sent twice
    writes = figures["writes_checked"]
    assert writes["patches"] > 0 and writes["referrals"] > 0
    assert set(figures["events"]) == {"import_capacity_30", "promotion", "import_capacity_20"}
