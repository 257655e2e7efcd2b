"""In-memory stand-ins for the scheduler's ports, for the unit tier (and the Redis tier,
beside real stores): a clock that moves only when told (or slept on), an executor whose
chunks finish when the test says, and a task store that keeps queues, claims and requeues
in lists."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vokaflow.config import Settings
from vokaflow.domain import Priority, TaskStatus, WorkerType
from vokaflow.domain.priority import LevelBacklog, level_upper_bound
from vokaflow.domain.schedule import Schedule
from vokaflow.domain.task import ClaimedTask, Outcome, TaskSpec
from vokaflow.scheduler.core import Channels, Ports, SchedulerCore
from vokaflow.scheduler.ports import WorkerLost
from vokaflow.store.dispatch_store import ClaimRequest, Released, Retry, Settled
from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.schedules import Fire

GP = WorkerType.GENERAL_PURPOSE
IO = WorkerType.IO_INTENSIVE
START_WALL = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.wall = START_WALL
        self.mono = 1000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class Launch:
    worker_type: WorkerType
    tasks: list[ClaimedTask]
    chunk_id: int
    result: asyncio.Future[list[Outcome]]

    @property
    def ids(self) -> list[str]:
        return [t.task_id for t in self.tasks]


class FakeExecutor:
    def __init__(self) -> None:
        self.launches: list[Launch] = []
        self.stopped: list[int] = []

    def launch(
        self, worker_type: WorkerType, tasks: Sequence[ClaimedTask], chunk_id: int
    ) -> asyncio.Future[list[Outcome]]:
        future: asyncio.Future[list[Outcome]] = asyncio.get_event_loop().create_future()
        self.launches.append(Launch(worker_type, list(tasks), chunk_id, future))
        return future

    def stop(self, running: Any) -> None:
        [launch] = [x for x in self.launches if x.result is running]
        self.stopped.append(launch.chunk_id)

    def finish(self, index: int, status: TaskStatus = TaskStatus.COMPLETED, run_s: float = 0.01):
        launch = self.launches[index]
        launch.result.set_result([outcome(t, status, run_s=run_s) for t in launch.tasks])

    def lose(self, index: int, cause: BaseException) -> None:
        self.launches[index].result.set_exception(WorkerLost(cause))


class FakeTaskStore:
    """Queues per pool in one partition; claims take the best level first, FIFO within it."""

    def __init__(self) -> None:
        self.queues: dict[WorkerType, list[ClaimedTask]] = {wt: [] for wt in WorkerType}
        self.counted: list[list[WorkerType]] = []
        self.claims: list[list[ClaimRequest]] = []
        self.requeued: list[tuple[list[tuple[str, int]], bool]] = []
        self.promotions: list[tuple[int, list[int], int]] = []
        self.concurrency_sweeps = 0
        self.results: dict[str, str] = {}
        self.started: list[tuple[list[str], int, float]] = []
        self.beats: list[tuple[float, dict[WorkerType, dict[str, float]], int]] = []
        self.sla_starts: list[dict[int, dict[str, int]]] = []
        self.due_retries = 0
        self.next_due_ms: int | None = None
        self.release_passes: list[int] = []
        self.left_running = 0
        self.unclaimed: list[float] = []
        self.on_count: Any = None  # called during level_counts (a race with a wake-up)
        self.on_claim: Any = None  # called with the claimed tasks before the claim returns

    def add(self, *tasks: ClaimedTask) -> None:
        for task in tasks:
            self.queues[task.spec.worker_type].append(task)

    async def level_counts(self, pools: Sequence[WorkerType]) -> dict[WorkerType, Any]:
        self.counted.append(list(pools))
        if self.on_count:
            self.on_count()
        counts = {}
        for wt in pools:
            levels = [0] * len(Priority)
            for task in self.queues[wt]:
                levels[task.spec.priority.level] += 1
            counts[wt] = {0: LevelBacklog(levels, [0] * len(Priority))}
        return counts

    async def claim(self, requests: Sequence[ClaimRequest], now_s: float) -> list[ClaimedTask]:
        self.claims.append(list(requests))
        taken: list[ClaimedTask] = []
        for request in requests:
            queue = sorted(self.queues[request.worker_type], key=lambda t: t.spec.priority.level)
            eligible = [
                t for t in queue if level_upper_bound(t.spec.priority.level) <= request.max_score
            ]
            for task in eligible[: request.count]:
                self.queues[request.worker_type].remove(task)
                taken.append(task)
        if self.on_claim:
            self.on_claim(taken)
        return taken

    async def requeue(self, tasks: Sequence[tuple[str, int]], *, solo: bool) -> int:
        self.requeued.append((list(tasks), solo))
        return len(tasks)

    async def requeue_claimed_at(self, now_s: float) -> int:
        self.unclaimed.append(now_s)
        return 0

    async def requeue_all_running(self) -> int:
        return self.left_running

    async def release_due(self, now_ms: int) -> Released:
        self.release_passes.append(now_ms)
        return Released(self.due_retries, self.next_due_ms)

    async def promote_starving(self, now_ms: int, waits: Sequence[int], top_level: int) -> int:
        self.promotions.append((now_ms, list(waits), top_level))
        return 0

    async def results_of(self, task_ids: Sequence[str]) -> dict[str, str | None]:
        return {task_id: self.results.get(task_id) for task_id in task_ids}

    async def sweep_concurrency_keys(self) -> int:
        self.concurrency_sweeps += 1
        return 0

    async def mark_started(self, task_ids: Sequence[str], worker_pid: int, started_at: float):
        self.started.append((list(task_ids), worker_pid, started_at))

    async def beat(self, now_s: float, pools: Any, ttl_s: int, sla_starts: Any = None) -> None:
        self.beats.append((now_s, pools, ttl_s))
        self.sla_starts.append(sla_starts or {})


class FakeEnding:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[Outcome], list[Retry]]] = []
        self.dependency_sweeps: list[float] = []

    async def finish(self, tasks: Sequence[ClaimedTask], final: list[Outcome], retries):
        self.calls.append(([t.task_id for t in tasks], final, retries))
        return Settled(final, retries)

    async def sweep_dependencies(self, now: float) -> None:
        self.dependency_sweeps.append(now)

    @property
    def final(self) -> list[Outcome]:
        return [o for _, final, _ in self.calls for o in final]

    @property
    def retries(self) -> list[Retry]:
        return [r for _, _, retries in self.calls for r in retries]


class FakeCluster:
    def __init__(self, slots: dict[WorkerType, int]) -> None:
        self.slots = slots
        self.asks: list[dict[WorkerType, int]] = []
        self.failing = False

    def pool_slots(self) -> dict[WorkerType, int]:
        return dict(self.slots)

    async def ask_for_slots(self, wanted: dict[WorkerType, int]) -> None:
        if self.failing:
            raise ConnectionError("GCS unreachable")
        self.asks.append(wanted)


@dataclass
class FakeQueues:
    sizes: dict[WorkerType, int] = field(default_factory=lambda: dict.fromkeys(WorkerType, 0))

    async def queue_sizes(self) -> dict[WorkerType, int]:
        return dict(self.sizes)


@dataclass
class FakeMetrics:
    finished: list[tuple[str, str, str]] = field(default_factory=list)
    waits: list[tuple[Priority, float]] = field(default_factory=list)
    pools: list[dict[str, tuple[int, int]]] = field(default_factory=list)
    depths: list[dict[Priority, int]] = field(default_factory=list)
    fires: Counter[str] = field(default_factory=Counter)
    broken: bool = False

    def count_finished(self, finished: Any) -> None:
        self.finished += list(finished)

    def observe_dispatch(self, waits: Any) -> None:
        if self.broken:
            raise ValueError("metrics agent gone")
        self.waits += list(waits)

    def set_pools(self, pools: dict[str, tuple[int, int]]) -> None:
        if self.broken:
            raise ValueError("metrics agent gone")
        self.pools.append(pools)

    def set_queue_depths(self, depths: dict[Priority, int]) -> None:
        if self.broken:
            raise ValueError("metrics agent gone")
        self.depths.append(depths)

    def count_fires(self, outcome: str, n: int = 1) -> None:
        if self.broken:
            raise ValueError("metrics agent gone")
        self.fires[outcome] += n


@dataclass
class FakeBatches:
    calls: list[tuple[str, Any]] = field(default_factory=list)

    async def recover(self) -> None:
        self.calls.append(("recover", None))

    async def advance(self, batch_id: str) -> None:
        self.calls.append(("advance", batch_id))

    async def expire_due(self, now_ms: int) -> None:
        self.calls.append(("expire_due", now_ms))

    async def finish_interrupted(self, began_before_s: float) -> None:
        self.calls.append(("finish_interrupted", began_before_s))


@dataclass
class FakeDeadLetters:
    indexed: int = 0
    forgotten: list[int] = field(default_factory=list)

    async def index_owners(self) -> int:
        self.indexed += 1
        return 0

    async def forget_expired(self, now_ms: int) -> None:
        self.forgotten.append(now_ms)


@dataclass
class FakeTaskIndex:
    backfill_steps: int = 0
    steps_to_backfill: int = 2
    trims: list[int] = field(default_factory=list)

    async def backfill_step(self) -> bool:
        self.backfill_steps += 1
        return self.backfill_steps >= self.steps_to_backfill

    async def trim(self, now_ms: int) -> int:
        self.trims.append(now_ms)
        return 0


class FakeSchedules:
    """Schedules in dicts, with the claim's compare-and-advance of schedule_claim.lua."""

    def __init__(self) -> None:
        self.schedules: dict[str, Schedule] = {}
        self.fires: dict[Fire, float] = {}  # claimed, not yet submitted: when to try
        self.runs: dict[str, list[tuple[int, str]]] = {}
        self.replica_behind = False  # as when the primary has lost its replica

    def add(self, schedule: Schedule) -> None:
        self.schedules[schedule.schedule_id] = schedule

    async def due(self, now_s: float, most: int) -> list[Schedule]:
        due = [s for s in self.schedules.values() if s.next_fire is not None]
        return sorted((s for s in due if s.next_fire <= now_s), key=lambda s: s.next_fire)[:most]

    async def claim(
        self,
        schedule: Schedule,
        next_fire: int | None,
        fire_at: int | None,
        task_id: str,
        now_s: float,
    ) -> bool:
        stored = self.schedules.get(schedule.schedule_id)
        if stored is None or (stored.version, stored.next_fire) != (
            schedule.version,
            schedule.next_fire,
        ):
            return False
        if fire_at is not None:
            self.fires.setdefault(Fire(schedule.schedule_id, fire_at), now_s)
            self.runs.setdefault(schedule.schedule_id, []).append((fire_at, task_id))
        self.schedules[schedule.schedule_id] = dataclasses.replace(stored, next_fire=next_fire)
        return True

    async def fires_due(self, now_s: float, most: int) -> list[Fire]:
        return sorted(f for f, at in self.fires.items() if at <= now_s)[:most]

    async def replicated(self) -> None:
        if self.replica_behind:
            raise StoreUnavailable("redis", "no replica confirmed the claims")

    async def get(self, schedule_id: str) -> Schedule | None:
        return self.schedules.get(schedule_id)

    async def put_off(self, fire: Fire, until_s: float) -> None:
        self.fires[fire] = until_s

    async def submitted(self, fire: Fire) -> None:
        self.fires.pop(fire, None)


class FakeSubmit:
    """Submits as submit_one does: a task id written once; refusals while ``refuse_s``."""

    def __init__(self) -> None:
        self.written: dict[str, TaskSpec] = {}
        self.refuse_s: float | None = None

    async def __call__(self, task: TaskSpec) -> float | None:
        if task.task_id in self.written:
            return None
        if self.refuse_s is not None:
            return self.refuse_s
        self.written[task.task_id] = task
        return None


class NoSubscriber:
    async def subscribe(self, *channels: str) -> Any:
        raise ConnectionError("no pub/sub in unit tests")


CHANNELS = Channels("wakeup", "cancel", "batch", "webhooks")


@dataclass
class Rig:
    """A scheduler core over fakes, with every fake at hand."""

    core: SchedulerCore
    clock: FakeClock
    store: FakeTaskStore
    executor: FakeExecutor
    ending: FakeEnding
    cluster: FakeCluster
    queues: FakeQueues
    metrics: FakeMetrics
    batches: FakeBatches
    dead_letters: FakeDeadLetters
    task_index: FakeTaskIndex
    schedules: FakeSchedules
    submit_fire: FakeSubmit
    webhook_refreshes: list[None]

    def pools(self, **capacity_and_target: tuple[int, int]) -> None:
        """Set pools' (capacity, target); others have none."""
        for wt in WorkerType:
            capacity, target = capacity_and_target.get(wt.name, (0, 0))
            self.core.scaler.capacity[wt] = capacity
            self.core.scaler.target[wt] = target

    async def settle_all(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)


def build_rig(ports: dict[str, Any] | None = None, **settings: Any) -> Rig:
    """A core over fakes; ``ports`` replaces some of them (real stores, in the Redis tier)."""
    clock = FakeClock()
    fakes: dict[str, Any] = dict(
        store=FakeTaskStore(),
        executor=FakeExecutor(),
        ending=FakeEnding(),
        cluster=FakeCluster(dict.fromkeys(WorkerType, 0)),
        queues=FakeQueues(),
        metrics=FakeMetrics(),
        batches=FakeBatches(),
        dead_letters=FakeDeadLetters(),
        task_index=FakeTaskIndex(),
        schedules=FakeSchedules(),
        submit_fire=FakeSubmit(),
    )
    fakes.update(ports or {})
    refreshes: list[None] = []
    wired = Ports(
        subscriber=NoSubscriber(),
        channels=CHANNELS,
        webhooks_changed=lambda: refreshes.append(None),
        clock=clock,
        **fakes,
    )
    core = SchedulerCore(wired, Settings(**settings), rng=random.Random(7))
    return Rig(core=core, clock=clock, webhook_refreshes=refreshes, **fakes)


_ids = iter(range(10**9))


def claimed(
    priority: Priority = Priority.NORMAL,
    worker_type: WorkerType = GP,
    *,
    solo: bool = False,
    attempt: int = 1,
    max_retries: int = 0,
    system_retries: int = 0,
    timeout_s: float = 300.0,
    batch_id: str = "",
    created_at: float = START_WALL - 5,
) -> ClaimedTask:
    spec = TaskSpec(
        task_id=f"t{next(_ids)}",
        function_name="noop",
        args=[],
        kwargs={},
        timeout_s=timeout_s,
        priority=priority,
        worker_type=worker_type,
        batch_id=batch_id,
        max_retries=max_retries,
        owner="ann",
        category="general",
        created_at=created_at,
    )
    return ClaimedTask(
        spec=spec,
        attempt=attempt,
        solo=solo,
        system_retries=system_retries,
    )


def outcome(
    task: ClaimedTask, status: TaskStatus = TaskStatus.COMPLETED, run_s: float = 0.01
) -> Outcome:
    error = None if status == TaskStatus.COMPLETED else {"type": "ValueError", "message": "no"}
    return Outcome(task.task_id, task.attempt, status, START_WALL, START_WALL + run_s, error=error)
