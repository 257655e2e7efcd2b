"""The schedule firer: on each tick, claims the fire of every due schedule, then submits the
claimed fires, each as one task through the normal submit (a token of its category, then
the write). See docs/decisions.md, "Schedules", for why each fire makes exactly one task.

1. Claim (one script per schedule): only the firer whose read is still current moves the
   schedule to its next fire and queues the fire. Two firers claim a fire once. Behind
   Sentinel, no fire is submitted until every replica has its claim (WAIT).
2. Submit: the fire's task id is derived from (owner, schedule, fire time), and the submit
   writes the task only if no record has that id. A fire submitted twice (a firer that
   died after the write and before step 3, a claim replayed after a failover) is one task.
3. Done: the fire leaves the queue. A fire the rate limit refuses stays queued and is
   tried again after the limit's retry-after: late, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from vokaflow.config import Settings
from vokaflow.domain.schedule import Schedule, fire_task_id, plan_fire
from vokaflow.domain.task import TaskSpec, concurrency_name, id_in_partition
from vokaflow.scheduler.ports import Clock, Metrics, Schedules
from vokaflow.store.rate_limits import RateLimiter
from vokaflow.store.schedules import Fire
from vokaflow.store.task_store import TaskStore

log = logging.getLogger("vokaflow.scheduler")

PER_TICK = 100  # due schedules, and fires, read per tick

# Submits a task; returns the seconds to wait before trying again when its category's
# rate limit refused it, else None (written, or written before).
Submit = Callable[[TaskSpec], Awaitable[float | None]]


class ScheduleFirer:
    def __init__(
        self,
        schedules: Schedules,
        submit: Submit,
        partition_of: Callable[[str], int],
        clock: Clock,
        settings: Settings,
        metrics: Metrics | None = None,
    ) -> None:
        self.schedules = schedules
        self.metrics = metrics
        self.submit = submit
        self.partition_of = partition_of
        self.clock = clock
        self.tick_s = settings.schedule_tick_s
        self.grace_s = settings.schedule_misfire_grace_s
        # Set by a drain: `down` stops the service, and a fire claimed now would only wait
        # for the next start. Claimed fires stay queued; the next firer submits them.
        self.stopped = False

    async def run(self) -> None:
        while not self.stopped:
            try:
                await self.tick()
            except Exception:
                log.warning("firing schedules failed; trying again", exc_info=True)
            await self.clock.sleep(self.tick_s)

    async def tick(self) -> int:
        """Claim what is due and submit what was claimed; returns the tasks submitted."""
        now = self.clock.time()
        for schedule in await self.schedules.due(now, PER_TICK):
            await self.claim(schedule, now)
        fires = await self.schedules.fires_due(now, PER_TICK)
        if fires:
            # A claim that a failover could still lose must not have its task run: the
            # fire might not be claimed again (docs/decisions.md, "Redis failover").
            await self.schedules.replicated()
        submitted = 0
        for fire in fires:
            submitted += await self.fire(fire, now)
        return submitted

    async def claim(self, schedule: Schedule, now: float) -> bool:
        if schedule.next_fire is None or schedule.next_fire > now:  # changed since the read
            return False
        plan = plan_fire(schedule, now, self.grace_s)
        task_id = "" if plan.fire_at is None else self._task_id(schedule, plan.fire_at)
        claimed = await self.schedules.claim(schedule, plan.next_fire, plan.fire_at, task_id, now)
        if claimed and plan.skipped:
            self._count("skipped", plan.skipped)
            log.info(
                "schedule %s: %d missed fires skipped (%s)",
                schedule.schedule_id,
                plan.skipped,
                schedule.missed.value,
            )
        return claimed

    async def fire(self, fire: Fire, now: float) -> int:
        """Submit one claimed fire; 1 when it is done, 0 when it waits for a rate limit or
        its schedule is gone."""
        schedule = await self.schedules.get(fire.schedule_id)
        if schedule is None:  # deleted after the claim: nothing to run
            await self.schedules.submitted(fire)
            return 0
        task_id = self._task_id(schedule, fire.fire_at)
        task = schedule.task(fire.fire_at, task_id, self.partition_of(task_id), now)
        retry_after_s = await self.submit(task)
        if retry_after_s is not None:
            await self.schedules.put_off(fire, now + retry_after_s)
            self._count("put_off")
            return 0
        await self.schedules.submitted(fire)
        self._count("submitted")
        return 1

    def _task_id(self, schedule: Schedule, fire_at: int) -> str:
        """A fire's task id; with a concurrency key, in the key's partition, as the API's."""
        task_id = fire_task_id(schedule.owner, schedule.schedule_id, fire_at)
        key = schedule.template.concurrency_key
        if not key:
            return task_id
        home = self.partition_of(concurrency_name(schedule.owner, key))
        return id_in_partition(task_id, home, self.partition_of)

    def _count(self, outcome: str, n: int = 1) -> None:
        if self.metrics is None:
            return
        try:
            self.metrics.count_fires(outcome, n)
        except Exception:  # a metrics agent that is gone must not stop the fires
            log.debug("counting fires failed", exc_info=True)


def submit_through(tasks: TaskStore, limiter: RateLimiter) -> Submit:
    """A fire's submit as the API's: a token of the task's category, then the write."""

    async def submit(task: TaskSpec) -> float | None:
        decision, _ = await tasks.submit_one(task, limiter)
        return float(decision.retry_after_s) if decision and decision.refused else None

    return submit
