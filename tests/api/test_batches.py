"""A batch's admission: invalid tasks listed, the rest admitted; an unknown batch
(tests/integration/test_batches.py runs batches)."""

from __future__ import annotations

from tests.integration.helpers import submit_batch


def _sleep(i: int, seconds: float) -> dict:
    return {"name": f"s{i}", "function_name": "sleep", "args": [seconds]}


def test_invalid_tasks_in_a_batch_are_listed_while_the_rest_go_in(api):
    batch = submit_batch(
        api, [_sleep(0, 0), {"name": "bad", "function_name": "noop", "priority": "URGENT"}]
    )
    assert batch["total_submitted"] == 1 and batch["total_errors"] == 1
    assert batch["errors"][0]["details"]["field"] == "tasks[1].priority"


def test_an_unknown_batch_is_404(api):
    assert api.get("/api/high-scale-tasks/batch/batch_nope").status_code == 404
