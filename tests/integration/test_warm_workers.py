"""A Ray worker process of the stack's head has the task executor imported before its first
task, so that the first chunk a fresh worker runs (an EMERGENCY one, say) does not wait for
the imports (vokaflow.workers.warm, preloaded by the raylet `vokaflow up` starts)."""

from __future__ import annotations

import uuid

from tests import ray_driver


def test_a_fresh_worker_process_starts_its_first_task_with_the_executor_imported(stack):
    loaded = ray_driver.call(stack.ray_address, "fresh_worker_modules", tag=uuid.uuid4().hex)
    assert "vokaflow.workers.executor" in loaded
    assert "vokaflow.functions.registry" in loaded
