"""Schedules on a whole stack: fires become tasks that run; a second firer racing the
scheduler's on the same Redis adds no task; two gateways changing a schedule while it fires
make one task per fire; the scheduler killed while a fire is due still makes exactly one
task for each fire it runs."""

from __future__ import annotations

import asyncio
import calendar
import threading
import time
import uuid

import redis.asyncio as aioredis

from tests.chaos.second_gateway import second_gateway
from tests.chaos.test_faults import _kill_scheduler, _until
from vokaflow.config import Settings
from vokaflow.scheduler.ports import SystemClock
from vokaflow.scheduler.schedule_firer import ScheduleFirer, submit_through
from vokaflow.store.keys import Keys
from vokaflow.store.rate_limits import RedisRateLimiter
from vokaflow.store.schedules import ScheduleStore
from vokaflow.store.task_store import TaskStore
from vokaflow.testing.tally import task_ids_named

INTERVAL_S = 5
KILL_INTERVAL_S = 10


def _create(api, name: str, interval_s: int = INTERVAL_S) -> str:
    body = {"task": {"name": name, "function_name": "noop"}, "interval_seconds": interval_s}
    reply = api.post("/api/schedules", json=body)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def _runs(api, schedule_id: str) -> list[dict]:
    return list(api.get(f"/api/schedules/{schedule_id}").json()["runs"])


def _check_one_task_per_fire(api, stack, schedule_id: str, name: str) -> list[dict]:
    api.post(f"/api/schedules/{schedule_id}/pause")
    time.sleep(1.5)  # a fire claimed just before the pause is submitted
    runs = _runs(api, schedule_id)
    fires = [r["fire_time"] for r in runs]
    assert len(set(fires)) == len(fires), f"a fire ran twice: {fires}"
    assert sorted(task_ids_named(stack, name)) == sorted(r["task_id"] for r in runs)
    _until(
        lambda: {r["status"] for r in _runs(api, schedule_id)} == {"completed"},
        60,
        "every fired task to complete",
    )
    return runs


def _second_firer(stack, seconds: float) -> threading.Thread:
    """A firer of its own in this process, on the stack's Redis, for ``seconds``."""

    async def fire_for_a_while() -> None:
        client = aioredis.Redis.from_url(stack.redis_url, decode_responses=True)
        settings = Settings(key_prefix=stack.key_prefix)
        keys = Keys(settings.key_prefix, settings.partitions)
        limiter = RedisRateLimiter(client, keys, settings.limit_table)
        firer = ScheduleFirer(
            ScheduleStore(client, keys),
            submit_through(TaskStore(client, keys), limiter),
            keys.partition,
            SystemClock(),
            settings.model_copy(update={"schedule_tick_s": 0.05}),
        )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await firer.tick()
            await asyncio.sleep(0.05)
        await client.aclose()

    thread = threading.Thread(target=lambda: asyncio.run(fire_for_a_while()))
    thread.start()
    return thread


def test_a_schedule_fires_tasks_that_run_and_a_second_firer_adds_none(chaos_stack, chaos_api):
    name = f"every-{uuid.uuid4().hex[:8]}"
    schedule_id = _create(chaos_api, name)
    racer = _second_firer(chaos_stack, seconds=3 * INTERVAL_S + 2)
    racer.join()
    runs = _check_one_task_per_fire(chaos_api, chaos_stack, schedule_id, name)
    assert len(runs) >= 3


def test_two_gateways_changing_a_schedule_while_it_fires_make_one_task_per_fire(
    chaos_stack, chaos_api
):
    """Created through one gateway; both then change what it sends, and pause and resume
    it, while the scheduler fires it: every fire is one task, with a task one of them set."""
    name = f"gateways-{uuid.uuid4().hex[:8]}"
    with second_gateway(chaos_stack) as other:
        schedule_id = _create(other, name)
        url = f"/api/schedules/{schedule_id}"
        gateways = (chaos_api, other)
        # a fire due while it is paused does not run, and a firer's claim read before a
        # change is refused (it tries again a second later): changes every 0.5 s and one
        # pause and resume in four intervals, so that a loaded run still sees two fires
        deadline = time.monotonic() + 4 * INTERVAL_S + 1
        change = 0
        while time.monotonic() < deadline:
            change += 1
            task = {"name": name, "function_name": "noop", "metadata": {"change": str(change)}}
            reply = gateways[change % 2].patch(url, json={"task": task})
            assert reply.status_code == 200, reply.text
            if change % 20 == 0:
                assert gateways[0].post(f"{url}/pause").status_code == 200
                assert gateways[1].post(f"{url}/resume").status_code == 200
            time.sleep(0.5)
        runs = _check_one_task_per_fire(chaos_api, chaos_stack, schedule_id, name)
    assert len(runs) >= 2, runs
    sent = [
        chaos_api.get(f"/api/high-scale-tasks/status/{r['task_id']}").json()["metadata"]
        for r in runs
    ]
    assert all(1 <= int(m["change"]) <= change for m in sent), sent


def test_a_scheduler_killed_while_a_fire_is_due_fires_it_once(chaos_stack, chaos_api):
    """The kill lands 0.1 s after a fire is due, before or after the firer (ticking once a
    second) claimed it: either way that fire makes exactly one task. The interval outlasts
    the restart, so the fire is still the latest due one when the new scheduler looks."""
    name = f"kill-{uuid.uuid4().hex[:8]}"
    schedule_id = _create(chaos_api, name, interval_s=KILL_INTERVAL_S)
    _until(lambda: len(_runs(chaos_api, schedule_id)) >= 1, 30, "the first fire")
    next_fire = chaos_api.get(f"/api/schedules/{schedule_id}").json()["next_fire_time"]
    due_at = calendar.timegm(time.strptime(next_fire[:19], "%Y-%m-%dT%H:%M:%S"))
    killed_at = _kill_scheduler(chaos_stack, at=due_at + 0.1)  # Ray restarts it
    assert due_at <= killed_at < due_at + 1, "the kill did not land while the fire was due"
    _until(
        lambda: any(r["fire_time"] == next_fire for r in _runs(chaos_api, schedule_id)),
        60,
        "the fire that was due at the kill",
    )
    runs = _check_one_task_per_fire(chaos_api, chaos_stack, schedule_id, name)
    assert [r["fire_time"] for r in runs].count(next_fire) == 1
