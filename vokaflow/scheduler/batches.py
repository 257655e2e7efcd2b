"""Batch progress: counts, releasing held tasks, max_failures and batch_timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from vokaflow.domain import BatchStatus, ExecutionMode, TaskStatus, WorkerType
from vokaflow.lifecycle.ending import TaskEnding
from vokaflow.scheduler.policy import batch_window
from vokaflow.store.batch_store import PAGE, BatchStore, terminal_counts
from vokaflow.store.dispatch_store import DispatchStore
from vokaflow.store.events import BATCH_COMPLETED, Event, EventLog
from vokaflow.store.task_store import TaskStore


class BatchCoordinator:
    def __init__(
        self,
        batches: BatchStore,
        tasks: TaskStore,
        dispatch: DispatchStore,
        capacity_of: Callable[[WorkerType], int],
        ending: TaskEnding,
        events: EventLog,
    ) -> None:
        self.batches = batches
        self.tasks = tasks
        self.dispatch = dispatch
        self.capacity_of = capacity_of
        self.ending = ending
        self.events = events
        self._advancing: dict[str, asyncio.Lock] = {}

    async def advance(self, batch_id: str) -> None:
        """Close, abort or release more of a batch, from its current counts.

        One at a time per batch: outcomes and pub/sub events both call this, and two
        overlapping calls would each see room in the window and release a task."""
        lock = self._advancing.setdefault(batch_id, asyncio.Lock())
        try:
            async with lock:
                await self._advance(batch_id)
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._advancing.pop(batch_id, None)

    async def _advance(self, batch_id: str) -> None:
        record = await self.batches.get(batch_id)
        if record is None or record.get("status") != BatchStatus.RUNNING:
            return
        counts = terminal_counts(record)
        finished = sum(counts.values())
        max_failures = record.get("max_failures") or ""
        if max_failures != "" and counts[TaskStatus.FAILED] > int(max_failures):
            await self.end_unfinished(
                batch_id, TaskStatus.CANCELLED, BatchStatus.ABORTED, "max_failures exceeded"
            )
        elif finished >= int(record["total"]):
            await self._close(batch_id, record, BatchStatus.COMPLETED)
        else:
            await self._release(batch_id, record, counts, finished)

    async def _release(
        self, batch_id: str, record: dict[str, str], counts: dict[str, int], finished: int
    ) -> None:
        mode = ExecutionMode(record["execution_mode"])
        worker_type = WorkerType(record["worker_type"])
        window = batch_window(
            mode,
            counts[TaskStatus.COMPLETED],
            counts[TaskStatus.FAILED],
            self.capacity_of(worker_type),
        )
        in_progress = int(record["released"]) - finished
        released = 0
        while in_progress < window:
            task_id = await self.batches.next_held(batch_id)
            if task_id is None:
                break
            if await self.dispatch.release_held(task_id, int(time.time() * 1000)):
                in_progress += 1
                released += 1
        if released:
            await self.tasks.notify_scheduler()

    async def recover(self) -> None:
        """After a restart: recount every open batch from its tasks, and move it on."""
        for batch_id in await self.batches.running():
            await self.batches.recount(batch_id)
            await self.advance(batch_id)

    async def end_unfinished(
        self, batch_id: str, task_status: TaskStatus, batch_status: BatchStatus, why: str
    ) -> None:
        """End every task of the batch that has not finished (through the task ending's
        owner: logs, counts, events, stopped workers), then close the batch."""
        owner = (await self.batches.get(batch_id) or {}).get("owner", "")
        start = 0
        while ids := await self.batches.task_ids(batch_id, start):
            await self.ending.end_batch_tasks(ids, task_status, why, time.time())
            start += PAGE
        await self._close(batch_id, {"owner": owner}, batch_status)

    async def _close(self, batch_id: str, record: dict[str, str], status: BatchStatus) -> None:
        """Close the batch once; the path that closes it announces batch.completed."""
        now = time.time()
        if await self.batches.close(batch_id, status, now):
            await self.events.emit([Event(BATCH_COMPLETED, record.get("owner", ""), batch_id, now)])

    async def finish_interrupted(self, began_before_s: float) -> None:
        """Batches whose submission stopped between its steps, and that no replay finished
        within the grace period: keep the tasks that were written, and go on."""
        for batch_id in await self.batches.submitting_since(began_before_s):
            await self.batches.commit_written(batch_id)

    async def expire_due(self, now_ms: int) -> None:
        for batch_id in await self.batches.due(now_ms):
            await self.end_unfinished(
                batch_id, TaskStatus.TIMEOUT, BatchStatus.TIMEOUT, "batch_timeout reached"
            )
