from __future__ import annotations

import time
from typing import Any

import httpx

TERMINAL = {"completed", "failed", "cancelled", "timeout"}


def submit(api: httpx.Client, function_name: str, *args: Any, **fields: Any) -> dict[str, Any]:
    body = {
        "name": fields.pop("name", function_name),
        "function_name": function_name,
        "args": list(args),
        **fields,
    }
    reply = api.post("/api/high-scale-tasks/submit", json=body)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def status(api: httpx.Client, task_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/high-scale-tasks/status/{task_id}")
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def wait_until(
    api: httpx.Client, task_id: str, states: set[str] = TERMINAL, timeout_s: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        current = status(api, task_id)
        if current["status"] in states:
            return current
        assert time.monotonic() < deadline, (
            f"task stayed {current['status']}: {current}; "
            f"its pool: {_pool_state(api, current['worker_type'])}"
        )
        time.sleep(0.1)


def _pool_state(api: httpx.Client, worker_type: str) -> object:
    """What a stuck task's pool shows: busy slots, or a queue the scheduler does not take."""
    reply = api.get("/api/metrics/workers")
    if reply.status_code != 200:
        return f"not readable with this key ({reply.status_code})"
    return reply.json()["worker_pools"].get(worker_type)


def wait_for_idle_pool(
    api: httpx.Client, worker_type: str, slots: int, timeout_s: float = 60.0
) -> None:
    """Until no task runs in the pool and it has at least ``slots`` slots: a test that shows
    tasks running side by side needs the slots free (an earlier test's task, a sleep whose
    batch timed out, may still hold one)."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = api.get("/api/metrics/workers")
        assert reply.status_code == 200, reply.text
        pool = reply.json()["worker_pools"][worker_type]
        if pool["active_workers"] == 0 and pool["max_workers"] >= slots:
            return
        assert time.monotonic() < deadline, f"the {worker_type} pool stayed busy: {pool}"
        time.sleep(0.2)


def submit_batch(api: httpx.Client, tasks: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    reply = api.post("/api/high-scale-tasks/batch", json={"tasks": tasks, **fields})
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def wait_batch(api: httpx.Client, batch_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        reply = api.get(f"/api/high-scale-tasks/batch/{batch_id}")
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        if body["status"] != "running":
            return body
        assert time.monotonic() < deadline, f"batch still running: {body}"
        time.sleep(0.1)


def pid_gone(pid: int, timeout_s: float = 10.0) -> bool:
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:  # also when it exits between a check and the next
            return True
        time.sleep(0.1)
    return False


def user_client(stack: Any, name: str) -> httpx.Client:
    """A client with a new user key named ``name`` (not an admin)."""
    created = stack.cli("keys", "create", "--name", name)
    client: httpx.Client = stack.client(api_key=created.stdout.strip().splitlines()[-1])
    return client


def wait_out_the_auth_failure_window(seconds: int = 5) -> None:
    """The test stack counts failures in fixed windows of 5 s, shared by every client
    behind Serve's HAProxy: a test that trips the limit waits for the next window."""
    time.sleep(seconds - time.time() % seconds + 0.1)
