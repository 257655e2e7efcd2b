"""Moves what is due from the partitions' schedules to the ready queues: retries after their
backoff and delayed tasks at their run_at. The store's script does the move atomically per
partition; this part only decides when to run it: at the next due time it reports, and at
least every RELEASE_PERIOD_S, so a task submitted due sooner than anything scheduled waits at
most that long past its time.

It runs in a process of its own (release_process.py), so that nothing the scheduler's
process is busy with can hold a pass back; it wakes the dispatcher over pub/sub."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from vokaflow.scheduler.ports import Clock, TaskStore
from vokaflow.scheduler.retrying import REDIS_RETRY_S
from vokaflow.store.errors import StoreUnavailable

log = logging.getLogger("vokaflow.scheduler")

RELEASE_PERIOD_S = 0.05
# A pass this late, or this slow, is logged with which it was: a release due at a time
# should happen within 100 ms of it, and the two have different cures (a busy CPU, a busy
# Redis).
SLOW_PASS_S = 0.05


class Releaser:
    def __init__(self, store: TaskStore, wake: Callable[[], Awaitable[None]], clock: Clock) -> None:
        """``wake``: called after a pass that released something (every pool may now have
        ready tasks)."""
        self.store = store
        self.wake = wake
        self.clock = clock

    async def run(self) -> None:
        planned = self.clock.time()
        while True:
            woke = self.clock.time()
            try:
                wait_s = await self.release()
            except StoreUnavailable:
                wait_s = REDIS_RETRY_S
            except Exception:
                log.exception("releasing due tasks failed")
                wait_s = RELEASE_PERIOD_S
            self._report_slow_pass(woke - planned, self.clock.time() - woke)
            planned = self.clock.time() + wait_s
            await self.clock.sleep(wait_s)

    @staticmethod
    def _report_slow_pass(overslept_s: float, took_s: float) -> None:
        if overslept_s > SLOW_PASS_S or took_s > SLOW_PASS_S:
            log.warning(
                "slow release pass: woke %.0f ms after its time, its pass took %.0f ms",
                overslept_s * 1000,
                took_s * 1000,
            )

    async def release(self) -> float:
        """One pass; returns how long to sleep before the next."""
        released = await self.store.release_due(int(self.clock.time() * 1000))
        if released.count:
            await self.wake()
        if released.next_due_ms is None:
            return RELEASE_PERIOD_S
        until_due_s = released.next_due_ms / 1000 - self.clock.time()
        return min(RELEASE_PERIOD_S, max(0.0, until_due_s))
