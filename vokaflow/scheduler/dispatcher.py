"""Dispatch: claim the best ready tasks for the pools with free slots, pack what a pass
finds ready beyond them into few chunks (policy.pack) and launch them, highest priority
first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import replace

from vokaflow.config import Settings
from vokaflow.domain import WorkerType
from vokaflow.domain.task import ClaimedTask, with_parents_results
from vokaflow.scheduler import traces
from vokaflow.scheduler.hints import ReadyHints
from vokaflow.scheduler.inflight import InFlight
from vokaflow.scheduler.policy import chunk_size, pack, plan_claims, runs_long
from vokaflow.scheduler.pool_scaler import FreeSlots, PoolScaler
from vokaflow.scheduler.ports import Clock, Executor, TaskStore
from vokaflow.scheduler.retrying import REDIS_RETRY_S
from vokaflow.scheduler.settler import Settler
from vokaflow.scheduler.telemetry import Telemetry
from vokaflow.store.dispatch_store import ClaimRequest

log = logging.getLogger("vokaflow.scheduler")

WAKE_COALESCE_S = 0.002


class Dispatcher:
    def __init__(
        self,
        store: TaskStore,
        executor: Executor,
        inflight: InFlight,
        scaler: PoolScaler,
        settler: Settler,
        telemetry: Telemetry,
        hints: ReadyHints,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.store = store
        self.executor = executor
        self.inflight = inflight
        self.scaler = scaler
        self.settler = settler
        self.telemetry = telemetry
        self.hints = hints
        self.clock = clock
        self.settings = settings
        self.draining = False
        # dispatch times of claims that failed: their tasks may be running with no worker
        self.lost_claims: list[float] = []

    async def run(self) -> None:
        while True:
            self.hints.wakeup.clear()
            try:
                progressed = await self.dispatch_round()
            except Exception:
                log.exception("dispatch round failed")
                await self.clock.sleep(REDIS_RETRY_S)
                continue
            if not progressed:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.hints.wakeup.wait(), self.settings.scheduler_poll_s)
                    # Let a burst of submits land (and their replies go out) before the next
                    # round: one round then claims them all, for a little latency.
                    await self.clock.sleep(WAKE_COALESCE_S)

    async def dispatch_round(self) -> bool:
        """Claim and launch what the free slots can take; False when nothing was claimed."""
        if self.draining:
            return False
        free = {
            wt: slots
            for wt, slots in self.scaler.free_slots().items()
            if wt in self.hints.maybe_ready
        }
        if not free:
            return False
        await self._return_lost_claims()
        requests, sizes = await self._plan(free)
        if not requests:
            return False
        now = self.clock.time()
        try:
            claimed = await self.store.claim(requests, now)
        except Exception:
            # Redis may have run the claim and lost only its reply: those tasks would stay
            # running with no worker. Their dispatch time finds them once Redis answers.
            self.lost_claims.append(now)
            raise
        taken = len(claimed)
        # the last await before launch: a cancel that arrived until now finds no chunk
        claimed = self.settler.without_cancelled(await self._with_parents_results(claimed))
        claimed = traces.dispatched(claimed, now)
        by_pool: dict[WorkerType, list[ClaimedTask]] = defaultdict(list)
        for task in claimed:
            by_pool[task.spec.worker_type].append(task)
        for wt, tasks in by_pool.items():
            # the claims' order across partitions: by level, then each task's fair place
            tasks.sort(key=lambda t: (t.spec.priority.level, t.score))
            self._launch_packed(wt, tasks, sizes[wt], free[wt])
        self.telemetry.observe_dispatch(claimed, now)
        # A round that took all it asked for may have left ready tasks: the next one goes at
        # once. One that took less emptied the queues, so the next waits for a wake-up and
        # the coalescing delay, and finds several tasks to pack rather than one.
        return taken >= sum(request.count for request in requests)

    async def _with_parents_results(self, claimed: list[ClaimedTask]) -> list[ClaimedTask]:
        """Claimed tasks with their parents' results taken in where they ask for them
        (pass_results_as): read now, so that no child's record holds a copy. One whose
        results pass max_inputs_bytes fails at once, without running."""
        asking = [task for task in claimed if task.spec.pass_results_as]
        if not asking:
            return claimed
        parent_ids = list(dict.fromkeys(p for task in asking for p in task.spec.depends_on))
        results = await self.store.results_of(parent_ids)
        limit = self.settings.max_inputs_bytes
        too_big = [t for t in asking if _inputs_bytes(t, results) > limit]
        if too_big:
            await self.settler.fail_unrun(too_big, "InputsTooLarge", _too_big_message(limit))
        failed = {task.task_id for task in too_big}
        return [
            replace(task, spec=with_parents_results(task.spec, results))
            if task.spec.pass_results_as
            else task
            for task in claimed
            if task.task_id not in failed
        ]

    async def _return_lost_claims(self) -> None:
        while self.lost_claims:
            returned = await self.store.requeue_claimed_at(self.lost_claims[0])
            if returned:
                log.warning("%d tasks of a claim whose reply was lost went back", returned)
            self.lost_claims.pop(0)

    def _launch_packed(
        self, worker_type: WorkerType, tasks: list[ClaimedTask], size: int, free: tuple[int, int]
    ) -> None:
        """Launch what goes alone first, then the others packed about ``size`` a call.

        When the free slots can take every task alone, each goes alone: a short function's
        run time may depend on its arguments (``sleep``), and packing two long runs of it
        would serialize a parallel batch on an idle pool."""
        free_any, free_all = free
        target_s = self.settings.chunk_target_s
        run_s = self.scaler.function_run_s
        all_fit = len(tasks) <= free_all

        def long(task: ClaimedTask) -> bool:
            return all_fit or runs_long(run_s.get(task.spec.function_name), target_s)

        for chunk in pack(tasks, size, free_any, free_all - free_any, long):
            self.launch(worker_type, chunk)

    async def _plan(self, free: FreeSlots) -> tuple[list[ClaimRequest], dict[WorkerType, int]]:
        """Claims for each pool with a backlog, and the chunk size each pool's tasks get."""
        generation = self.hints.generation
        backlogs = await self.store.level_counts(list(free))
        requests: list[ClaimRequest] = []
        sizes: dict[WorkerType, int] = {}
        for wt, (free_any, free_all) in free.items():
            if not any(any(b.counts) for b in backlogs[wt].values()):
                self.hints.seen_empty(wt, generation)
                continue
            size = self._chunk_size(wt, free_all)
            sizes[wt] = size
            requests += plan_claims(wt, backlogs[wt], free_any * size, (free_all - free_any) * size)
        return requests, sizes

    def _chunk_size(self, worker_type: WorkerType, free_slots: int) -> int:
        return chunk_size(
            free_slots,
            self.scaler.mean_task_s[worker_type],
            self.settings.chunk_target_s,
            self.settings.max_chunk_size,
        )

    def launch(self, worker_type: WorkerType, tasks: list[ClaimedTask]) -> None:
        chunk = self.inflight.add(worker_type, tasks)
        chunk.running = self.executor.launch(worker_type, tasks, chunk.chunk_id)
        self.settler.watch(chunk)


def _inputs_bytes(task: ClaimedTask, results: dict[str, str | None]) -> int:
    return sum(len(results.get(parent_id) or "") for parent_id in task.spec.depends_on)


def _too_big_message(limit: int) -> str:
    return (
        f"Its parents' results are over {limit} bytes (VOKAFLOW_MAX_INPUTS_BYTES): "
        "pass a file or a smaller result instead"
    )
