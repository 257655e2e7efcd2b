"""Pool sizes: each pool's capacity on the cluster, the concurrency the scheduler allows it
(its target, which follows the queue), the slots free for dispatch, and asks for nodes."""

from __future__ import annotations

import logging

from vokaflow.config import Settings
from vokaflow.domain import WorkerType
from vokaflow.domain.pool import PoolState
from vokaflow.domain.task import Outcome
from vokaflow.scheduler.hints import ReadyHints
from vokaflow.scheduler.inflight import Chunk, InFlight
from vokaflow.scheduler.policy import (
    Autoscaler,
    expected_free_at,
    recent_run_s,
    runs_long,
    urgent_reserve,
)
from vokaflow.scheduler.ports import Clock, Cluster, QueueSizes

log = logging.getLogger("vokaflow.scheduler")

MEAN_SMOOTHING = 0.2
ASK_EVERY_S = 1.0  # a changed ask for nodes goes to the cluster's autoscaler at most this often

# Per pool with room: (slots for any level, slots for urgent levels).
FreeSlots = dict[WorkerType, tuple[int, int]]


class PoolScaler:
    def __init__(
        self,
        queues: QueueSizes,
        cluster: Cluster,
        inflight: InFlight,
        hints: ReadyHints,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.queues = queues
        self.cluster = cluster
        self.inflight = inflight
        self.hints = hints
        self.clock = clock
        self.settings = settings
        self.capacity: dict[WorkerType, int] = dict.fromkeys(WorkerType, 0)
        self.target: dict[WorkerType, int] = dict.fromkeys(WorkerType, 0)
        self.target_changed: dict[WorkerType, float] = dict.fromkeys(WorkerType, 0.0)
        self.mean_task_s: dict[WorkerType, float] = dict.fromkeys(WorkerType, 0.001)
        self.function_run_s: dict[str, float] = {}  # which functions are short enough to pack
        self.autoscaler = Autoscaler(settings.scale_up_queue_size, settings.scale_down_queue_size)
        self.asked: dict[WorkerType, int] = dict.fromkeys(WorkerType, 0)
        self.asked_at = float("-inf")

    def free_slots(self) -> FreeSlots:
        free = {}
        for wt, capacity in self.capacity.items():
            reserve = urgent_reserve(capacity, self.settings.urgent_reserved_fraction)
            in_flight = self.inflight.per_pool[wt]
            free_any = max(0, min(self.target[wt], capacity - reserve) - in_flight)
            free_all = max(0, capacity - in_flight)
            if free_all:
                free[wt] = (free_any, free_all)
        return free

    def observe(self, worker_type: WorkerType, outcomes: list[Outcome]) -> None:
        """Smooth the pool's mean task time, which sizes its chunks, and each function's
        recent run time, which says whether its tasks may be packed."""
        if outcomes:
            mean = sum(o.execution_time for o in outcomes) / len(outcomes)
            old = self.mean_task_s[worker_type]
            self.mean_task_s[worker_type] = old + MEAN_SMOOTHING * (mean - old)
        run_s = self.function_run_s
        for o in outcomes:
            run_s[o.function_name] = recent_run_s(
                run_s.get(o.function_name), o.execution_time, MEAN_SMOOTHING
            )

    def refresh_capacity(self) -> None:
        slots = self.cluster.pool_slots()
        for wt in WorkerType:
            self.capacity[wt] = max(0, min(self.settings.pool_max_workers[wt], slots.get(wt, 0)))
            self.target[wt] = max(
                self.autoscaler.floor(self.capacity[wt]), min(self.target[wt], self.capacity[wt])
            )
        self.hints.wake()

    async def autoscale(self) -> None:
        """At every housekeeping tick (0.1 s): under a backlog a pool's concurrency doubles
        at once; without one it halves at most once per the autoscaler's shrink period.
        A pool that is full and still has a backlog asks the cluster for nodes."""
        queued = await self.queues.queue_sizes()
        now = self.clock.monotonic()
        for wt in WorkerType:
            target = self.autoscaler.next_target(
                self.target[wt],
                queued[wt],
                self.capacity[wt],
                now - self.target_changed[wt],
                tasks_run_long=runs_long(self.mean_task_s[wt], self.settings.chunk_target_s),
            )
            if target != self.target[wt]:
                self.target[wt], self.target_changed[wt] = target, now
                self.hints.wake()
        await self._ask_for_nodes(queued, now)

    async def _ask_for_nodes(self, queued: dict[WorkerType, int], now: float) -> None:
        """Demand counts the tasks packed into running chunks too: under a backlog the queue
        in Redis empties into chunks long before the pool has done the work."""
        free = self.free_slots()
        asks = {
            wt: self.autoscaler.slots_to_ask(
                queued[wt] + self.inflight.waiting_in_chunks(wt),
                free.get(wt, (0, 0))[0] == 0,  # no slot left for ordinary work
                self.capacity[wt],
                self.settings.pool_max_workers[wt],
                self.asked[wt],
            )
            for wt in WorkerType
        }
        if asks == self.asked or now - self.asked_at < ASK_EVERY_S:
            return
        self.asked_at = now
        wanted = {wt: n for wt, n in asks.items() if n}
        try:
            await self.cluster.ask_for_slots(wanted)
        except Exception:  # the pools keep what they have; asked again after ASK_EVERY_S
            log.warning("asking Ray's autoscaler for nodes failed", exc_info=True)
            return
        log.info("asked Ray's autoscaler for slots: %s", {w.value: n for w, n in wanted.items()})
        self.asked = asks

    def report(self) -> dict[WorkerType, PoolState]:
        """Each pool's state for the heartbeat; ``busy_until`` is when each busy slot should
        free (wall time, soonest first), which the gateways' start estimates read."""
        busy_until = self.busy_until(self.clock.time())
        return {
            wt: {
                "capacity": self.capacity[wt],
                "active": self.inflight.per_pool[wt],
                "target": self.target[wt],
                "mean_task_s": self.mean_task_s[wt],
                "busy_until": busy_until[wt],
            }
            for wt in WorkerType
        }

    def busy_until(self, now: float) -> dict[WorkerType, list[float]]:
        until: dict[WorkerType, list[float]] = {wt: [] for wt in WorkerType}
        for chunk in self.inflight.chunks.values():
            free_at = expected_free_at(chunk.started_wall, self._expected_run_s(chunk), now)
            until[chunk.worker_type].append(round(free_at, 3))
        return {wt: sorted(times) for wt, times in until.items()}

    def _expected_run_s(self, chunk: Chunk) -> float:
        """Its tasks' functions' recent run times; the pool's mean for one not run yet."""
        unknown_s = self.mean_task_s[chunk.worker_type]
        return sum(self.function_run_s.get(t.spec.function_name, unknown_s) for t in chunk.tasks)
