"""The releaser: when it moves due retries and delayed tasks to the ready queues (the move
itself is release_due.lua's, proved in tests/redis/test_delayed_tasks.py)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

import pytest

from tests.scheduler_fakes import START_WALL, FakeClock, FakeTaskStore
from vokaflow.scheduler import release_process
from vokaflow.scheduler.release_process import release_while_parent_lives
from vokaflow.scheduler.releaser import RELEASE_PERIOD_S, Releaser
from vokaflow.store.errors import StoreUnavailable


@dataclass
class ReleaseRig:
    store: FakeTaskStore = field(default_factory=FakeTaskStore)
    clock: FakeClock = field(default_factory=FakeClock)
    wakes: list[None] = field(default_factory=list)

    @property
    def releaser(self) -> Releaser:
        return Releaser(self.store, self.wake, self.clock)

    async def wake(self) -> None:
        self.wakes.append(None)


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


async def test_its_process_stops_releasing_once_the_scheduler_that_started_it_is_gone(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(release_process, "PARENT_CHECK_S", 0.01)
    rig = ReleaseRig()
    parent = os.getppid()
    gone = asyncio.get_running_loop().call_later(
        0.05, monkeypatch.setattr, os, "getppid", lambda: 1
    )
    await asyncio.wait_for(release_while_parent_lives(rig.releaser, parent), timeout=5)
    gone.cancel()
    passes = len(rig.store.release_passes)
    assert passes >= 1
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(rig.store.release_passes) == passes  # the releaser was cancelled with it


@pytest.mark.parametrize(
    ("late_s", "redis_s", "logged"),
    [(0.0, 0.0, False), (0.08, 0.0, True), (0.0, 0.08, True)],
)
async def test_a_pass_that_starts_late_or_waits_on_redis_is_logged_with_which(
    late_s, redis_s, logged, caplog: pytest.LogCaptureFixture
):
    rig = ReleaseRig()
    release = rig.store.release_due
    passes = 0

    async def timed(now_ms: int):
        nonlocal passes
        passes += 1
        if passes == 2:
            rig.clock.advance(redis_s)
        return await release(now_ms)

    async def sleep(seconds: float) -> None:
        rig.clock.advance(seconds + (late_s if passes == 1 else 0.0))
        await asyncio.sleep(0)

    rig.store.release_due = timed  # type: ignore[method-assign]
    rig.clock.sleep = sleep  # type: ignore[method-assign]
    loop = asyncio.get_event_loop().create_task(rig.releaser.run())
    while passes < 3:
        await asyncio.sleep(0)
    loop.cancel()
    slow = [r.getMessage() for r in caplog.records if "slow release pass" in r.getMessage()]
    if not logged:
        assert slow == []
    else:
        assert len(slow) == 1
        late_ms, took_ms = (round(x * 1000) for x in (late_s, redis_s))
        assert slow[0] == (
            f"slow release pass: woke {late_ms} ms after its time, its pass took {took_ms} ms"
        )


def test_its_process_asks_for_the_configured_cpu_priority(monkeypatch: pytest.MonkeyPatch):
    asked: list[tuple[int, int, int]] = []
    monkeypatch.setattr(os, "setpriority", lambda *args: asked.append(args))
    release_process.run_ahead_of_the_pools(-10)
    assert asked == [(os.PRIO_PROCESS, 0, -10)]


def test_without_the_right_to_it_the_process_keeps_its_priority_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    def refused(*_: int) -> None:
        raise PermissionError

    monkeypatch.setattr(os, "setpriority", refused)
    caplog.set_level("INFO", logger="vokaflow.scheduler")
    release_process.run_ahead_of_the_pools(-10)
    assert "niceness -10 not allowed" in caplog.text
