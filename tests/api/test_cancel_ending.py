"""DELETE /cancel ends the task through the one owner of a task's end: what the other ends
leave, a cancel leaves too, read back through the API (and the event stream the webhook
dispatcher reads)."""

from __future__ import annotations

from collections import Counter

from tests.integration.helpers import status, submit, submit_batch, user_client
from vokaflow.store.errors import StoreUnavailable
from vokaflow.testing.recording_metrics import RecordingMetrics


def _events_about(stack, task_id: str) -> list[str]:
    services = stack.services
    entries = stack.portal.call(services.redis.xrange, services.keys.event_stream)
    return [fields["event"] for _, fields in entries if fields["id"] == task_id]


def test_a_cancel_is_logged_counted_announced_and_counted_in_its_batch(stack, monkeypatch):
    metrics = RecordingMetrics()
    monkeypatch.setattr(stack.services.ending, "metrics", metrics)
    keys = stack.services.keys
    stack.portal.call(stack.services.redis.sadd, keys.webhook_owners, "kim")
    with user_client(stack, "kim") as kim:
        tasks = [{"name": n, "function_name": "sleep", "args": [5]} for n in ("a", "b")]
        batch = submit_batch(kim, tasks)
        task_id = batch["successful_tasks"][0]["task_id"]
        queued = status(kim, task_id)
        stats_url = f"/api/metrics/category/{queued['category']}"
        before = kim.get(stats_url).json()["tasks"]["cancelled"]

        reply = kim.delete(f"/api/high-scale-tasks/cancel/{task_id}")

        assert reply.status_code == 200
        assert reply.json()["status"] == "cancelled"
        task_log = kim.get(f"/api/logs/task/{task_id}").json()["entries"]
        assert [e["event"] for e in task_log if e["event"] == "task.cancelled"] == [
            "task.cancelled"
        ]
        service_log = kim.get("/api/logs", params={"level": "WARNING"}).json()["entries"]
        mine = [e for e in service_log if e["task_id"] == task_id]
        assert [(e["event"], e["level"]) for e in mine] == [("task.cancelled", "WARNING")]
        assert kim.get(stats_url).json()["tasks"]["cancelled"] - before == 1
        assert _events_about(stack, task_id) == ["task.cancelled"]
        counts = kim.get(f"/api/high-scale-tasks/batch/{batch['batch_id']}").json()
        assert (counts["cancelled"], counts["unfinished"]) == (1, 1)
        cancelled = (queued["category"], queued["priority"], "cancelled")
        assert metrics.finished == Counter({cancelled: 1})

        assert kim.delete(f"/api/high-scale-tasks/cancel/{task_id}").status_code == 409
        assert kim.get(stats_url).json()["tasks"]["cancelled"] - before == 1
        assert metrics.finished == Counter({cancelled: 1})


def test_a_cancel_whose_side_effects_cannot_be_written_still_answers_cancelled(
    stack, api, monkeypatch
):
    async def unreachable(*_args, **_kwargs):
        raise StoreUnavailable("redis", "Redis is unreachable")

    monkeypatch.setattr(stack.services.ending.logs, "write", unreachable)
    task = submit(api, "sleep", 5)

    reply = api.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}")

    assert reply.status_code == 200 and reply.json()["status"] == "cancelled"
    assert status(api, task["task_id"])["status"] == "cancelled"


def test_another_tenant_neither_cancels_nor_reads_the_cancel_of_a_task_it_does_not_own(stack):
    with user_client(stack, "kim") as kim, user_client(stack, "lee") as lee:
        task_id = submit(kim, "sleep", 5)["task_id"]

        assert lee.delete(f"/api/high-scale-tasks/cancel/{task_id}").status_code == 404
        assert status(kim, task_id)["status"] == "queued"
        assert kim.delete(f"/api/high-scale-tasks/cancel/{task_id}").status_code == 200

        assert lee.get(f"/api/logs/task/{task_id}").status_code == 404
        service_log = lee.get("/api/logs", params={"level": "WARNING"}).json()["entries"]
        assert [e for e in service_log if e["task_id"] == task_id] == []
