"""Low finding: metrics told non-admins the nodes' host names and other tenants' activity by
category. A tenant sees its own figures; cluster internals are for admins."""

from __future__ import annotations

from tests.integration.helpers import submit, wait_until

METRICS = "/api/high-scale-tasks/metrics"


def test_a_tenant_sees_its_own_use_of_a_category_not_everyone_s(stack, api, tenant):
    busy, quiet = tenant(), tenant()
    tasks = [submit(busy, "statistical_summary", [1, 2, 3]) for _ in range(4)]
    for task in tasks:
        wait_until(busy, task["task_id"])
    assert busy.get(METRICS).json()["rate_limits"]["analytics"]["current_usage"] >= 4
    assert quiet.get(METRICS).json()["rate_limits"]["analytics"]["current_usage"] == 0
    assert api.get(METRICS).json()["rate_limits"]["analytics"]["current_usage"] >= 4
    counts = quiet.get("/api/metrics/category/analytics").json()
    assert counts["tasks"]["submitted"] == counts["tasks"]["completed"] == 0
    assert counts["rate_limit"]["current_usage"] == 0
    own = busy.get("/api/metrics/category/analytics").json()
    assert own["tasks"]["submitted"] == own["tasks"]["completed"] == 4
    assert api.get("/api/metrics/category/analytics").json()["tasks"]["completed"] >= 4


def test_a_tenant_learns_no_node_names_or_addresses(stack, api, tenant):
    client = tenant()
    workers = client.get("/api/metrics/workers").json()
    assert workers["nodes"] == []
    assert api.get("/api/metrics/workers").json()["nodes"][0]["hostname"]
    redis = client.get("/api/metrics/redis").json()
    assert set(redis["nodes"]) == {"node_0"}
    node = redis["nodes"]["node_0"]
    assert (node["version"], node["keys"], node["ops_per_second"]) == ("", 0, 0)
    assert all(node.startswith("node_") for node in redis["partition_nodes"].values())
    assert set(client.get(METRICS).json()["redis_cluster"]) == {"node_0"}
