"""The scheduler actor: one named, detached, async Ray actor that Ray restarts if it dies.

Its loop claims ready tasks, highest priority first, for the pools that have free slots,
dispatches each as a Ray remote call with its pool's resources, and writes outcomes back.
On start it re-queues what a previous incarnation left running: all state lives in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import ray
from ray.exceptions import RayError, TaskCancelledError

from vokaflow.config import Settings
from vokaflow.errors import ServiceUnavailable
from vokaflow.scheduler import NAMESPACE, SCHEDULER_NAME
from vokaflow.scheduler.policy import plan_claims, pool_capacity
from vokaflow.schemas import WorkerType
from vokaflow.store.keys import Keys
from vokaflow.store.records import Outcome
from vokaflow.store.redis_client import connect
from vokaflow.store.task_store import ClaimedTask, ClaimRequest, TaskStore
from vokaflow.workers.executor import TaskSpec, execute_chunk
from vokaflow.workers.resources import pool_slots, task_options

log = logging.getLogger("vokaflow.scheduler")

CAPACITY_REFRESH_S = 10.0
REDIS_RETRY_S = 0.5


class Scheduler:
    def __init__(self, wire_settings: dict[str, Any], redis_url: str) -> None:
        self.settings = Settings.from_wire(wire_settings)
        self.store = TaskStore(
            connect(redis_url), Keys(self.settings.key_prefix, self.settings.partitions)
        )
        self.capacity: dict[WorkerType, int] = {wt: 0 for wt in WorkerType}
        self.in_flight: dict[WorkerType, int] = {wt: 0 for wt in WorkerType}
        self.running_refs: dict[str, ray.ObjectRef] = {}
        self.dispatched_total = 0
        self.wakeup = asyncio.Event()
        self._background = [
            asyncio.get_event_loop().create_task(coro)
            for coro in (self._run(), self._listen(), self._beat())
        ]

    # ------------------------------------------------------------ public, for operators

    async def stats(self) -> dict[str, Any]:
        return {
            "capacity": {wt.value: n for wt, n in self.capacity.items()},
            "in_flight": {wt.value: n for wt, n in self.in_flight.items()},
            "dispatched_total": self.dispatched_total,
            "running": len(self.running_refs),
        }

    async def ping(self) -> str:
        return "pong"

    # ------------------------------------------------------------ main loop

    async def _run(self) -> None:
        self._refresh_capacity()
        await self._with_redis(self.store.requeue_running)
        while True:
            self.wakeup.clear()
            try:
                progressed = await self._dispatch_ready()
            except ServiceUnavailable:
                await asyncio.sleep(REDIS_RETRY_S)
                continue
            except Exception:
                log.exception("dispatch round failed")
                await asyncio.sleep(REDIS_RETRY_S)
                continue
            if not progressed:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), self.settings.scheduler_poll_s)

    async def _dispatch_ready(self) -> bool:
        free = {wt: self.capacity[wt] - self.in_flight[wt] for wt in WorkerType}
        free = {wt: n for wt, n in free.items() if n > 0}
        if not free:
            return False
        heads = await self.store.peek(free)
        requests: list[ClaimRequest] = []
        for worker_type, candidates in heads.items():
            requests.extend(plan_claims(worker_type, candidates, free[worker_type]))
        if not requests:
            return False
        now = time.time()
        lease_deadline_ms = int((now + self.settings.lease_s) * 1000)
        claimed = await self.store.claim(requests, lease_deadline_ms, now)
        for task in sorted(claimed, key=lambda t: (t.priority_level, t.task_id)):
            self._launch([task])
        return bool(claimed)

    def _launch(self, chunk: list[ClaimedTask]) -> None:
        worker_type = chunk[0].worker_type
        specs = [TaskSpec(t.task_id, t.attempt, t.function_name, t.args, t.kwargs) for t in chunk]
        ref = execute_chunk.options(**task_options(worker_type)).remote(specs)
        self.in_flight[worker_type] += 1
        self.dispatched_total += len(chunk)
        for task in chunk:
            self.running_refs[task.task_id] = ref
        asyncio.get_event_loop().create_task(self._collect(ref, worker_type, chunk))

    async def _collect(
        self, ref: ray.ObjectRef, worker_type: WorkerType, chunk: list[ClaimedTask]
    ) -> None:
        try:
            _pid, outcomes = await ref
        except TaskCancelledError:
            outcomes = []  # cancelled through the API: the record already says so
        except RayError as exc:
            outcomes = [self._system_failure(task, exc) for task in chunk]
        finally:
            self.in_flight[worker_type] -= 1
            for task in chunk:
                self.running_refs.pop(task.task_id, None)
            self.wakeup.set()
        if outcomes:
            await self._with_redis(lambda: self.store.finish(outcomes))

    @staticmethod
    def _system_failure(task: ClaimedTask, exc: RayError) -> Outcome:
        now = time.time()
        return Outcome(
            task_id=task.task_id,
            attempt=task.attempt,
            status="failed",
            started_at=now,
            completed_at=now,
            error={"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": None},
        )

    # ------------------------------------------------------------ side loops

    async def _listen(self) -> None:
        """Wake-ups from submits, and cancels of running tasks, over Redis pub/sub."""
        keys = self.store.keys
        while True:
            try:
                pubsub = self.store.redis.pubsub()
                await pubsub.subscribe(keys.wakeup_channel, keys.cancel_channel)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None:
                        continue
                    if message["channel"] == keys.cancel_channel:
                        self._stop_running(message["data"])
                    else:
                        self.wakeup.set()
            except Exception:
                log.warning("pub/sub connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(REDIS_RETRY_S)

    def _stop_running(self, task_id: str) -> None:
        ref = self.running_refs.get(task_id)
        if ref is not None:
            ray.cancel(ref, force=True)

    async def _beat(self) -> None:
        last_refresh = time.monotonic()
        ttl_s = max(1, int(self.settings.scheduler_stale_after_s))
        while True:
            if time.monotonic() - last_refresh > CAPACITY_REFRESH_S:
                self._refresh_capacity()
                last_refresh = time.monotonic()
            with contextlib.suppress(ServiceUnavailable):
                await self.store.beat(time.time(), self.capacity, ttl_s)
            await asyncio.sleep(self.settings.scheduler_heartbeat_s)

    def _refresh_capacity(self) -> None:
        slots = pool_slots(ray.cluster_resources())
        self.capacity = pool_capacity(self.settings.pool_max_workers, slots)
        self.wakeup.set()

    @staticmethod
    async def _with_redis(operation: Any) -> Any:
        """Retry an operation until Redis answers: an outcome must not be dropped."""
        while True:
            try:
                return await operation()
            except ServiceUnavailable:
                await asyncio.sleep(REDIS_RETRY_S)


SchedulerActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(Scheduler)


def ensure_scheduler(settings: Settings, redis_url: str) -> Any:
    """The running scheduler, started if there is none."""
    return SchedulerActor.options(
        name=SCHEDULER_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
    ).remote(settings.to_wire(), redis_url)
