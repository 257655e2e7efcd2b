"""GET /metrics: the spec's fields, computed from what the service is doing."""

from __future__ import annotations

import time

from tests.integration.helpers import submit, user_client, wait_until

POOLS = {
    "CPU_INTENSIVE",
    "IO_INTENSIVE",
    "MEMORY_INTENSIVE",
    "NETWORK_INTENSIVE",
    "GENERAL_PURPOSE",
}


def test_metrics_have_every_spec_section(api):
    body = api.get("/api/high-scale-tasks/metrics").json()
    for field in (
        "throughput_per_second",
        "total_pending_tasks",
        "active_workers",
        "redis_nodes",
        "partitions",
        "system_resources",
        "worker_pools",
        "rate_limits",
        "redis_cluster",
        "timestamp",
    ):
        assert field in body, field
    assert body["partitions"] == 16 and body["redis_nodes"] == 1
    assert set(body["worker_pools"]) == POOLS
    assert body["worker_pools"]["MEMORY_INTENSIVE"]["max_workers"] == 1
    assert set(body["system_resources"]["network_io"]) == {"bytes_sent", "bytes_recv"}
    assert body["redis_cluster"]["node_0"]["status"] == "healthy"
    assert body["redis_cluster"]["node_0"]["memory_usage"].endswith("%")


def test_rate_limit_metrics_report_the_limit_and_the_last_minutes_usage(stack):
    """A new key's own usage: what other tests submit does not move it."""
    with user_client(stack, "usage-counter") as client:
        before = client.get("/api/high-scale-tasks/metrics").json()["rate_limits"]["analytics"]
        for _ in range(3):
            submit(client, "statistical_summary", [1, 2, 3])
        after = client.get("/api/high-scale-tasks/metrics").json()["rate_limits"]["analytics"]
    assert after["limit_per_second"] == 50_000
    assert (before["current_usage"], after["current_usage"]) == (0, 3)
    assert after["reset_time"].endswith("Z")


def test_a_busy_pool_shows_active_workers_and_its_queue(api):
    blocker = submit(api, "sleep", 3, worker_type="MEMORY_INTENSIVE")
    wait_until(api, blocker["task_id"], {"running"})
    submit(api, "noop", worker_type="MEMORY_INTENSIVE")
    time.sleep(1.5)  # the scheduler reports its pools every second
    pool = api.get("/api/high-scale-tasks/metrics").json()["worker_pools"]["MEMORY_INTENSIVE"]
    assert pool["active_workers"] == 1 and pool["queue_size"] >= 1
    wait_until(api, blocker["task_id"])


def test_throughput_counts_tasks_finished_in_the_last_minute(api):
    tasks = [submit(api, "noop") for _ in range(6)]
    for task in tasks:
        wait_until(api, task["task_id"])
    time.sleep(1.1)  # the current second is not counted until it is over
    assert api.get("/api/high-scale-tasks/metrics").json()["throughput_per_second"] >= 6 / 60
