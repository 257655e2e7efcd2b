"""The whole service on a 3-master Redis Cluster started by the test (loopback ports, no
replicas): tasks spread over every partition and every node, and all complete.

Its own package, with the other stacks of their own (tests/conftest.py), beside the session's
stack: its head has ports of its own."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.conftest import running_stack
from vokaflow.testing.stack import LocalRedisCluster, LocalStack
from vokaflow.testing.tally import wait_all_terminal

TASKS = 2000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    local = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def cluster_stack(
    tmp_path_factory: pytest.TempPathFactory, cluster: LocalRedisCluster
) -> Iterator[LocalStack]:
    local = LocalStack(
        home=tmp_path_factory.mktemp("cluster-home"),
        port=int(os.environ.get("VOKAFLOW_CLUSTER_PORT", "8796")),
        ray_port=int(os.environ.get("VOKAFLOW_CLUSTER_RAY_PORT", "6394")),
        dashboard_port=int(os.environ.get("VOKAFLOW_CLUSTER_DASHBOARD_PORT", "8269")),
        settings={
            "VOKAFLOW_ENVIRONMENT": "test",
            "VOKAFLOW_REDIS_URL": cluster.url,
            "VOKAFLOW_VICKY_MODELS": "[]",
            # `down` need not wait out the 30 s default for the cancelled sleep's chunk
            "VOKAFLOW_SHUTDOWN_GRACE_S": "2",
        },
    )
    yield from running_stack(local)


def test_tasks_spread_over_every_partition_and_node_all_complete(cluster_stack, cluster):
    task = {"name": "spread", "function_name": "noop"}
    refs = []
    with cluster_stack.client() as api:
        for _ in range(TASKS // 500):
            reply = api.post("/api/high-scale-tasks/batch", json={"tasks": [task] * 500})
            assert reply.status_code == 200 and reply.json()["total_errors"] == 0, reply.text
            refs += reply.json()["successful_tasks"]
        single = api.post("/api/high-scale-tasks/submit", json=task)
        assert single.status_code == 200, single.text
        metrics = api.get("/api/high-scale-tasks/metrics").json()
    assert Counter(ref["partition"] for ref in refs).keys() == set(range(16))
    nodes = {f"127.0.0.1:{port}" for port in cluster.ports}
    assert {ref["redis_node"] for ref in refs} == nodes
    assert set(metrics["redis_cluster"]) == nodes
    assert all(node["status"] == "healthy" for node in metrics["redis_cluster"].values())
    task_ids = [ref["task_id"] for ref in refs] + [single.json()["task_id"]]
    tally = wait_all_terminal(cluster_stack, task_ids, timeout_s=180)
    assert tally.missing == [] and tally.by_status == {"completed": TASKS + 1}


def test_single_submits_rate_limits_and_cancel_work_on_the_cluster(cluster_stack):
    with cluster_stack.client() as api:
        accepted = api.post(
            "/api/high-scale-tasks/submit",
            json={"name": "held", "function_name": "sleep", "args": [30], "priority": "LOW"},
        ).json()
        status = api.get(f"/api/high-scale-tasks/status/{accepted['task_id']}").json()
        assert status["redis_node"] == accepted["redis_node"] != "node_0"
        cancelled = api.delete(f"/api/high-scale-tasks/cancel/{accepted['task_id']}")
        assert cancelled.status_code == 200
        again = api.post(
            "/api/high-scale-tasks/submit",
            json={"name": "once", "function_name": "noop", "idempotency_key": "cluster-1"},
        )
        repeat = api.post(
            "/api/high-scale-tasks/submit",
            json={"name": "once", "function_name": "noop", "idempotency_key": "cluster-1"},
        )
        assert repeat.headers["Idempotent-Replayed"] == "true"
        assert repeat.json()["task_id"] == again.json()["task_id"]
