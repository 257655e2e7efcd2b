"""What the scheduler has dispatched and not yet heard back about."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable
from dataclasses import dataclass, field

from vokaflow.domain import WorkerType
from vokaflow.domain.task import ClaimedTask, Outcome
from vokaflow.scheduler.ports import Clock, SystemClock

STARTUP_GRACE_S = 10.0  # a worker process may take this long to start; not the task's time


@dataclass
class Chunk:
    chunk_id: int
    worker_type: WorkerType
    tasks: list[ClaimedTask]
    started_wall: float  # dispatch, then actual start
    running: Awaitable[list[Outcome]] | None = None  # what the executor launched
    deadline: float = 0.0  # monotonic seconds; once stopped, when to stop it again
    stopped: bool = False  # the scheduler stopped it; its outcome is not used
    stops: int = 0  # how often its worker was told to stop

    @property
    def timeout_s(self) -> float:
        return min(task.spec.timeout_s for task in self.tasks)


@dataclass
class InFlight:
    """Chunks by id and by task, with a heap of deadlines (lazily cleaned)."""

    chunks: dict[int, Chunk] = field(default_factory=dict)
    by_task: dict[str, int] = field(default_factory=dict)
    per_pool: dict[WorkerType, int] = field(default_factory=lambda: dict.fromkeys(WorkerType, 0))
    tasks_per_pool: dict[WorkerType, int] = field(
        default_factory=lambda: dict.fromkeys(WorkerType, 0)
    )
    clock: Clock = field(default_factory=SystemClock)
    _deadlines: list[tuple[float, int]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, worker_type: WorkerType, tasks: list[ClaimedTask]) -> Chunk:
        chunk = Chunk(next(self._ids), worker_type, tasks, self.clock.time())
        self.chunks[chunk.chunk_id] = chunk
        self.per_pool[worker_type] += 1
        self.tasks_per_pool[worker_type] += len(tasks)
        for task in tasks:
            self.by_task[task.task_id] = chunk.chunk_id
        self.set_deadline(chunk, self.clock.monotonic() + STARTUP_GRACE_S + chunk.timeout_s)
        return chunk

    def set_deadline(self, chunk: Chunk, deadline: float) -> None:
        chunk.deadline = deadline
        heapq.heappush(self._deadlines, (deadline, chunk.chunk_id))

    def stop(self, chunk: Chunk) -> None:
        """The scheduler stopped it: its tasks wait in it no more (each ended or went back
        to its queue, where it counts again), though its slot stays taken until its worker
        has gone. Counted as waiting, a stopped chunk's tasks held a pool's ask for nodes
        for over a minute after a drained backlog had been cancelled."""
        if not chunk.stopped and chunk.chunk_id in self.chunks:
            self.tasks_per_pool[chunk.worker_type] -= len(chunk.tasks) - 1
        chunk.stopped = True

    def remove(self, chunk: Chunk) -> None:
        if self.chunks.pop(chunk.chunk_id, None) is not None:
            self.per_pool[chunk.worker_type] -= 1
            self.tasks_per_pool[chunk.worker_type] -= 1 if chunk.stopped else len(chunk.tasks)
        for task in chunk.tasks:
            if self.by_task.get(task.task_id) == chunk.chunk_id:
                del self.by_task[task.task_id]

    def waiting_in_chunks(self, worker_type: WorkerType) -> int:
        """Tasks dispatched in chunks but not yet started: all but one per chunk (about)."""
        return self.tasks_per_pool[worker_type] - self.per_pool[worker_type]

    def of_task(self, task_id: str) -> Chunk | None:
        chunk_id = self.by_task.get(task_id)
        return None if chunk_id is None else self.chunks.get(chunk_id)

    def overdue(self, now: float) -> list[Chunk]:
        """Chunks past their deadline: running ones past their timeout, and stopped ones
        whose worker is still there."""
        due: list[Chunk] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, chunk_id = heapq.heappop(self._deadlines)
            chunk = self.chunks.get(chunk_id)
            if chunk is not None and chunk.deadline == deadline:
                due.append(chunk)
        return due
