"""What the scheduler's parts are built from. Each port is a ``typing.Protocol``: the actor
passes the real stores, a Ray executor and the system clock; unit tests pass fakes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, Protocol

from vokaflow.domain import Priority, WorkerType
from vokaflow.domain.pool import PoolState
from vokaflow.domain.priority import LevelBacklog
from vokaflow.domain.schedule import Schedule
from vokaflow.domain.sla import SlaStarts
from vokaflow.domain.task import ClaimedTask, Outcome
from vokaflow.store.dispatch_store import ClaimRequest, Released, Retry, Settled
from vokaflow.store.schedules import Fire


class Clock(Protocol):
    def time(self) -> float:
        """Wall time, epoch seconds."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class WorkerLost(Exception):
    """The worker running a chunk died: its outcomes never came back."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause

    def describe(self) -> str:
        return f"{type(self.cause).__name__}: {self.cause}"


class Executor(Protocol):
    def launch(
        self, worker_type: WorkerType, tasks: Sequence[ClaimedTask], chunk_id: int
    ) -> Awaitable[list[Outcome]]:
        """Run a chunk of claimed tasks on a slot of ``worker_type``'s pool. The awaitable
        gives one outcome per task, or raises WorkerLost."""

    def stop(self, running: Awaitable[list[Outcome]]) -> None:
        """Kill the worker running a launched chunk."""


class TaskStore(Protocol):
    """The task-state methods of the store that the parts use (DispatchStore has them)."""

    async def level_counts(
        self, pools: Sequence[WorkerType]
    ) -> dict[WorkerType, dict[int, LevelBacklog]]: ...

    async def claim(self, requests: Sequence[ClaimRequest], now_s: float) -> list[ClaimedTask]: ...

    async def requeue(self, tasks: Sequence[tuple[str, int]], *, solo: bool) -> int: ...

    async def requeue_claimed_at(self, now_s: float) -> int: ...

    async def requeue_all_running(self) -> int: ...

    async def release_due(self, now_ms: int) -> Released: ...

    async def promote_starving(
        self, now_ms: int, wait_ms_by_level: Sequence[int], top_level: int
    ) -> int: ...

    async def sweep_concurrency_keys(self) -> int: ...

    async def results_of(self, task_ids: Sequence[str]) -> dict[str, str | None]: ...

    async def mark_started(
        self, task_ids: Sequence[str], worker_pid: int, started_at: float
    ) -> None: ...

    async def beat(
        self,
        now_s: float,
        pools: dict[WorkerType, PoolState],
        ttl_s: int,
        sla_starts: SlaStarts | None = None,
    ) -> None: ...


class QueueSizes(Protocol):
    async def queue_sizes(self) -> dict[WorkerType, int]: ...


class Cluster(Protocol):
    def pool_slots(self) -> dict[WorkerType, int]:
        """Slots each pool has on the cluster now."""

    async def ask_for_slots(self, wanted: dict[WorkerType, int]) -> None:
        """Ask the cluster's autoscaler for nodes; replaces the previous ask."""


class Ending(Protocol):
    async def finish(
        self, tasks: Sequence[ClaimedTask], final: list[Outcome], retries: list[Retry]
    ) -> Settled:
        """Write final outcomes and retries, with every side effect of a task's end."""

    async def sweep_dependencies(self, now: float) -> None:
        """Check the parents of children that waited past their next check themselves."""


class Metrics(Protocol):
    def count_finished(self, finished: Iterable[tuple[str, str, str]]) -> None:
        """(category, priority, status) of each task that reached a final state."""

    def observe_dispatch(self, waits: Iterable[tuple[Priority, float]]) -> None:
        """(priority, queue wait) of each first attempt dispatched."""

    def set_pools(self, pools: dict[str, tuple[int, int]]) -> None: ...

    def set_queue_depths(self, depths: dict[Priority, int]) -> None:
        """Ready tasks per priority, every pool together."""

    def count_fires(self, outcome: str, n: int = 1) -> None:
        """Schedule fires: ``submitted`` (a task made), ``skipped`` (missed, by the
        schedule's policy) or ``put_off`` (its category's rate limit refused it for now)."""


class Batches(Protocol):
    async def recover(self) -> None: ...

    async def advance(self, batch_id: str) -> None: ...

    async def expire_due(self, now_ms: int) -> None: ...

    async def finish_interrupted(self, began_before_s: float) -> None: ...


class DeadLetters(Protocol):
    async def index_owners(self) -> int: ...

    async def forget_expired(self, now_ms: int) -> None: ...


class TaskIndexUpkeep(Protocol):
    """The task search indexes' chores (store.task_index.TaskIndex has them)."""

    async def backfill_step(self) -> bool:
        """Index some more records from before the indexes; True once all are."""

    async def trim(self, now_ms: int) -> int:
        """A bounded step of dropping entries whose records expired."""


class Subscriber(Protocol):
    async def subscribe(self, *channels: str) -> Any:
        """A pub/sub connection with ``get_message(ignore_subscribe_messages, timeout)``."""


class Schedules(Protocol):
    """The schedule firer's side of the schedule store (ScheduleStore has it)."""

    async def due(self, now_s: float, most: int) -> list[Schedule]: ...

    async def claim(
        self,
        schedule: Schedule,
        next_fire: int | None,
        fire_at: int | None,
        task_id: str,
        now_s: float,
    ) -> bool: ...

    async def fires_due(self, now_s: float, most: int) -> list[Fire]: ...

    async def replicated(self) -> None: ...

    async def get(self, schedule_id: str) -> Schedule | None: ...

    async def put_off(self, fire: Fire, until_s: float) -> None: ...

    async def submitted(self, fire: Fire) -> None: ...
