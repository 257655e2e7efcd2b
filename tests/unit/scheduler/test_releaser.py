"""The releaser: when it moves due retries and delayed tasks to the ready queues (the move
itself is release_due.lua's, proved in tests/redis/test_delayed_tasks.py)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import pytest

from tests.scheduler_fakes import START_WALL, FakeClock, FakeTaskStore, build_rig
from vokaflow.domain import WorkerType
from vokaflow.scheduler.ports import SystemClock
from vokaflow.scheduler.releaser import RELEASE_PERIOD_S, Releaser
from vokaflow.store.errors import StoreUnavailable


@dataclass
class ReleaseRig:
    store: FakeTaskStore = field(default_factory=FakeTaskStore)
    clock: FakeClock = field(default_factory=FakeClock)
    wakes: list[None] = field(default_factory=list)

    @property
    def releaser(self) -> Releaser:
        return Releaser(self.store, lambda: self.wakes.append(None), self.clock)


async def test_what_is_released_wakes_the_pools():
    rig = ReleaseRig()
    rig.store.due_retries = 2
    await rig.releaser.release()
    assert rig.wakes == [None]


async def test_nothing_released_wakes_no_pool():
    rig = ReleaseRig()
    await rig.releaser.release()
    assert rig.wakes == []


async def test_it_passes_the_clock_s_time_in_ms():
    rig = ReleaseRig()
    await rig.releaser.release()
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
    rig = ReleaseRig()
    if due_in_s is not None:
        rig.store.next_due_ms = int((START_WALL + due_in_s) * 1000)
    assert await rig.releaser.release() == pytest.approx(sleep_s, abs=0.002)


async def test_the_loop_waits_out_a_redis_outage_and_goes_on():
    rig = ReleaseRig()
    calls = 0
    release = rig.store.release_due

    async def flaky(now_ms: int):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreUnavailable("redis", "down")
        return await release(now_ms)

    rig.store.release_due = flaky  # type: ignore[method-assign]
    loop = asyncio.get_event_loop().create_task(rig.releaser.run())
    for _ in range(5):
        await asyncio.sleep(0)
    loop.cancel()
    assert calls >= 2 and len(rig.store.release_passes) >= 1


async def test_the_scheduler_runs_it_on_its_own_thread_and_wakes_the_pools_on_the_main_loop():
    rig = build_rig()
    rig.core.releaser.clock = SystemClock()  # real sleeps: the fake's would spin the thread
    rig.core.hints.maybe_ready.clear()
    rig.store.due_retries = 1
    passes_on: set[int] = set()
    hinted_on: list[int] = []
    release, hint = rig.store.release_due, rig.core.hints.hint

    async def noting_the_thread(now_ms: int):
        passes_on.add(threading.get_ident())
        return await release(now_ms)

    def hint_noting_the_thread(pools: str) -> None:
        hinted_on.append(threading.get_ident())
        hint(pools)

    rig.store.release_due = noting_the_thread  # type: ignore[method-assign]
    rig.core.hints.hint = hint_noting_the_thread  # type: ignore[method-assign]
    releasing = rig.core.start_releaser()
    try:
        await asyncio.wait_for(rig.core.hints.wakeup.wait(), timeout=5)
    finally:
        releasing.stop()
    assert not releasing.thread.is_alive()
    assert passes_on and threading.get_ident() not in passes_on
    assert set(hinted_on) == {threading.get_ident()}
    assert rig.core.hints.maybe_ready == set(WorkerType)
