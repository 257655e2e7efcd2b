"""GET /api/metrics/category/{c}, /api/metrics/workers and /api/metrics/redis, the Ray
nodes behind system_resources, and the Prometheus metrics Ray exports for the service."""

from __future__ import annotations

import os
import time

import httpx

from tests.integration.helpers import submit, wait_until

POOLS = {
    "CPU_INTENSIVE",
    "IO_INTENSIVE",
    "MEMORY_INTENSIVE",
    "NETWORK_INTENSIVE",
    "GENERAL_PURPOSE",
}


def _until(check, timeout_s: float = 30.0, every_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)


def test_category_metrics_count_submits_outcomes_and_refusals(api):
    url = "/api/metrics/category/metered"
    before = api.get(url).json()
    tasks = [submit(api, "metered_echo", f"task {i}") for i in range(2)]
    failing = submit(api, "metered_fail", "failure", retry_count=0)
    refused = 0
    for _ in range(10):  # the test stack limits metered to 2/s with a burst of 5
        reply = api.post(
            "/api/high-scale-tasks/submit",
            json={"name": "x", "function_name": "metered_noop"},
        )
        refused += reply.status_code == 429
    assert refused > 0
    for task in [*tasks, failing]:
        wait_until(api, task["task_id"])
    after = api.get(url).json()
    assert after["category"] == "metered"
    assert after["rate_limit"]["limit_per_second"] == 2 and after["rate_limit"]["burst"] == 5
    assert after["rate_limit"]["current_usage"] >= 3
    assert after["rate_limit"]["reset_time"].endswith("Z")
    counts, was = after["tasks"], before["tasks"]
    assert counts["submitted"] - was["submitted"] >= 3
    assert counts["refused"] - was["refused"] == refused
    assert counts["completed"] - was["completed"] >= 2
    assert counts["failed"] - was["failed"] == 1
    assert set(counts) == {
        "submitted",
        "refused",
        "completed",
        "failed",
        "timeout",
        "cancelled",
        "retried",
    }
    assert 0 < after["success_rate"] < 1
    assert after["avg_execution_time"] > 0
    assert after["timestamp"] > before["timestamp"]


def test_worker_metrics_show_each_pool_and_each_ray_node_with_its_readings(api):
    body = _until(
        lambda: (
            (b := api.get("/api/metrics/workers").json())["nodes"]
            and all(n["cpu_percent"] is not None for n in b["nodes"])
            and b
        )
    )
    assert set(body["worker_pools"]) == POOLS
    for pool in body["worker_pools"].values():
        assert set(pool) == {
            "active_workers",
            "max_workers",
            "queue_size",
            "avg_execution_time",
            "target_workers",
            "occupancy",
        }
        assert 0 <= pool["occupancy"] <= 1 and pool["max_workers"] >= 1
    assert body["max_workers"] == sum(p["max_workers"] for p in body["worker_pools"].values())
    [node] = body["nodes"]
    assert node["alive"] and node["hostname"] and len(node["node_id"]) > 20
    assert 0 <= node["cpu_percent"] <= 100 and 0 < node["memory_percent"] < 100
    assert node["resources"]["CPU"] >= 1 and "vokaflow_cpu" in node["resources"]


def test_system_resources_are_the_ray_nodes_readings(api):
    node = _until(lambda: (n := api.get("/api/metrics/workers").json()["nodes"]) and n[0])
    resources = api.get("/api/high-scale-tasks/metrics").json()["system_resources"]
    assert abs(resources["memory_percent"] - node["memory_percent"]) < 5
    assert resources["network_io"]["bytes_recv"] > 0


def test_redis_metrics_describe_each_node_and_where_each_partition_lives(api):
    body = api.get("/api/metrics/redis").json()
    assert body["mode"] == "single" and body["partitions"] == 16
    node = body["nodes"]["node_0"]
    assert node["status"] == "healthy" and node["role"] == "master"
    assert node["version"].count(".") == 2
    assert node["used_memory_bytes"] > 0 and node["connected_clients"] >= 1
    assert node["keys"] > 0 and node["uptime_seconds"] > 0 and node["ops_per_second"] >= 0
    assert node["memory_usage"].endswith("%")
    assert body["partition_nodes"] == {str(p): "node_0" for p in range(16)}


def test_ray_exports_the_services_prometheus_metrics(api):
    for _ in range(3):
        submit(api, "noop", priority="HIGH")
    port = os.environ.get("VOKAFLOW_TEST_METRICS_PORT", "8781")
    wanted = (
        "vokaflow_tasks_submitted",
        "vokaflow_tasks_finished",
        "vokaflow_queue_wait_seconds_bucket",
        "vokaflow_pool_occupancy",
        "vokaflow_pool_active_workers",
    )

    def submitted_here(line: str) -> bool:
        return (
            line.startswith("ray_vokaflow_tasks_submitted")
            and 'category="system"' in line
            and 'priority="HIGH"' in line
        )

    def scrape() -> str:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return ""
        exported = all(name in text for name in wanted)
        return text if exported and any(map(submitted_here, text.splitlines())) else ""

    text = _until(scrape, timeout_s=60, every_s=2)
    assert text, "Ray's metrics agent never exported the service's metrics"
    assert 'pool="GENERAL_PURPOSE"' in text
