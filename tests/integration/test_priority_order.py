"""Ready tasks that compete for a pool start strictly in priority order."""

from __future__ import annotations

from datetime import datetime

from tests.integration.helpers import submit, wait_until

LEVELS = ["EMERGENCY", "CRITICAL", "HIGH", "NORMAL", "LOW", "BATCH", "BACKGROUND", "MAINTENANCE"]


def test_tasks_of_all_eight_priorities_start_in_priority_order_once_workers_free_up(api):
    # The test stack gives MEMORY_INTENSIVE one slot: hold it, queue all eight levels in
    # reverse order, then let them run one at a time.
    blocker = submit(api, "sleep", 2, worker_type="MEMORY_INTENSIVE")
    wait_until(api, blocker["task_id"], {"running"})
    queued = {
        level: submit(api, "sleep", 0.05, worker_type="MEMORY_INTENSIVE", priority=level)
        for level in reversed(LEVELS)
    }
    assert all(
        wait_until(api, queued[level]["task_id"], {"queued", "running", "completed"})["status"]
        == "queued"
        for level in LEVELS
    ), "the pool was held busy, so the eight tasks waited"
    finished = {level: wait_until(api, t["task_id"]) for level, t in queued.items()}
    assert all(f["status"] == "completed" for f in finished.values())
    started_order = sorted(
        LEVELS, key=lambda level: datetime.fromisoformat(finished[level]["started_at"])
    )
    assert started_order == LEVELS
    blocker_end = datetime.fromisoformat(wait_until(api, blocker["task_id"])["completed_at"])
    assert all(datetime.fromisoformat(f["started_at"]) >= blocker_end for f in finished.values())
