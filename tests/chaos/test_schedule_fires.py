"""Schedules on a whole stack: fires become tasks that run; a second firer racing the
scheduler's on the same Redis adds no task; the scheduler killed while a fire is due still
makes exactly one task for each fire it runs."""

from __future__ import annotations

import asyncio
import calendar
import json
import threading
import time
import uuid

import redis
import redis.asyncio as aioredis

from tests.chaos.test_faults import _kill_scheduler, _until
from vokaflow.config import Settings
from vokaflow.scheduler.ports import SystemClock
from vokaflow.scheduler.schedule_firer import ScheduleFirer, submit_through
from vokaflow.store.keys import Keys
from vokaflow.store.rate_limits import RedisRateLimiter
from vokaflow.store.schedules import ScheduleStore
from vokaflow.store.task_store import TaskStore

INTERVAL_S = 5


def _create(api, name: str) -> str:
    body = {"task": {"name": name, "function_name": "noop"}, "interval_seconds": INTERVAL_S}
    reply = api.post("/api/schedules", json=body)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def _runs(api, schedule_id: str) -> list[dict]:
    return list(api.get(f"/api/schedules/{schedule_id}").json()["runs"])


def _tasks_named(stack, name: str) -> list[str]:
    """The ids of every task record with this name, read from Redis itself."""
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    found = []
    for key in client.scan_iter(match=f"{stack.key_prefix}:*:task:*", count=1000):
        spec = client.hget(key, "spec")
        if spec and json.loads(spec).get("name") == name:
            found.append(key.rsplit(":", 1)[1])
    client.close()
    return found


def _check_one_task_per_fire(api, stack, schedule_id: str, name: str) -> list[dict]:
    api.post(f"/api/schedules/{schedule_id}/pause")
    time.sleep(1.5)  # a fire claimed just before the pause is submitted
    runs = _runs(api, schedule_id)
    fires = [r["fire_time"] for r in runs]
    assert len(set(fires)) == len(fires), f"a fire ran twice: {fires}"
    assert sorted(_tasks_named(stack, name)) == sorted(r["task_id"] for r in runs)
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


def test_a_scheduler_killed_while_a_fire_is_due_fires_it_once(chaos_stack, chaos_api):
    name = f"kill-{uuid.uuid4().hex[:8]}"
    schedule_id = _create(chaos_api, name)
    _until(lambda: len(_runs(chaos_api, schedule_id)) >= 1, 30, "the first fire")
    next_fire = chaos_api.get(f"/api/schedules/{schedule_id}").json()["next_fire_time"]
    due_at = calendar.timegm(time.strptime(next_fire[:19], "%Y-%m-%dT%H:%M:%S"))
    time.sleep(max(0.0, due_at - time.time() - 0.5))
    killed_at = time.time()
    _kill_scheduler(chaos_stack)  # Ray restarts it: a few seconds without a firer
    _until(
        lambda: any(r["fire_time"] >= next_fire for r in _runs(chaos_api, schedule_id)),
        60,
        "a fire after the restart",
    )
    time.sleep(INTERVAL_S)
    runs = _check_one_task_per_fire(chaos_api, chaos_stack, schedule_id, name)
    after_kill = [r for r in runs if r["fire_time"] >= next_fire]
    assert after_kill, f"no fire ran after the kill at {killed_at}"
