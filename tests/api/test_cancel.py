"""Cancel of a task that does not exist (tests/integration/test_cancel.py cancels real ones)."""

from __future__ import annotations


def test_cancelling_an_unknown_task_is_404(api):
    reply = api.delete("/api/high-scale-tasks/cancel/no-such-task")
    assert reply.status_code == 404
    assert reply.json()["error"] == "not_found"
