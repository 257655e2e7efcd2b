"""The releaser: when it moves due retries and delayed tasks to the ready queues (the move
itself is release_due.lua's, proved in tests/redis/test_delayed_tasks.py)."""

from __future__ import annotations

import asyncio

import pytest

from tests.scheduler_fakes import START_WALL, build_rig
from vokaflow.domain import WorkerType
from vokaflow.scheduler.releaser import RELEASE_PERIOD_S
from vokaflow.store.errors import StoreUnavailable


async def test_what_is_released_wakes_every_pool():
    rig = build_rig()
    rig.core.hints.maybe_ready.clear()
    rig.store.due_retries = 2
    await rig.core.releaser.release()
    assert rig.core.hints.maybe_ready == set(WorkerType)


async def test_nothing_released_wakes_no_pool():
    rig = build_rig()
    rig.core.hints.maybe_ready.clear()
    await rig.core.releaser.release()
    assert rig.core.hints.maybe_ready == set()


async def test_it_passes_the_clock_s_time_in_ms():
    rig = build_rig()
    await rig.core.releaser.release()
    assert rig.store.release_passes == [int(START_WALL * 1000)]


@pytest.mark.parametrize(
    ("due_in_s", "sleep_s"),
    [
        (None, RELEASE_PERIOD_S),  # nothing scheduled: look again at the period
        (3600.0, RELEASE_PERIOD_S),  # a far one: at the period, a sooner one may come
        (0.02, 0.02),  # a near one: exactly at its time
        (-1.0, 0.0),  # more due than one pass moves: at once
    ],
)
async def test_it_sleeps_until_the_next_due_time_at_most_a_period(due_in_s, sleep_s):
    rig = build_rig()
    if due_in_s is not None:
        rig.store.next_due_ms = int((START_WALL + due_in_s) * 1000)
    assert await rig.core.releaser.release() == pytest.approx(sleep_s, abs=0.002)


async def test_the_loop_waits_out_a_redis_outage_and_goes_on():
    rig = build_rig()
    calls = 0
    release = rig.store.release_due

    async def flaky(now_ms: int):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreUnavailable("redis", "down")
        return await release(now_ms)

    rig.store.release_due = flaky  # type: ignore[method-assign]
    loop = asyncio.get_event_loop().create_task(rig.core.releaser.run())
    for _ in range(5):
        await asyncio.sleep(0)
    loop.cancel()
    assert calls >= 2 and len(rig.store.release_passes) >= 1
