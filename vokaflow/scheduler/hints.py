"""Which pools may have ready tasks, and the event that wakes the dispatch loop."""

from __future__ import annotations

import asyncio

from vokaflow.domain import WorkerType


class ReadyHints:
    """A pool seen empty is skipped until a submit for it (its wake-up names it) or a
    periodic sweep. The generation guards the race between a count that saw the pool empty
    and a wake-up that arrived meanwhile."""

    def __init__(self) -> None:
        self.maybe_ready: set[WorkerType] = set(WorkerType)
        self.generation = 0
        self.wakeup = asyncio.Event()

    def hint(self, pools: str) -> None:
        """``pools``: "*" (or "1") for all, else comma-separated worker types."""
        self.generation += 1
        if pools in ("*", "1"):
            self.maybe_ready.update(WorkerType)
        else:
            self.maybe_ready.update(
                WorkerType(p) for p in pools.split(",") if p in WorkerType.__members__
            )
        self.wakeup.set()

    def seen_empty(self, worker_type: WorkerType, generation: int) -> None:
        if generation == self.generation:
            self.maybe_ready.discard(worker_type)

    def wake(self) -> None:
        self.wakeup.set()
