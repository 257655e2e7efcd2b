"""The scheduler killed in the middle of a workflow: its successor runs every node once, each
after its parents (waiting children live in Redis, not in the scheduler)."""

from __future__ import annotations

import time
from datetime import datetime

from tests.chaos.test_faults import _kill_scheduler

WIDTH = 20


def test_a_scheduler_killed_mid_workflow_runs_every_node_once_in_order(chaos_stack, chaos_api):
    def node(name: str, *parents: str) -> dict[str, object]:
        return {"name": name, "function_name": "sleep", "args": [0.2], "depends_on": list(parents)}

    tasks = [
        {"name": "root", "function_name": "sleep", "args": [1.0]},
        *(node(f"m{i}", "root") for i in range(WIDTH)),
        node("sink", *(f"m{i}" for i in range(WIDTH))),
    ]
    made = chaos_api.post("/api/workflows", json={"name": "restart", "tasks": tasks})
    assert made.status_code == 201, made.text
    url = f"/api/workflows/{made.json()['workflow_id']}"
    time.sleep(1.5)  # the root done or ending, the middle starting
    _kill_scheduler(chaos_stack)

    deadline = time.monotonic() + 120
    while (body := chaos_api.get(url).json())["status"] == "running":
        assert time.monotonic() < deadline, body["counts"]
        time.sleep(0.5)
    assert body["counts"] == {"completed": WIDTH + 2}

    status = {
        n["name"]: chaos_api.get(f"/api/high-scale-tasks/status/{n['task_id']}").json()
        for n in body["nodes"]
    }
    assert all(t["attempts"] == 1 for t in status.values()), "a node ended more than once"
    started = {name: datetime.fromisoformat(t["started_at"]) for name, t in status.items()}
    ended = {name: datetime.fromisoformat(t["completed_at"]) for name, t in status.items()}
    assert all(started[f"m{i}"] >= ended["root"] for i in range(WIDTH))
    assert all(started["sink"] >= ended[f"m{i}"] for i in range(WIDTH))
