"""The scheduler's heartbeat with its pool report, and its Prometheus figures."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

from vokaflow.config import Settings
from vokaflow.domain import WorkerType
from vokaflow.domain.priority import queued_per_priority
from vokaflow.domain.sla import SlaTally
from vokaflow.domain.task import ClaimedTask
from vokaflow.scheduler.pool_scaler import PoolScaler
from vokaflow.scheduler.ports import Clock, Metrics, TaskStore
from vokaflow.store.errors import StoreUnavailable

log = logging.getLogger("vokaflow.scheduler")

CAPACITY_REFRESH_S = 10.0


@contextlib.contextmanager
def telemetry_guard() -> Iterator[None]:
    """Metrics must never break dispatch or settling."""
    try:
        yield
    except Exception:
        log.warning("recording metrics failed", exc_info=True)


class Telemetry:
    def __init__(
        self,
        metrics: Metrics,
        store: TaskStore,
        scaler: PoolScaler,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.scaler = scaler
        self.clock = clock
        self.settings = settings
        self.sla_starts = SlaTally()  # written with the next heartbeat

    def observe_dispatch(self, claimed: Sequence[ClaimedTask], now: float) -> None:
        """Queue waits of first attempts (a requeued dead letter's counts from its requeue)."""
        waits = [
            (t.spec.priority, now - t.queued_since)
            for t in claimed
            if t.attempt == 1 and t.queued_since > 0
        ]
        self.sla_starts.count(waits, now)
        with telemetry_guard():
            self.metrics.observe_dispatch(waits)

    async def beat(self) -> None:
        """The heartbeat status reads, with each pool's state; and the pool gauges."""
        ttl_s = max(1, int(self.settings.scheduler_stale_after_s))
        starts = self.sla_starts.take()
        try:
            await self.store.beat(self.clock.time(), self.scaler.report(), ttl_s, starts)
        except StoreUnavailable:
            self.sla_starts.give_back(starts)
        active = self.scaler.inflight.per_pool
        with telemetry_guard():
            self.metrics.set_pools(
                {wt.value: (active[wt], self.scaler.capacity[wt]) for wt in WorkerType}
            )
        await self.record_queue_depths()

    async def record_queue_depths(self) -> None:
        """One more level count per beat: the dispatcher counts only the pools with free
        slots, and not on a schedule."""
        with telemetry_guard():
            try:
                counts = await self.store.level_counts(list(WorkerType))
            except StoreUnavailable:
                return  # the next beat counts again
            self.metrics.set_queue_depths(queued_per_priority(counts))

    async def run(self) -> None:
        """Beat every heartbeat period; re-read the pools' capacity now and then."""
        last_refresh = self.clock.monotonic()
        while True:
            if self.clock.monotonic() - last_refresh > CAPACITY_REFRESH_S:
                self.scaler.refresh_capacity()
                last_refresh = self.clock.monotonic()
            await self.beat()
            await self.clock.sleep(self.settings.scheduler_heartbeat_s)
