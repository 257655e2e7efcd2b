"""The scheduler killed while delayed tasks wait: its successor releases every one, none
twice and none early (the schedule lives in Redis, not in the scheduler)."""

from __future__ import annotations

from tests.chaos.test_faults import _kill_scheduler
from vokaflow.domain.task import TaskField, TaskSpec
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync
from vokaflow.testing.tally import wait_all_terminal

COUNT = 300
SPREAD_S = 10.0
FIRST_DUE_S = 6.0  # after the kill has landed (it takes a few seconds): none runs during it


def test_a_scheduler_killed_while_tasks_are_scheduled_loses_none_and_runs_none_twice(
    chaos_stack, chaos_api
):
    tasks = [
        {
            "name": f"d{i}",
            "function_name": "noop",
            "delay_seconds": FIRST_DUE_S + SPREAD_S * i / COUNT,
        }
        for i in range(COUNT)
    ]
    reply = chaos_api.post("/api/high-scale-tasks/batch", json={"tasks": tasks})
    assert reply.status_code == 200 and reply.json()["total_errors"] == 0, reply.text
    ids = [t["task_id"] for t in reply.json()["successful_tasks"]]
    _kill_scheduler(chaos_stack)  # before the first is due: none is running

    tally = wait_all_terminal(chaos_stack, ids, timeout_s=120)
    assert tally.missing == [] and tally.unfinished == []
    assert tally.by_status == {"completed": COUNT}

    client = connect_sync(chaos_stack.redis_url, decode_responses=True)
    keys = Keys(chaos_stack.key_prefix, 16)
    pipe = client.pipeline(transaction=False)
    for task_id in ids:
        pipe.hmget(keys.task(task_id), [TaskField.SPEC, TaskField.ATTEMPTS, TaskField.STARTED_AT])
    rows = pipe.execute()
    assert {attempts for _, attempts, _ in rows} == {"1"}, "a task ran twice"
    early = [
        spec for spec, _, started in rows if float(started) < (TaskSpec.decode(spec).run_at or 0.0)
    ]
    assert early == [], f"{len(early)} ran before their run_at"
