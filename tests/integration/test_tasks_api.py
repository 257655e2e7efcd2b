"""Submit → Ray → Redis → status, through the real HTTP port."""

from __future__ import annotations

from datetime import datetime

from tests.integration.helpers import status, submit, wait_until
from vokaflow.domain import CATEGORIES

SUBMIT_FIELDS = {
    "task_id": str,
    "name": str,
    "status": str,
    "priority": str,
    "partition": int,
    "redis_node": str,
    "estimated_completion": str,
    "queue_position": int,
    "created_at": str,
}
STATUS_FIELDS = {
    "task_id": str,
    "name": str,
    "status": str,
    "priority": str,
    "worker_type": str,
    "category": str,
    "partition": int,
    "redis_node": str,
    "created_at": str,
    "retry_count": int,
    "metadata": dict,
}


def test_a_submitted_task_completes_with_its_real_result(api):
    accepted = submit(api, "statistical_summary", [1, 2, 3, 4, 10], category="analytics")
    done = wait_until(api, accepted["task_id"])
    assert done["status"] == "completed"
    assert done["result"]["mean"] == 4.0
    assert done["result"]["median"] == 3.0
    assert done["result"]["max"] == 10.0
    assert done["error"] is None


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


def test_status_of_a_completed_task_carries_timings_and_metadata(api):
    accepted = submit(api, "health_check", metadata={"user_id": "12345"})
    done = wait_until(api, accepted["task_id"])
    for field, kind in STATUS_FIELDS.items():
        assert isinstance(done[field], kind), field
    assert done["status"] == "completed"
    assert done["metadata"] == {"user_id": "12345"}
    assert done["result"]["status"] == "healthy"
    started = datetime.fromisoformat(done["started_at"])
    finished = datetime.fromisoformat(done["completed_at"])
    assert datetime.fromisoformat(done["created_at"]) <= started <= finished
    assert isinstance(done["execution_time"], float) and done["execution_time"] >= 0
    assert done["retry_count"] == 0


def test_a_function_that_raises_ends_failed_with_the_error_and_traceback(api):
    accepted = submit(api, "raise_error", "disk on fire", retry_count=0)
    done = wait_until(api, accepted["task_id"])
    assert done["status"] == "failed"
    assert done["error"]["type"] == "RuntimeError"
    assert done["error"]["message"] == "disk on fire"
    assert "raise_error" in done["error"]["traceback"]


def test_the_qualified_name_system_health_check_is_accepted(api):
    accepted = submit(api, "system.health_check")
    assert wait_until(api, accepted["task_id"])["status"] == "completed"


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


def test_status_of_a_queued_task_reports_its_queue_position(api):
    blocker = submit(api, "sleep", 2, worker_type="MEMORY_INTENSIVE")
    wait_until(api, blocker["task_id"], {"running"})
    first = submit(api, "noop", worker_type="MEMORY_INTENSIVE", priority="LOW")
    second = submit(api, "noop", worker_type="MEMORY_INTENSIVE", priority="LOW")
    assert second["queue_position"] == first["queue_position"] + 1
    assert status(api, second["task_id"])["queue_position"] == second["queue_position"]
    wait_until(api, second["task_id"])


def test_estimated_completion_uses_the_functions_measured_run_time(api):
    import time

    for function, args in (("sleep", [0.8]), ("sleep", [0.8]), ("noop", []), ("noop", [])):
        wait_until(api, submit(api, function, *args, worker_type="IO_INTENSIVE")["task_id"])
    time.sleep(5.5)  # a gateway replica refreshes measured averages every 5 s

    def estimated_s(function: str, *args) -> float:
        accepted = submit(api, function, *args, worker_type="IO_INTENSIVE")
        created = datetime.fromisoformat(accepted["created_at"])
        estimate = datetime.fromisoformat(accepted["estimated_completion"].rstrip("Z"))
        wait_until(api, accepted["task_id"])
        return (estimate - created).total_seconds()

    assert estimated_s("sleep", 0.8) > estimated_s("noop") + 0.2
