"""Workflows and dependencies end to end on the real stack: order, results passed by name,
upstream_failed and all_done, a 1,000-task fan-out and fan-in, and a cancel."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from tests.integration.helpers import submit, wait_until

WORKFLOWS = "/api/workflows"


def _node(name: str, function_name: str, *parents: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "function_name": function_name,
        **({"depends_on": list(parents)} if parents else {}),
        **fields,
    }


def _run(api: httpx.Client, tasks: list[dict[str, Any]], timeout_s: float = 60) -> dict[str, Any]:
    made = api.post(WORKFLOWS, json={"name": "t", "tasks": tasks})
    assert made.status_code == 201, made.text
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = api.get(f"{WORKFLOWS}/{made.json()['workflow_id']}").json()
        if body["status"] != "running":
            return body
        assert time.monotonic() < deadline, f"still running: {body['counts']}"
        time.sleep(0.2)


def _task(api: httpx.Client, workflow: dict[str, Any], name: str) -> dict[str, Any]:
    node = next(n for n in workflow["nodes"] if n["name"] == name)
    reply: dict[str, Any] = api.get(f"/api/high-scale-tasks/status/{node['task_id']}").json()
    return reply


def _at(task: dict[str, Any], field: str) -> datetime:
    return datetime.fromisoformat(task[field])


def test_a_diamond_runs_in_order_and_passes_results_by_name(api):
    inputs = {"pass_results_as": "inputs"}
    done = _run(
        api,
        [
            _node("extract", "accumulate", kwargs={"value": 1}),
            _node("left", "accumulate", "extract", kwargs={"value": 10}, **inputs),
            _node("right", "accumulate", "extract", kwargs={"value": 100}, **inputs),
            _node("join", "accumulate", "left", "right", **inputs),
        ],
    )
    assert done["status"] == "completed", done
    tasks = {name: _task(api, done, name) for name in ("extract", "left", "right", "join")}
    assert tasks["join"]["result"] == {"value": 112.0, "parents": ["left", "right"]}
    for child, parent in (("left", "extract"), ("right", "extract"), ("join", "left")):
        assert _at(tasks[child], "started_at") >= _at(tasks[parent], "completed_at")


def test_a_failed_parent_ends_its_dependents_upstream_failed_but_all_done_runs(api):
    done = _run(
        api,
        [
            _node("fails", "raise_error", retry_count=0),
            _node("child", "noop", "fails"),
            _node("grandchild", "noop", "child"),
            _node("cleanup", "noop", "fails", trigger_rule="all_done"),
        ],
    )
    statuses = {n["name"]: n["status"] for n in done["nodes"]}
    assert statuses == {
        "fails": "failed",
        "child": "upstream_failed",
        "grandchild": "upstream_failed",
        "cleanup": "completed",
    }
    assert done["status"] == "failed"
    assert _task(api, done, "child")["error"]["type"] == "UpstreamFailed"


def test_a_fan_out_and_fan_in_of_a_thousand_tasks(api):
    middle = [
        _node(f"m{i}", "accumulate", "root", kwargs={"value": 1}, pass_results_as="inputs")
        for i in range(1000)
    ]
    sink = _node("sink", "accumulate", *(f"m{i}" for i in range(1000)), pass_results_as="inputs")
    done = _run(api, [_node("root", "noop"), *middle, sink], timeout_s=180)
    assert done["counts"] == {"completed": 1002}, done["counts"]
    assert _task(api, done, "sink")["result"]["value"] == 1000.0


def test_a_plain_submit_may_wait_for_earlier_tasks(api):
    first = submit(api, "sleep", 0.5)
    second = submit(api, "noop", depends_on=[first["task_id"]])
    assert second["status"] == "waiting"
    finished = wait_until(api, second["task_id"])
    assert finished["status"] == "completed"
    assert _at(finished, "started_at") >= _at(wait_until(api, first["task_id"]), "completed_at")


def test_cancelling_a_workflow_stops_its_running_node_and_cancels_the_rest(api):
    made = api.post(
        WORKFLOWS,
        json={
            "name": "c",
            "tasks": [_node("slow", "sleep", args=[30]), _node("next", "noop", "slow")],
        },
    ).json()
    slow = next(n for n in made["nodes"] if n["name"] == "slow")
    wait_until(api, slow["task_id"], {"running"})

    cancelled = api.delete(f"{WORKFLOWS}/{made['workflow_id']}").json()

    assert {n["status"] for n in cancelled["nodes"]} == {"cancelled"}
    assert cancelled["status"] == "cancelled"


def test_a_node_with_a_concurrency_key_is_waited_for_under_its_own_id(api):
    capped = {"concurrency_key": "wf-serial", "max_concurrency": 1}
    done = _run(
        api,
        [
            _node("first", "accumulate", kwargs={"value": 5}, **capped),
            _node("second", "accumulate", "first", pass_results_as="inputs", **capped),
        ],
    )
    assert done["status"] == "completed", done
    assert _task(api, done, "second")["result"]["value"] == 5.0
