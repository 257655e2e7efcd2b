"""Submitting drill tasks for the chaos tests."""

from __future__ import annotations

import httpx


def submit_sleeps(
    api: httpx.Client,
    count: int,
    seconds: float,
    per_batch: int = 1000,
    worker_type: str = "IO_INTENSIVE",
) -> list[str]:
    task = {
        "name": "drill",
        "function_name": "sleep",
        "args": [seconds],
        "worker_type": worker_type,
        "retry_count": 0,
    }
    ids: list[str] = []
    for start in range(0, count, per_batch):
        size = min(per_batch, count - start)
        reply = api.post("/api/high-scale-tasks/batch", json={"tasks": [task] * size})
        assert reply.status_code == 200, reply.text
        assert reply.json()["total_errors"] == 0, reply.json()["errors"][:3]
        ids += [t["task_id"] for t in reply.json()["successful_tasks"]]
    return ids
