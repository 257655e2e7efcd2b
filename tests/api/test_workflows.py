"""Workflows and depends_on at the door: the graph's checks naming the offending field,
tenancy (another tenant's workflow and tasks are not there), the answer's nodes, edges and
overall status, and a cancel. What runs when is the Redis tier's and the full stack's."""

from __future__ import annotations

import pytest

from tests.integration.helpers import user_client

WORKFLOWS = "/api/workflows"
SUBMIT = "/api/high-scale-tasks/submit"


def _node(name: str, *parents: str, **fields: object) -> dict[str, object]:
    return {
        "name": name,
        "function_name": "noop",
        **({"depends_on": list(parents)} if parents else {}),
        **fields,
    }


DIAMOND = [
    _node("extract"),
    _node("left", "extract"),
    _node("right", "extract"),
    _node("join", "left", "right"),
]


def _refused(reply, field: str) -> str:
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "validation_error"
    assert reply.json()["details"]["field"] == field
    return str(reply.json()["details"]["error"])


def test_a_workflow_answers_its_nodes_edges_and_status(api):
    reply = api.post(WORKFLOWS, json={"name": "etl", "tasks": DIAMOND})
    assert reply.status_code == 201, reply.text
    body = reply.json()
    statuses = {n["name"]: n["status"] for n in body["nodes"]}
    assert statuses == {
        "extract": "queued",
        "left": "waiting",
        "right": "waiting",
        "join": "waiting",
    }
    assert sorted(map(tuple, body["edges"])) == [
        ("extract", "left"),
        ("extract", "right"),
        ("left", "join"),
        ("right", "join"),
    ]
    assert body["status"] == "running"
    assert api.get(f"{WORKFLOWS}/{body['workflow_id']}").json()["nodes"] == body["nodes"]
    join = next(n for n in body["nodes"] if n["name"] == "join")
    task = api.get(f"/api/high-scale-tasks/status/{join['task_id']}").json()
    assert task["status"] == "waiting"


@pytest.mark.parametrize(
    ("tasks", "field"),
    [
        ([_node("a"), _node("a")], "tasks[1].name"),
        ([_node("a"), _node("b", "nope")], "tasks[1].depends_on[0]"),
        ([_node("a", "a")], "tasks[0].depends_on[0]"),
        ([_node("a", "b"), _node("b", "a")], None),
        ([_node("a"), _node("b", priority="SOON")], "tasks[1].priority"),
        ([_node("a"), _node("b", "a", run_at="2030-01-01T00:00:00Z")], "tasks[1].run_at"),
        ([_node("a", idempotency_key="k")], "tasks[0].idempotency_key"),
        ([_node("a"), _node("b", "a", "a")], "tasks[1].depends_on[1]"),
    ],
)
def test_a_graph_that_cannot_run_is_refused_on_its_field(api, tasks, field):
    reply = api.post(WORKFLOWS, json={"name": "bad", "tasks": tasks})
    if field is None:
        assert reply.status_code == 400 and "cycle" in reply.json()["details"]["error"]
        assert reply.json()["details"]["field"].startswith("tasks[")
    else:
        _refused(reply, field)


def test_another_tenant_s_workflow_is_not_there(stack, api):
    made = api.post(WORKFLOWS, json={"name": "mine", "tasks": DIAMOND}).json()
    with user_client(stack, "wf-stranger") as stranger:
        url = f"{WORKFLOWS}/{made['workflow_id']}"
        assert stranger.get(url).status_code == 404
        assert stranger.delete(url).status_code == 404
    assert api.get(f"{WORKFLOWS}/{made['workflow_id']}").json()["status"] == "running"


def test_cancelling_a_workflow_cancels_every_node_not_ended(api):
    made = api.post(WORKFLOWS, json={"name": "stop", "tasks": DIAMOND}).json()
    cancelled = api.delete(f"{WORKFLOWS}/{made['workflow_id']}").json()
    assert {n["status"] for n in cancelled["nodes"]} == {"cancelled"}
    assert cancelled["status"] == "cancelled"


def test_depends_on_names_tasks_of_the_principal_only(stack, api):
    mine = api.post(SUBMIT, json=_node("parent")).json()["task_id"]
    with user_client(stack, "deps-stranger") as stranger:
        theirs = stranger.post(SUBMIT, json=_node("theirs")).json()["task_id"]
        _refused(stranger.post(SUBMIT, json={**_node("c"), "depends_on": [mine]}), "depends_on[0]")
        ok = stranger.post(SUBMIT, json={**_node("c"), "depends_on": [theirs]})
        assert ok.status_code == 200 and ok.json()["status"] == "waiting"
    _refused(api.post(SUBMIT, json={**_node("c"), "depends_on": ["no-such-task"]}), "depends_on[0]")
    _refused(api.post(SUBMIT, json={**_node("c"), "depends_on": [mine, mine]}), "depends_on[1]")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"pass_results_as": "inputs"}, "pass_results_as"),
        ({"depends_on": ["x"], "delay_seconds": 5}, "delay_seconds"),
        ({"depends_on": ["x"], "sla_policy": "reject"}, "sla_policy"),
        ({"depends_on": ["x"], "trigger_rule": "any"}, "trigger_rule"),
        ({"depends_on": []}, "depends_on"),
    ],
)
def test_fields_that_need_parents_or_exclude_them_are_refused(api, fields, field):
    _refused(api.post(SUBMIT, json={**_node("c"), **fields}), field)


def test_results_go_only_to_a_kwarg_the_function_takes(api):
    parent = api.post(SUBMIT, json=_node("p")).json()["task_id"]
    body = {**_node("c"), "depends_on": [parent], "pass_results_as": "inputs"}
    reply = api.post(SUBMIT, json=body)
    _refused(reply, "pass_results_as")
    accepted = api.post(SUBMIT, json={**body, "function_name": "accumulate"})
    assert accepted.status_code == 200, accepted.text


def test_a_batch_or_a_schedule_task_may_not_wait_for_others(api):
    parent = api.post(SUBMIT, json=_node("p")).json()["task_id"]
    waiting = {**_node("c"), "depends_on": [parent]}
    batch = api.post("/api/high-scale-tasks/batch", json={"tasks": [_node("a"), waiting]}).json()
    assert batch["errors"][0]["details"]["field"] == "tasks[1].depends_on"
    schedule = api.post("/api/schedules", json={"interval_seconds": 60, "task": waiting})
    _refused(schedule, "task.depends_on")
