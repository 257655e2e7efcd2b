"""Submit and status answers, the catalog, priorities and the OpenAPI document: what the
gateway answers before any task runs (tests/integration/test_tasks_api.py runs them)."""

from __future__ import annotations

from datetime import datetime

from tests.integration.helpers import submit
from vokaflow.domain import CATEGORIES

SUBMIT_FIELDS = {
    "task_id": str,
    "name": str,
    "status": str,
    "priority": str,
    "partition": int,
    "redis_node": str,
    "estimated_start": str,
    "estimated_completion": str,
    "queue_position": int,
    "created_at": str,
}


def test_submit_answers_every_spec_field_with_its_type(api):
    accepted = submit(api, "noop", priority="HIGH", metadata={"user_id": "12345"})
    for field, kind in SUBMIT_FIELDS.items():
        assert isinstance(accepted[field], kind), field
    assert accepted["status"] == "queued"
    assert accepted["priority"] == "HIGH"
    assert 0 <= accepted["partition"] < 16
    assert accepted["redis_node"] == "node_0"
    assert accepted["queue_position"] >= 0
    assert accepted["estimated_completion"].endswith("Z")
    datetime.fromisoformat(accepted["created_at"])


def test_the_spec_curl_submit_works_with_a_bearer_api_key(stack):
    with stack.client(api_key="") as anonymous:
        reply = anonymous.post(
            "/api/high-scale-tasks/submit",
            headers={"Authorization": f"Bearer {stack.admin_key}"},
            json={
                "name": "example_task",
                "function_name": "health_check",
                "args": [],
                "priority": "HIGH",
                "worker_type": "GENERAL_PURPOSE",
                "category": "system",
            },
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["name"] == "example_task"


def test_status_of_an_unknown_task_is_404(api):
    reply = api.get("/api/high-scale-tasks/status/does-not-exist")
    assert reply.status_code == 404
    assert reply.json()["error"] == "not_found"


def test_priorities_serve_the_eight_levels_and_thresholds(api):
    body = api.get("/api/high-scale-tasks/priorities").json()
    levels = {name: info["level"] for name, info in body["priorities"].items()}
    assert levels == {
        "EMERGENCY": 0,
        "CRITICAL": 1,
        "HIGH": 2,
        "NORMAL": 3,
        "LOW": 4,
        "BATCH": 5,
        "BACKGROUND": 6,
        "MAINTENANCE": 7,
    }
    assert body["priorities"]["EMERGENCY"]["sla_seconds"] == 0.1
    assert body["priorities"]["MAINTENANCE"]["examples"] == ["log_rotation", "cache_cleanup"]
    assert body["default_priority"] == "NORMAL"
    assert body["auto_scaling_thresholds"] == {
        "scale_up_queue_size": 100,
        "scale_down_queue_size": 10,
    }


def test_functions_are_listed_by_category_with_their_descriptions(api):
    body = api.get("/api/high-scale-tasks/functions").json()
    assert body["total_functions"] == sum(len(v) for v in body["functions"].values())
    assert body["categories"][:9] == list(CATEGORIES), "the nine built-in ones, then plugins'"
    names = {f["name"]: f for group in body["functions"].values() for f in group}
    assert names["health_check"]["category"] == "system"
    assert names["bulk_insert"]["parameters"][:3] == ["table", "data", "batch_size"]
    assert names["bulk_insert"]["worker_type"] == "IO_INTENSIVE"
    assert not {"noop", "sleep", "echo", "statistical_summary"} & set(names), "drills unlisted"


def test_openapi_and_docs_are_served(api):
    spec = api.get("/openapi.json").json()
    assert "/api/high-scale-tasks/submit" in spec["paths"]
    assert api.get("/docs").status_code == 200
