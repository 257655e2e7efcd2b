"""Chores on a timer: pool sizing at every tick; at the slow-chore period, starvation
promotion, batch deadlines, dead-letter and task-index upkeep. (Releasing what is due:
releaser.py.)"""

from __future__ import annotations

import logging

from vokaflow.config import Settings
from vokaflow.domain import Priority
from vokaflow.scheduler.hints import ReadyHints
from vokaflow.scheduler.policy import PROMOTION_CEILING, StarvationRule
from vokaflow.scheduler.pool_scaler import PoolScaler
from vokaflow.scheduler.ports import (
    Batches,
    Clock,
    DeadLetters,
    Ending,
    TaskIndexUpkeep,
    TaskStore,
)
from vokaflow.scheduler.retrying import REDIS_RETRY_S
from vokaflow.store.errors import StoreUnavailable

log = logging.getLogger("vokaflow.scheduler")

HOUSEKEEPING_S = 0.1
SLOW_CHORES_S = 1.0


class Housekeeper:
    def __init__(
        self,
        store: TaskStore,
        scaler: PoolScaler,
        batches: Batches,
        dead_letters: DeadLetters,
        task_index: TaskIndexUpkeep,
        ending: Ending,
        hints: ReadyHints,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.store = store
        self.scaler = scaler
        self.batches = batches
        self.dead_letters = dead_letters
        self.task_index = task_index
        self.ending = ending
        self.hints = hints
        self.clock = clock
        self.settings = settings
        self.starvation = StarvationRule(settings.starvation_factor)
        self.last_slow = 0.0
        self.owners_indexed = False  # dead letters listed per owner (once per Redis)
        self.tasks_indexed = False  # records from before the task indexes (a step a pass)

    async def run(self) -> None:
        while True:
            await self.clock.sleep(HOUSEKEEPING_S)
            try:
                await self.tick()
            except StoreUnavailable:
                await self.clock.sleep(REDIS_RETRY_S)
            except Exception:
                log.exception("housekeeping failed")

    async def tick(self) -> None:
        now = self.clock.time()
        await self.scaler.autoscale()
        if now - self.last_slow >= SLOW_CHORES_S:
            self.last_slow = now
            await self.slow_chores(now)
            self.hints.hint("*")

    async def slow_chores(self, now: float) -> None:
        now_ms = int(now * 1000)
        if not self.owners_indexed:
            await self.dead_letters.index_owners()
            self.owners_indexed = True
        waits = [self.starvation.wait_before_promotion_ms(level) for level in range(len(Priority))]
        await self.store.promote_starving(now_ms, waits, PROMOTION_CEILING)
        await self.store.sweep_concurrency_keys()
        await self.ending.sweep_dependencies(now)
        await self.batches.expire_due(now_ms)
        await self.batches.finish_interrupted(now - self.settings.batch_submit_grace_s)
        await self.dead_letters.forget_expired(now_ms)
        if not self.tasks_indexed:
            self.tasks_indexed = await self.task_index.backfill_step()
        await self.task_index.trim(now_ms)
