"""What happens to a chunk after dispatch: its outcomes become retries (with backoff) or
final states; a lost worker's tasks run again a bounded number of times; a chunk past its
deadline is stopped, and its tasks time out (alone) or run again alone (in a chunk)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence

from vokaflow.config import Settings
from vokaflow.domain import TaskStatus
from vokaflow.domain.backoff import retry_delay_s
from vokaflow.domain.task import ClaimedTask, Outcome
from vokaflow.scheduler import traces
from vokaflow.scheduler.hints import ReadyHints
from vokaflow.scheduler.inflight import Chunk, InFlight
from vokaflow.scheduler.pool_scaler import PoolScaler
from vokaflow.scheduler.ports import Clock, Ending, Executor, TaskStore, WorkerLost
from vokaflow.scheduler.retrying import until_stored
from vokaflow.store.dispatch_store import Retry
from vokaflow.store.errors import StoreUnavailable

log = logging.getLogger("vokaflow.scheduler")

DEADLINE_CHECK_S = 0.05
# How long a cancel that found no chunk is remembered: its task may have been claimed and
# not yet launched (the claim's reply and the cancel's message race to the scheduler).
EARLY_CANCEL_MEMORY_S = 60.0
# A stopped chunk whose worker is still there after this is stopped again, then after
# twice as long, up to the cap: Ray can lose a cancel sent just after the task's submit.
STOP_AGAIN_AFTER_S = 2.0
STOP_AGAIN_MAX_S = 30.0


class Settler:
    def __init__(
        self,
        store: TaskStore,
        executor: Executor,
        ending: Ending,
        inflight: InFlight,
        scaler: PoolScaler,
        hints: ReadyHints,
        clock: Clock,
        settings: Settings,
        rng: random.Random,
    ) -> None:
        self.store = store
        self.executor = executor
        self.ending = ending
        self.inflight = inflight
        self.scaler = scaler
        self.hints = hints
        self.clock = clock
        self.settings = settings
        self.rng = rng
        self.settling = 0  # chunks back from their worker whose outcomes are being written
        self.early_cancels: dict[str, float] = {}  # task id -> when (monotonic), oldest first

    # ------------------------------------------------------------ outcomes

    def watch(self, chunk: Chunk) -> None:
        """Settle ``chunk`` once its worker answers (or dies)."""
        asyncio.get_event_loop().create_task(self.collect(chunk))

    async def collect(self, chunk: Chunk) -> None:
        outcomes: list[Outcome] | None = None
        failure: WorkerLost | None = None
        try:
            assert chunk.running is not None
            outcomes = await chunk.running
        except WorkerLost as exc:
            failure = exc
        finally:
            self.inflight.remove(chunk)  # the slot is free now; drain also waits for settling
            self.settling += 1
            self.hints.wake()
        try:
            if chunk.stopped:
                return
            if failure is not None:
                await self.worker_lost(chunk, failure)
                return
            assert outcomes is not None
            self.scaler.observe(chunk.worker_type, outcomes)
            await self.settle(chunk.tasks, outcomes)
        finally:
            self.settling -= 1

    async def settle(self, tasks: Sequence[ClaimedTask], outcomes: list[Outcome]) -> None:
        final, retries = self.retries_or_final(tasks, outcomes)
        with traces.settling(tasks, outcomes):
            await self.ending.finish(tasks, final, retries)

    def retries_or_final(
        self, tasks: Sequence[ClaimedTask], outcomes: list[Outcome]
    ) -> tuple[list[Outcome], list[Retry]]:
        """A failed attempt with retries left runs again after a backoff; the rest is final."""
        final: list[Outcome] = []
        retries: list[Retry] = []
        now_ms = int(self.clock.time() * 1000)
        for task, outcome in zip(tasks, outcomes, strict=True):
            if outcome.status == TaskStatus.FAILED and task.attempt <= task.spec.max_retries:
                delay_s = retry_delay_s(
                    task.attempt,
                    self.settings.retry_backoff_base_s,
                    self.settings.retry_backoff_max_s,
                    self.rng,
                )
                retries.append(Retry(outcome, now_ms + int(delay_s * 1000)))
            else:
                final.append(outcome)
        return final, retries

    async def fail_unrun(self, tasks: Sequence[ClaimedTask], error_type: str, why: str) -> None:
        """End claimed tasks as failed before they run, for good (no retry would help)."""
        now = self.clock.time()
        error = {"type": error_type, "message": why, "traceback": None}
        outcomes = [
            Outcome(
                t.task_id, t.attempt, TaskStatus.FAILED, now, now, None, error, t.spec.function_name
            )
            for t in tasks
        ]
        await self.ending.finish(tasks, outcomes, [])

    async def worker_lost(self, chunk: Chunk, failure: WorkerLost) -> None:
        """The worker died under the chunk: run its tasks again, a bounded number of times."""
        limit = self.settings.max_system_retries
        again = [(t.task_id, t.attempt) for t in chunk.tasks if t.system_retries < limit]
        given_up = [t for t in chunk.tasks if t.system_retries >= limit]
        if again:
            solo = len(chunk.tasks) > 1
            await until_stored(lambda: self.store.requeue(again, solo=solo), self.clock)
            self.hints.hint(chunk.worker_type.value)
        if given_up:
            message = f"worker lost {limit + 1} times: {failure.describe()}"[:2000]
            ended = [
                self._ended(t, chunk.started_wall, TaskStatus.FAILED, "WorkerLost", message)
                for t in given_up
            ]
            await self.settle(given_up, ended)

    # ------------------------------------------------------------ running work

    async def started(self, chunk_id: int, worker_pid: int, started_at: float) -> None:
        """The executor's first word: timeouts run from here, and status shows the PID."""
        chunk = self.inflight.chunks.get(chunk_id)
        if chunk is None or chunk.stopped:
            return
        chunk.started_wall = started_at
        running_for_s = max(0.0, self.clock.time() - started_at)
        self.inflight.set_deadline(chunk, self.clock.monotonic() + chunk.timeout_s - running_for_s)
        if len(chunk.tasks) == 1:
            with contextlib.suppress(StoreUnavailable):
                await self.store.mark_started([chunk.tasks[0].task_id], worker_pid, started_at)

    def stop_chunk(self, chunk: Chunk) -> None:
        """Tell its worker to stop; until the worker has gone, the chunk keeps its slot and
        is told again now and then."""
        self.inflight.stop(chunk)
        if chunk.running is not None:
            self.executor.stop(chunk.running)
        chunk.stops += 1
        wait_s = min(STOP_AGAIN_MAX_S, STOP_AGAIN_AFTER_S * 2 ** (chunk.stops - 1))
        self.inflight.set_deadline(chunk, self.clock.monotonic() + wait_s)

    def stop_again(self, chunk: Chunk) -> None:
        # a worker may take a while to go on a loaded node: only a second miss is news
        log.log(
            logging.WARNING if chunk.stops >= 2 else logging.INFO,
            "the worker of a stopped %s chunk (%d tasks) is still there after %d stops;"
            " stopping it again",
            chunk.worker_type.value,
            len(chunk.tasks),
            chunk.stops,
        )
        self.stop_chunk(chunk)

    def stop_task(self, task_id: str) -> None:
        """Stop the worker running ``task_id``; other tasks of its chunk run again, alone.
        One not in flight may be claimed and not launched yet: the dispatcher drops it."""
        chunk = self.inflight.of_task(task_id)
        if chunk is None:
            self._remember_early_cancel(task_id)
            return
        if chunk.stopped:
            return
        self.stop_chunk(chunk)
        others = [(t.task_id, t.attempt) for t in chunk.tasks if t.task_id != task_id]
        if others:
            asyncio.get_event_loop().create_task(
                until_stored(lambda: self.store.requeue(others, solo=True), self.clock)
            )
            self.hints.hint(chunk.worker_type.value)

    def _remember_early_cancel(self, task_id: str) -> None:
        now = self.clock.monotonic()
        early = self.early_cancels
        while early and next(iter(early.values())) < now - EARLY_CANCEL_MEMORY_S:
            del early[next(iter(early))]
        early[task_id] = now

    def without_cancelled(self, claimed: list[ClaimedTask]) -> list[ClaimedTask]:
        """The claimed tasks whose cancel has not arrived already: a cancelled one must not
        run, and would hold its slot for its whole run."""
        if not self.early_cancels:
            return claimed
        return [task for task in claimed if self.early_cancels.pop(task.task_id, None) is None]

    async def on_deadline(self, chunk: Chunk) -> None:
        self.stop_chunk(chunk)
        if len(chunk.tasks) > 1:  # which task overran is unknown: each runs again alone
            pairs = [(t.task_id, t.attempt) for t in chunk.tasks]
            await until_stored(lambda: self.store.requeue(pairs, solo=True), self.clock)
            self.hints.hint(chunk.worker_type.value)
            return
        [task] = chunk.tasks
        message = f"Task exceeded its timeout of {task.spec.timeout_s:g} s; its worker was stopped"
        await self.settle(
            [task],
            [self._ended(task, chunk.started_wall, TaskStatus.TIMEOUT, "TimeoutError", message)],
        )

    async def check_deadlines(self) -> None:
        for chunk in self.inflight.overdue(self.clock.monotonic()):
            try:
                if chunk.stopped:
                    self.stop_again(chunk)
                else:
                    await self.on_deadline(chunk)
            except Exception:
                log.exception("timing out chunk %s failed", chunk.chunk_id)

    async def watch_deadlines(self) -> None:
        while True:
            await self.check_deadlines()
            await self.clock.sleep(DEADLINE_CHECK_S)

    def _ended(
        self,
        task: ClaimedTask,
        started_at: float,
        status: TaskStatus,
        error_type: str,
        message: str,
    ) -> Outcome:
        return Outcome(
            task_id=task.task_id,
            attempt=task.attempt,
            status=status,
            started_at=started_at,
            completed_at=self.clock.time(),
            error={"type": error_type, "message": message, "traceback": None},
            function_name=task.spec.function_name,
        )
