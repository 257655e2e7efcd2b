"""The scheduler actor: one named, detached, async Ray actor that Ray restarts if it dies.

Its loop claims ready tasks, highest priority first, for the pools that have free slots,
packs them into chunks (one task each when idle), dispatches each chunk as a Ray remote
call with its pool's resources, and writes outcomes back in pipelines. Side loops enforce
timeouts, release retries, promote starving tasks, scale pools and expire batches. On start
it re-queues what a previous incarnation left running: all state lives in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import ray
from ray.exceptions import RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from vokaflow.config import Settings
from vokaflow.domain import Priority, TaskStatus, WorkerType
from vokaflow.domain.task import Outcome
from vokaflow.observability.prometheus import scheduler_metrics
from vokaflow.observability.service_logs import install_service_logging
from vokaflow.scheduler import NAMESPACE, SCHEDULER_NAME
from vokaflow.scheduler.batches import BatchCoordinator
from vokaflow.scheduler.inflight import Chunk, InFlight
from vokaflow.scheduler.policy import (
    PROMOTION_CEILING,
    Autoscaler,
    StarvationRule,
    chunk_size,
    pack,
    plan_claims,
    recent_run_s,
    retry_delay_s,
    runs_long,
    urgent_reserve,
)
from vokaflow.scheduler.task_logs import settle_entries
from vokaflow.store.batch_store import BatchStore
from vokaflow.store.category_stats import RETRIED, CategoryStats
from vokaflow.store.dead_letters import DeadLetterStore
from vokaflow.store.dispatch_store import (
    ClaimedTask,
    ClaimRequest,
    DispatchStore,
    Retry,
    Settled,
)
from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.events import Event, EventLog
from vokaflow.store.keys import Keys
from vokaflow.store.logs import LogStore
from vokaflow.store.metrics_store import MetricsStore
from vokaflow.store.redis_client import connect
from vokaflow.store.task_store import TaskStore
from vokaflow.workers.context import WorkerEnv
from vokaflow.workers.executor import TaskSpec, execute_chunk
from vokaflow.workers.node_probe import read_node
from vokaflow.workers.resources import ask_autoscaler, pool_slots, task_options

log = logging.getLogger("vokaflow.scheduler")
T = TypeVar("T")

REDIS_RETRY_S = 0.5
CAPACITY_REFRESH_S = 10.0
HOUSEKEEPING_S = 0.1
DEADLINE_CHECK_S = 0.05
SLOW_CHORES_S = 1.0
MEAN_SMOOTHING = 0.2
WAKE_COALESCE_S = 0.002
NODE_PROBE_S = 5.0
ASK_EVERY_S = 1.0  # a changed ask for nodes goes to Ray's autoscaler at most this often
NODE_PROBE_TIMEOUT_S = 10.0
NODE_STATS_TTL_S = 60


class Scheduler:
    def __init__(self, wire_settings: dict[str, Any], redis_url: str) -> None:
        self.settings = s = Settings.from_wire(wire_settings)
        client = connect(redis_url)
        keys = Keys(s.key_prefix, s.partitions)
        install_service_logging("scheduler", redis_url, keys)
        self.tasks = TaskStore(client, keys, s.task_retention_s)
        self.dispatch = DispatchStore(client, keys, s.task_retention_s)
        self.dead_letters = DeadLetterStore(client, keys, s.task_retention_s)
        self.events = EventLog(client, keys)
        self.logs = LogStore(client, keys, s.task_retention_s)
        self.category_stats = CategoryStats(client, keys)
        self.metrics = MetricsStore(client, keys)
        self.prometheus = scheduler_metrics()
        self.batches = BatchCoordinator(
            BatchStore(client, keys, s.task_retention_s),
            self.tasks,
            self.dispatch,
            capacity_of=lambda wt: self.capacity[wt],
            stop_running=self._stop_task,
            events=self.events,
        )
        self.capacity: dict[WorkerType, int] = dict.fromkeys(WorkerType, 0)
        self.target: dict[WorkerType, int] = dict.fromkeys(WorkerType, 0)
        self.target_changed: dict[WorkerType, float] = dict.fromkeys(WorkerType, 0.0)
        self.mean_task_s: dict[WorkerType, float] = dict.fromkeys(WorkerType, 0.001)
        self.function_run_s: dict[str, float] = {}  # which functions are short enough to pack
        self.autoscaler = Autoscaler(s.scale_up_queue_size, s.scale_down_queue_size)
        self.asked: dict[WorkerType, int] = dict.fromkeys(WorkerType, 0)  # from Ray's autoscaler
        self.asked_at = float("-inf")
        self.starvation = StarvationRule(s.starvation_factor)
        self.inflight = InFlight()
        # Pools that may have ready tasks: a pool seen empty is skipped until a submit for it
        # (its wake-up names it) or a periodic sweep. The generation guards the race between
        # a count that saw the pool empty and a wake-up that arrived meanwhile.
        self.maybe_ready: set[WorkerType] = set(WorkerType)
        self.hint_generation = 0
        self.rng = random.Random()
        self.wakeup = asyncio.Event()
        self.draining = False
        self.settling = 0  # chunks back from their worker whose outcomes are being written
        self.owners_indexed = False  # dead letters listed per owner (once per Redis)
        self.handle = ray.get_runtime_context().current_actor
        self.worker_env = ray.put(
            WorkerEnv(redis_url, wire_settings, tuple(self.settings.plugin_modules))
        )
        loop = asyncio.get_event_loop()
        self._background = [
            loop.create_task(coro)
            for coro in (
                self._run(),
                self._listen(),
                self._beat(),
                self._housekeeping(),
                self._watch_deadlines(),
                self._probe_nodes(),
            )
        ]

    # ------------------------------------------------------------ called by others

    async def ping(self) -> str:
        return "pong"

    async def drain(self, grace_s: float) -> int:
        """Dispatch nothing more and wait up to ``grace_s`` for running chunks to finish.
        Returns how many chunks still run; they go back to the queue on the next start."""
        self.draining = True
        deadline = time.monotonic() + grace_s
        while (self.inflight.chunks or self.settling) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return len(self.inflight.chunks)

    async def chunk_started(self, chunk_id: int, worker_pid: int, started_at: float) -> None:
        """The executor's first word: timeouts run from here, and status shows the PID."""
        chunk = self.inflight.chunks.get(chunk_id)
        if chunk is None or chunk.stopped:
            return
        chunk.started_wall = started_at
        running_for_s = max(0.0, time.time() - started_at)
        self.inflight.set_deadline(chunk, time.monotonic() + chunk.timeout_s - running_for_s)
        if len(chunk.tasks) == 1:
            with contextlib.suppress(StoreUnavailable):
                await self.dispatch.mark_started([chunk.tasks[0].task_id], worker_pid, started_at)

    # ------------------------------------------------------------ dispatch

    async def _run(self) -> None:
        self._refresh_capacity()
        requeued = await self._until_redis(self.dispatch.requeue_all_running)
        await self._until_redis(self.batches.recover)
        log.info(
            "scheduler started: pools %s; %d tasks left running before were queued again",
            {wt.value: n for wt, n in self.capacity.items()},
            requeued,
        )
        while True:
            self.wakeup.clear()
            try:
                progressed = await self._dispatch_round()
            except Exception:
                log.exception("dispatch round failed")
                await asyncio.sleep(REDIS_RETRY_S)
                continue
            if not progressed:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), self.settings.scheduler_poll_s)
                    # Let a burst of submits land (and their replies go out) before the next
                    # round: one round then claims them all, for a little latency.
                    await asyncio.sleep(WAKE_COALESCE_S)

    def _free_slots(self) -> dict[WorkerType, tuple[int, int]]:
        """Per pool with room: (slots for any level, slots for urgent levels)."""
        free = {}
        for wt, capacity in self.capacity.items():
            reserve = urgent_reserve(capacity, self.settings.urgent_reserved_fraction)
            in_flight = self.inflight.per_pool[wt]
            free_any = max(0, min(self.target[wt], capacity - reserve) - in_flight)
            free_all = max(0, capacity - in_flight)
            if free_all:
                free[wt] = (free_any, free_all)
        return free

    def _hint(self, pools: str) -> None:
        self.hint_generation += 1
        if pools in ("*", "1"):
            self.maybe_ready.update(WorkerType)
        else:
            self.maybe_ready.update(
                WorkerType(p) for p in pools.split(",") if p in WorkerType.__members__
            )
        self.wakeup.set()

    async def _dispatch_round(self) -> bool:
        if self.draining:
            return False
        free = {wt: slots for wt, slots in self._free_slots().items() if wt in self.maybe_ready}
        if not free:
            return False
        generation = self.hint_generation
        counts = await self.dispatch.level_counts(free)
        requests: list[ClaimRequest] = []
        sizes: dict[WorkerType, int] = {}
        for wt, (free_any, free_all) in free.items():
            backlog = sum(sum(levels) for levels in counts[wt].values())
            if backlog == 0:
                if generation == self.hint_generation:
                    self.maybe_ready.discard(wt)
                continue
            size = chunk_size(
                free_all,
                self.mean_task_s[wt],
                self.settings.chunk_target_s,
                self.settings.max_chunk_size,
            )
            sizes[wt] = size
            requests += plan_claims(wt, counts[wt], free_any * size, (free_all - free_any) * size)
        if not requests:
            return False
        now = time.time()
        claimed = await self.dispatch.claim(requests, now)
        by_pool: dict[WorkerType, list[ClaimedTask]] = defaultdict(list)
        for task in claimed:
            by_pool[task.worker_type].append(task)
        for wt, tasks in by_pool.items():
            tasks.sort(key=lambda t: t.priority.level)
            self._launch_chunks(wt, tasks, sizes[wt], free[wt])
        with _telemetry_guard():
            self.prometheus.observe_dispatch(
                (t.priority, now - t.queued_since)
                for t in claimed
                if t.attempt == 1 and t.queued_since > 0
            )
        # A round that took all it asked for may have left ready tasks: the next one goes at
        # once. One that took less emptied the queues, so the next waits for a wake-up and
        # the coalescing delay, and finds several tasks to pack rather than one.
        return len(claimed) >= sum(request.count for request in requests)

    def _launch_chunks(
        self, worker_type: WorkerType, tasks: list[ClaimedTask], size: int, free: tuple[int, int]
    ) -> None:
        """Launch what goes alone first, then the others packed about ``size`` a call."""
        free_any, free_all = free
        target_s = self.settings.chunk_target_s
        run_s = self.function_run_s

        def long(task: ClaimedTask) -> bool:
            return runs_long(run_s.get(task.function_name), target_s)

        for chunk in pack(tasks, size, free_any, free_all - free_any, long):
            self._launch(worker_type, chunk)

    def _launch(self, worker_type: WorkerType, tasks: list[ClaimedTask]) -> None:
        chunk = self.inflight.add(worker_type, tasks)
        specs = [task_spec(t) for t in tasks]
        options = task_options(worker_type)
        chunk.ref = execute_chunk.options(**options).remote(
            specs, chunk.chunk_id, self.handle, self.worker_env
        )
        asyncio.get_event_loop().create_task(self._collect(chunk))

    # ------------------------------------------------------------ outcomes

    async def _collect(self, chunk: Chunk) -> None:
        outcomes: list[Outcome] | None = None
        failure: RayError | None = None
        try:
            outcomes = await chunk.ref  # type: ignore[misc]
        except RayError as exc:
            failure = exc
        finally:
            self.inflight.remove(chunk)  # the slot is free now; drain also waits for settling
            self.settling += 1
            self.wakeup.set()
        try:
            if chunk.stopped:
                return
            if outcomes is None:
                await self._worker_lost(chunk, failure)
                return
            self._observe(chunk.worker_type, outcomes)
            await self._settle(chunk.tasks, outcomes)
        finally:
            self.settling -= 1

    def _observe(self, worker_type: WorkerType, outcomes: list[Outcome]) -> None:
        if outcomes:
            mean = sum(o.execution_time for o in outcomes) / len(outcomes)
            old = self.mean_task_s[worker_type]
            self.mean_task_s[worker_type] = old + MEAN_SMOOTHING * (mean - old)
        run_s = self.function_run_s
        for o in outcomes:
            run_s[o.function_name] = recent_run_s(
                run_s.get(o.function_name), o.execution_time, MEAN_SMOOTHING
            )

    async def _settle(self, tasks: list[ClaimedTask], outcomes: list[Outcome]) -> None:
        final: list[Outcome] = []
        retries: list[Retry] = []
        now_ms = int(time.time() * 1000)
        for task, outcome in zip(tasks, outcomes, strict=True):
            if outcome.status == TaskStatus.FAILED and task.attempt <= task.max_retries:
                delay_s = retry_delay_s(
                    task.attempt,
                    self.settings.retry_backoff_base_s,
                    self.settings.retry_backoff_max_s,
                    self.rng,
                )
                retries.append(Retry(outcome, now_ms + int(delay_s * 1000)))
            else:
                final.append(outcome)
        settled = await self._until_redis(lambda: self.dispatch.settle(final, retries))
        await self._until_redis(partial(self._record, tasks, settled))
        by_id = {task.task_id: task for task in tasks}
        with _telemetry_guard():
            self.prometheus.count_finished(
                (by_id[o.task_id].category, by_id[o.task_id].priority.value, o.status.value)
                for o in settled.final
            )
        await self._announce(tasks, settled.final)
        await self._count_in_batches(tasks, settled.final)

    async def _record(self, tasks: list[ClaimedTask], settled: Settled) -> None:
        """Log lines and per-category counts of what was written, in one round trip."""
        task_lines, system = settle_entries(tasks, settled.final, settled.retries)
        by_id = {task.task_id: task for task in tasks}
        counted = [(o.status.value, o) for o in settled.final]
        counted += [(RETRIED, r.outcome) for r in settled.retries]
        outcomes = [
            (by_id[o.task_id].category, by_id[o.task_id].owner, status, o.execution_time)
            for status, o in counted
        ]
        await self.logs.write(
            task_lines, system, also=partial(self.category_stats.queue_outcomes, outcomes=outcomes)
        )

    async def _announce(self, tasks: list[ClaimedTask], current: list[Outcome]) -> None:
        owner_of = {t.task_id: t.owner for t in tasks}
        events = [
            Event.task_ended(o.status, owner_of.get(o.task_id, ""), o.task_id, o.completed_at)
            for o in current
        ]
        await self._until_redis(partial(self.events.emit, events))

    async def _count_in_batches(self, tasks: list[ClaimedTask], current: list[Outcome]) -> None:
        batch_of = {t.task_id: t.batch_id for t in tasks if t.batch_id}
        tally = Counter((batch_of[o.task_id], o.status) for o in current if o.task_id in batch_of)
        for (batch_id, status), n in tally.items():
            await self._until_redis(
                partial(self.batches.batches.count_terminal, batch_id, status, n)
            )
        for batch_id in {b for b, _ in tally}:
            await self._until_redis(partial(self.batches.advance, batch_id))

    async def _worker_lost(self, chunk: Chunk, failure: RayError | None) -> None:
        """The worker died under the chunk: run its tasks again, a bounded number of times."""
        limit = self.settings.max_system_retries
        again = [(t.task_id, t.attempt) for t in chunk.tasks if t.system_retries < limit]
        given_up = [t for t in chunk.tasks if t.system_retries >= limit]
        if again:
            await self._until_redis(lambda: self.dispatch.requeue(again, solo=len(chunk.tasks) > 1))
            self._hint(chunk.worker_type.value)
        if given_up:
            message = f"worker lost {limit + 1} times: {type(failure).__name__}: {failure}"[:2000]
            ended = [
                _ended(t, chunk.started_wall, TaskStatus.FAILED, "WorkerLost", message)
                for t in given_up
            ]
            await self._settle(given_up, ended)

    # ------------------------------------------------------------ stopping running work

    def _stop_chunk(self, chunk: Chunk) -> None:
        chunk.stopped = True
        if chunk.ref is not None:
            ray.cancel(chunk.ref, force=True)

    def _stop_task(self, task_id: str) -> None:
        """Stop the worker running ``task_id``; other tasks of its chunk run again, alone."""
        chunk = self.inflight.of_task(task_id)
        if chunk is None or chunk.stopped:
            return
        self._stop_chunk(chunk)
        others = [(t.task_id, t.attempt) for t in chunk.tasks if t.task_id != task_id]
        if others:
            asyncio.get_event_loop().create_task(
                self._until_redis(lambda: self.dispatch.requeue(others, solo=True))
            )
            self._hint(chunk.worker_type.value)

    async def _on_deadline(self, chunk: Chunk) -> None:
        self._stop_chunk(chunk)
        if len(chunk.tasks) > 1:  # which task overran is unknown: each runs again alone
            pairs = [(t.task_id, t.attempt) for t in chunk.tasks]
            await self._until_redis(lambda: self.dispatch.requeue(pairs, solo=True))
            self._hint(chunk.worker_type.value)
            return
        [task] = chunk.tasks
        message = f"Task exceeded its timeout of {task.timeout_s:g} s; its worker was stopped"
        await self._settle(
            [task],
            [_ended(task, chunk.started_wall, TaskStatus.TIMEOUT, "TimeoutError", message)],
        )

    async def _watch_deadlines(self) -> None:
        while True:
            for chunk in self.inflight.overdue(time.monotonic()):
                try:
                    await self._on_deadline(chunk)
                except Exception:
                    log.exception("timing out chunk %s failed", chunk.chunk_id)
            await asyncio.sleep(DEADLINE_CHECK_S)

    # ------------------------------------------------------------ side loops

    async def _listen(self) -> None:
        """Wake-ups from submits, cancels of running tasks and batch events, over pub/sub."""
        keys = self.tasks.keys
        while True:
            try:
                pubsub = await self.tasks.subscribe(
                    keys.wakeup_channel,
                    keys.cancel_channel,
                    keys.batch_channel,
                    keys.webhooks_channel,
                )
                self._hint("*")  # wake-ups sent while the connection was down are gone
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None:
                        continue
                    if message["channel"] == keys.cancel_channel:
                        self._stop_task(message["data"])
                    elif message["channel"] == keys.batch_channel:
                        asyncio.get_event_loop().create_task(self.batches.advance(message["data"]))
                    elif message["channel"] == keys.webhooks_channel:
                        self.events.refresh_owners()
                    else:
                        self._hint(message["data"])
            except Exception:
                log.warning("pub/sub connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(REDIS_RETRY_S)

    async def _housekeeping(self) -> None:
        last_slow = 0.0
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            try:
                now = time.time()
                if await self.dispatch.release_due_retries(int(now * 1000)):
                    self._hint("*")
                await self._autoscale()
                if now - last_slow >= SLOW_CHORES_S:
                    last_slow = now
                    await self._slow_chores(now)
                    self._hint("*")
            except StoreUnavailable:
                await asyncio.sleep(REDIS_RETRY_S)
            except Exception:
                log.exception("housekeeping failed")

    async def _slow_chores(self, now: float) -> None:
        now_ms = int(now * 1000)
        if not self.owners_indexed:
            await self.dead_letters.index_owners()
            self.owners_indexed = True
        waits = [self.starvation.wait_before_promotion_ms(level) for level in range(len(Priority))]
        await self.dispatch.promote_starving(now_ms, waits, PROMOTION_CEILING)
        await self.batches.expire_due(now_ms)
        await self.batches.finish_interrupted(now - self.settings.batch_submit_grace_s)
        await self.dead_letters.forget_expired(now_ms)

    async def _autoscale(self) -> None:
        """At every housekeeping tick (0.1 s): under a backlog a pool's concurrency doubles
        at once; without one it halves at most once per the autoscaler's shrink period.
        A pool that is full and still has a backlog asks Ray's autoscaler for nodes."""
        queued = await self.tasks.queue_sizes()
        now = time.monotonic()
        for wt in WorkerType:
            target = self.autoscaler.next_target(
                self.target[wt], queued[wt], self.capacity[wt], now - self.target_changed[wt]
            )
            if target != self.target[wt]:
                self.target[wt], self.target_changed[wt] = target, now
                self.wakeup.set()
        await self._ask_for_nodes(queued, now)

    async def _ask_for_nodes(self, queued: dict[WorkerType, int], now: float) -> None:
        """Demand counts the tasks packed into running chunks too: under a backlog the queue
        in Redis empties into chunks long before the pool has done the work."""
        free = self._free_slots()
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
            await asyncio.to_thread(ask_autoscaler, wanted)
        except Exception:  # the pools keep what they have; asked again after ASK_EVERY_S
            log.warning("asking Ray's autoscaler for nodes failed", exc_info=True)
            return
        log.info("asked Ray's autoscaler for slots: %s", {w.value: n for w, n in wanted.items()})
        self.asked = asks

    async def _beat(self) -> None:
        last_refresh = time.monotonic()
        ttl_s = max(1, int(self.settings.scheduler_stale_after_s))
        while True:
            if time.monotonic() - last_refresh > CAPACITY_REFRESH_S:
                self._refresh_capacity()
                last_refresh = time.monotonic()
            with contextlib.suppress(StoreUnavailable):
                await self.dispatch.beat(time.time(), self._pool_report(), ttl_s)
            with _telemetry_guard():
                self.prometheus.set_pools(
                    {wt.value: (self.inflight.per_pool[wt], self.capacity[wt]) for wt in WorkerType}
                )
            await asyncio.sleep(self.settings.scheduler_heartbeat_s)

    async def _probe_nodes(self) -> None:
        """Every NODE_PROBE_S, a psutil reading from each alive Ray node, for the metrics."""
        while True:
            try:
                await self.metrics.write_node_stats(await _read_nodes(), NODE_STATS_TTL_S)
            except Exception:
                log.warning("reading the nodes' resources failed", exc_info=True)
            await asyncio.sleep(NODE_PROBE_S)

    def _pool_report(self) -> dict[WorkerType, dict[str, float]]:
        return {
            wt: {
                "capacity": self.capacity[wt],
                "active": self.inflight.per_pool[wt],
                "target": self.target[wt],
                "mean_task_s": self.mean_task_s[wt],
            }
            for wt in WorkerType
        }

    def _refresh_capacity(self) -> None:
        slots = pool_slots(ray.cluster_resources())
        for wt in WorkerType:
            self.capacity[wt] = max(0, min(self.settings.pool_max_workers[wt], slots.get(wt, 0)))
            self.target[wt] = max(
                self.autoscaler.floor(self.capacity[wt]), min(self.target[wt], self.capacity[wt])
            )
        self.wakeup.set()

    @staticmethod
    async def _until_redis(operation: Callable[[], Awaitable[T]]) -> T:
        """Retry until Redis answers: an outcome must not be dropped."""
        while True:
            try:
                return await operation()
            except StoreUnavailable:
                await asyncio.sleep(REDIS_RETRY_S)


async def _read_nodes() -> dict[str, dict[str, Any]]:
    nodes = await asyncio.to_thread(ray.nodes)  # a blocking call to Ray's GCS
    refs = {
        node["NodeID"]: read_node.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote()
        for node in nodes
        if node.get("Alive")
    }
    ready, not_ready = await asyncio.to_thread(
        ray.wait, list(refs.values()), num_returns=len(refs), timeout=NODE_PROBE_TIMEOUT_S
    )
    for ref in not_ready:
        ray.cancel(ref, force=True)
    readings: dict[str, dict[str, Any]] = {}
    for node_id, ref in refs.items():
        if ref in ready:
            with contextlib.suppress(RayError):
                readings[node_id] = await ref
    return readings


def task_spec(task: ClaimedTask) -> TaskSpec:
    """What a worker needs to run a claimed task."""
    return TaskSpec(
        task_id=task.task_id,
        attempt=task.attempt,
        function_name=task.function_name,
        args=task.args,
        kwargs=task.kwargs,
        owner=task.owner,
        data_scope=task.data_scope,
        submitted_at=task.created_at,
    )


@contextlib.contextmanager
def _telemetry_guard() -> Iterator[None]:
    """Metrics must never break dispatch or settling."""
    try:
        yield
    except Exception:
        log.warning("recording metrics failed", exc_info=True)


def _ended(
    task: ClaimedTask, started_at: float, status: TaskStatus, error_type: str, message: str
) -> Outcome:
    now = time.time()
    return Outcome(
        task_id=task.task_id,
        attempt=task.attempt,
        status=status,
        started_at=started_at,
        completed_at=now,
        error={"type": error_type, "message": message, "traceback": None},
        function_name=task.function_name,
    )


SchedulerActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(Scheduler)


def ensure_scheduler(settings: Settings, redis_url: str) -> Any:
    """The running scheduler, started if there is none."""
    return SchedulerActor.options(
        name=SCHEDULER_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
    ).remote(settings.to_wire(), redis_url)
