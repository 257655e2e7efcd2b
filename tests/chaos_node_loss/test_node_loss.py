"""A node running tasks leaves the cluster: its tasks run again on the other node. Then
`vokaflow down` stops the service on the cluster it joined, which keeps running.

A three-node Ray cluster on this machine (`ray.cluster_utils.Cluster`): a head with no
worker-type resources (the API and the scheduler), and two worker nodes with them.
VokaFlow attaches to it with RAY_ADDRESS, as on a real cluster.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from ray.cluster_utils import Cluster

from tests import ray_driver
from tests.conftest import running_stack
from vokaflow.config import NAMESPACE
from vokaflow.runtime.job_secrets import KV_NAMESPACE, secrets_key
from vokaflow.scheduler import SCHEDULER_NAME
from vokaflow.testing.stack import LocalStack, free_port
from vokaflow.testing.tally import wait_all_terminal
from vokaflow.workers.resources import node_resources

RAY_PORT = int(os.environ.get("VOKAFLOW_NODES_RAY_PORT", "6395"))
DASHBOARD_PORT = int(os.environ.get("VOKAFLOW_NODES_DASHBOARD_PORT", "8270"))
_SCHEDULER = {"name": SCHEDULER_NAME, "namespace": NAMESPACE}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    head = {
        "num_cpus": 1,
        "gcs_server_port": RAY_PORT,
        "include_dashboard": True,
        "dashboard_host": "127.0.0.1",
        "dashboard_port": DASHBOARD_PORT,
        # not Ray's fixed 52365: the session's stack may be running beside it
        "dashboard_agent_listen_port": free_port(),
    }
    cluster = Cluster(initialize_head=True, head_node_args=head)
    for _ in range(2):
        cluster.add_node(num_cpus=1, resources=node_resources(1))
    try:
        yield cluster
    finally:
        cluster.shutdown()


@pytest.fixture(scope="module")
def stack(ray_cluster: Cluster) -> Iterator[LocalStack]:
    local = LocalStack(
        home=Path(tempfile.mkdtemp(prefix="vokaflow-nodes-")),
        port=int(os.environ.get("VOKAFLOW_NODES_PORT", "8795")),
        join_ray=ray_cluster.address,
        settings={
            "VOKAFLOW_ENVIRONMENT": "test",
            "VOKAFLOW_HA_PROXY": "false",
            "VOKAFLOW_VICKY_MODELS": "[]",
            "VOKAFLOW_SHUTDOWN_GRACE_S": "2",
            "VOKAFLOW_RAY_DASHBOARD_URL": f"http://127.0.0.1:{DASHBOARD_PORT}",
        },
    )
    yield from running_stack(local)


def _node_running(cluster: Cluster, worker_pid: int) -> Any:
    """The cluster node whose raylet started this worker process."""
    parents = {p.pid for p in psutil.Process(worker_pid).parents()}
    for node in cluster.worker_nodes:
        raylets = node.all_processes.get("raylet", [])
        if any(info.process.pid in parents for info in raylets):
            return node
    raise AssertionError(f"no worker node owns pid {worker_pid}")


def test_tasks_of_a_removed_node_complete_on_the_other_node(ray_cluster, stack):
    # 10 s: the poll below must see a task running; on loaded cores (this package runs beside
    # the session's stack and the lower tiers) a poll took longer than a 3 s task's run
    body = {"name": "drill", "function_name": "sleep", "args": [10], "retry_count": 0}
    with stack.client() as api:
        task_ids = [
            api.post("/api/high-scale-tasks/submit", json=body).json()["task_id"] for _ in range(2)
        ]
        deadline = time.monotonic() + 120
        while True:
            running = [api.get(f"/api/high-scale-tasks/status/{t}").json() for t in task_ids]
            pids = [
                r["worker_pid"] for r in running if r["status"] == "running" and r["worker_pid"]
            ]
            if pids:
                break
            assert time.monotonic() < deadline, running
            time.sleep(0.1)
        doomed = _node_running(ray_cluster, pids[0])
        ray_cluster.remove_node(doomed, allow_graceful=False)
        tally = wait_all_terminal(stack, task_ids, timeout_s=120)
        assert tally.missing == [] and tally.by_status == {"completed": 2}
        assert tally.ran_again >= 1
        survivors = [api.get(f"/api/high-scale-tasks/status/{t}").json() for t in task_ids]
    rerun = [task for task in survivors if task["system_retries"]]
    assert rerun and all(task["result"]["pid"] != pids[0] for task in rerun)


def test_down_on_a_cluster_it_did_not_start_stops_the_service_and_leaves_no_secret(stack):
    """Runs last: it stops the module's stack."""
    prefix = secrets_key(stack.key_prefix)
    never_started = {"key": prefix + "never-started", "namespace": KV_NAMESPACE}
    ray_driver.call(stack.ray_address, "kv_put", **never_started, value="{}")
    stack.stop()
    left = ray_driver.call(stack.ray_address, "kv_keys", prefix=prefix, namespace=KV_NAMESPACE)
    assert left == []
    with pytest.raises(AssertionError, match="Failed to look up actor"):
        ray_driver.call(stack.ray_address, "ping_actor", **_SCHEDULER, timeout_s=0)
