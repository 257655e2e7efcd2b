"""A pool that is full and keeps a backlog past the scale-up threshold asks Ray's
autoscaler for nodes (ray.autoscaler.sdk.request_resources), and lets the ask go once its
queue has drained. The local cluster runs no autoscaler, so the test reads the ask where
Ray keeps it for one: the GCS's internal key-value store."""

from __future__ import annotations

import json
import time
from typing import Any

from tests import ray_driver
from tests.integration.helpers import submit_batch, wait_for_idle_pool

ASK_KEY = "autoscaler_resource_request"  # ray.ray_constants.AUTOSCALER_RESOURCE_REQUEST_CHANNEL
BACKLOG = 130  # past the default scale-up threshold (100 queued)


def _cpu_slots_asked(ray_address: str) -> int:
    raw = ray_driver.call(ray_address, "kv_value", key=ASK_KEY, namespace=None)
    bundles: list[dict[str, Any]] = json.loads(raw) if raw else []
    return sum(1 for bundle in bundles if bundle.get("vokaflow_cpu"))


def _eventually(check: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, "the scheduler's ask did not change in time"
        time.sleep(0.2)
    return value


def test_a_full_pool_with_a_backlog_asks_for_nodes_and_lets_the_ask_go_once_drained(api, stack):
    sleeper = {"name": "wait", "function_name": "sleep", "kwargs": {"seconds": 5}}
    batch = submit_batch(api, [{**sleeper, "worker_type": "CPU_INTENSIVE"}] * BACKLOG)
    try:
        asked = _eventually(lambda: _cpu_slots_asked(stack.ray_address))
        capacity = api.get("/api/high-scale-tasks/metrics").json()["worker_pools"]
        assert asked == 2 * capacity["CPU_INTENSIVE"]["max_workers"]
    finally:
        cancels = [
            api.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}")
            for task in batch["successful_tasks"]
        ]
    refused = [reply.text for reply in cancels if reply.status_code not in (200, 409)]
    assert not refused  # 409: that task had ended
    _eventually(lambda: _cpu_slots_asked(stack.ray_address) == 0)
    # no cancelled task may go on holding a slot: the next test's tasks need them
    wait_for_idle_pool(api, "CPU_INTENSIVE", slots=1, timeout_s=30)
