"""The scheduler actor: one named, detached, async Ray actor that Ray restarts if it dies.

A thin shell: it builds the real stores, the Ray executor and cluster, and the system
clock, wires the scheduler's parts from them (core.py) and runs their loops. The parts
claim ready tasks by priority, dispatch them in chunks, settle outcomes, enforce timeouts,
release retries and delayed tasks (in a child process of its own), promote starving tasks,
scale pools and expire batches. On start the scheduler re-queues what a previous
incarnation left running: all state lives in Redis.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray

from vokaflow import tracing
from vokaflow.config import NAMESPACE, Settings
from vokaflow.lifecycle.ending import TaskEnding
from vokaflow.long_lived import SCHEDULER_YOUNG_THRESHOLD, freeze_what_lives_on
from vokaflow.observability.prometheus import scheduler_metrics
from vokaflow.observability.service_logs import install_service_logging
from vokaflow.scheduler import SCHEDULER_NAME
from vokaflow.scheduler.batches import BatchCoordinator
from vokaflow.scheduler.core import Channels, Ports, SchedulerCore
from vokaflow.scheduler.ports import SystemClock
from vokaflow.scheduler.ray_adapters import RayCluster, RayExecutor, read_nodes
from vokaflow.scheduler.release_process import start_release_process
from vokaflow.scheduler.schedule_firer import submit_through
from vokaflow.store.batch_store import BatchStore
from vokaflow.store.category_stats import CategoryStats
from vokaflow.store.dead_letters import DeadLetterStore
from vokaflow.store.dispatch_store import DispatchStore
from vokaflow.store.events import EventLog
from vokaflow.store.keys import Keys
from vokaflow.store.logs import LogStore
from vokaflow.store.metrics_store import MetricsStore
from vokaflow.store.rate_limits import RedisRateLimiter
from vokaflow.store.redis_client import connect
from vokaflow.store.schedules import ScheduleStore
from vokaflow.store.task_index import TaskIndex
from vokaflow.store.task_store import TaskStore
from vokaflow.workers.env import WorkerEnv

log = logging.getLogger("vokaflow.scheduler")

NODE_PROBE_S = 5.0
NODE_STATS_TTL_S = 60
RELEASER_CHECK_S = 1.0


class Scheduler:
    def __init__(self, wire_settings: dict[str, Any], redis_url: str) -> None:
        self.settings = s = Settings.from_wire(wire_settings)
        tracing.configure(s, "vokaflow-scheduler")
        client = connect(redis_url)
        keys = Keys(s.key_prefix, s.partitions)
        install_service_logging("scheduler", redis_url, keys)
        tasks = TaskStore(client, keys, s.task_retention_s)
        dispatch = DispatchStore(client, keys, s.task_retention_s)
        events = EventLog(client, keys)
        clock = SystemClock()
        metrics = scheduler_metrics()
        batch_store = BatchStore(client, keys, s.task_retention_s)
        ending = TaskEnding(
            dispatch=dispatch,
            tasks=tasks,
            batches=batch_store,
            logs=LogStore(client, keys, s.task_retention_s),
            category_stats=CategoryStats(client, keys),
            events=events,
            metrics=metrics,
            advance_batch=lambda batch_id: batches.advance(batch_id),
        )
        batches = BatchCoordinator(
            batch_store,
            tasks,
            dispatch,
            capacity_of=lambda wt: self.core.scaler.capacity[wt],
            ending=ending,
            events=events,
        )
        worker_env = WorkerEnv(redis_url, wire_settings, tuple(s.plugin_modules))
        ports = Ports(
            store=dispatch,
            queues=tasks,
            executor=RayExecutor(ray.get_runtime_context().current_actor, worker_env),
            cluster=RayCluster(),
            ending=ending,
            metrics=metrics,
            batches=batches,
            dead_letters=DeadLetterStore(client, keys, s.task_retention_s),
            task_index=TaskIndex(client, keys, s.task_retention_s),
            subscriber=tasks,
            channels=Channels(
                keys.wakeup_channel, keys.cancel_channel, keys.batch_channel, keys.webhooks_channel
            ),
            webhooks_changed=events.refresh_owners,
            schedules=ScheduleStore(client, keys),
            submit_fire=submit_through(tasks, RedisRateLimiter(client, keys, s.limit_table)),
            clock=clock,
        )
        self.core = SchedulerCore(ports, s)
        self.node_metrics = MetricsStore(client, keys)
        self.releaser = start_release_process(redis_url, wire_settings)
        self._background = [
            *self.core.start(),
            asyncio.get_event_loop().create_task(self._probe_nodes()),
            asyncio.get_event_loop().create_task(self._keep_releasing(redis_url, wire_settings)),
        ]
        freeze_what_lives_on(SCHEDULER_YOUNG_THRESHOLD)

    async def ping(self) -> str:
        return "pong"

    async def drain(self, grace_s: float) -> int:
        """Dispatch nothing more and wait up to ``grace_s`` for running chunks to finish.
        Returns how many chunks still run; they go back to the queue on the next start."""
        return await self.core.drain(grace_s)

    async def chunk_started(self, chunk_id: int, worker_pid: int, started_at: float) -> None:
        """The executor's first word: timeouts run from here, and status shows the PID."""
        await self.core.chunk_started(chunk_id, worker_pid, started_at)

    async def _keep_releasing(self, redis_url: str, wire_settings: dict[str, Any]) -> None:
        """A releaser process that ended (it never should) is started again."""
        while True:
            await asyncio.sleep(RELEASER_CHECK_S)
            if self.releaser.poll() is not None:
                log.warning(
                    "the releaser process ended (%s); starting it again", self.releaser.returncode
                )
                self.releaser = start_release_process(redis_url, wire_settings)

    async def _probe_nodes(self) -> None:
        """Every NODE_PROBE_S, a psutil reading from each alive Ray node, for the metrics."""
        while True:
            try:
                await self.node_metrics.write_node_stats(await read_nodes(), NODE_STATS_TTL_S)
            except Exception:
                log.warning("reading the nodes' resources failed", exc_info=True)
            await asyncio.sleep(NODE_PROBE_S)


SchedulerActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(Scheduler)


def ensure_scheduler(settings: Settings, redis_url: str) -> Any:
    """The running scheduler, started if there is none."""
    return SchedulerActor.options(
        name=SCHEDULER_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
    ).remote(settings.to_wire(), redis_url)
