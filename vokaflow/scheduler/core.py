"""The scheduler's parts wired from their ports, with the loops that drive them. The Ray
actor (actor.py) builds the real ports and runs this; unit tests build it from fakes. The
releaser is not here: it runs in a process of its own (release_process.py)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from vokaflow.config import Settings
from vokaflow.scheduler.dispatcher import Dispatcher
from vokaflow.scheduler.hints import ReadyHints
from vokaflow.scheduler.housekeeping import Housekeeper
from vokaflow.scheduler.inflight import InFlight
from vokaflow.scheduler.pool_scaler import PoolScaler
from vokaflow.scheduler.ports import (
    Batches,
    Clock,
    Cluster,
    DeadLetters,
    Ending,
    Executor,
    Metrics,
    QueueSizes,
    Schedules,
    Subscriber,
    TaskIndexUpkeep,
    TaskStore,
)
from vokaflow.scheduler.retrying import REDIS_RETRY_S, until_stored
from vokaflow.scheduler.schedule_firer import ScheduleFirer, Submit
from vokaflow.scheduler.settler import Settler
from vokaflow.scheduler.telemetry import Telemetry
from vokaflow.store.keys import partition_of

log = logging.getLogger("vokaflow.scheduler")

DRAIN_CHECK_S = 0.1


@dataclass(frozen=True)
class Channels:
    """The pub/sub channels the scheduler listens on."""

    wakeup: str
    cancel: str
    batch: str
    webhooks: str


@dataclass(frozen=True)
class Ports:
    store: TaskStore
    queues: QueueSizes
    executor: Executor
    cluster: Cluster
    ending: Ending
    metrics: Metrics
    batches: Batches
    dead_letters: DeadLetters
    task_index: TaskIndexUpkeep
    subscriber: Subscriber
    channels: Channels
    schedules: Schedules
    submit_fire: Submit
    webhooks_changed: Callable[[], None]
    clock: Clock


class SchedulerCore:
    def __init__(self, ports: Ports, settings: Settings, rng: random.Random | None = None) -> None:
        self.ports = p = ports
        clock = p.clock
        self.inflight = InFlight(clock=clock)
        self.hints = ReadyHints()
        self.scaler = PoolScaler(p.queues, p.cluster, self.inflight, self.hints, clock, settings)
        self.telemetry = Telemetry(p.metrics, p.store, self.scaler, clock, settings)
        self.settler = Settler(
            p.store,
            p.executor,
            p.ending,
            self.inflight,
            self.scaler,
            self.hints,
            clock,
            settings,
            rng or random.Random(),
        )
        self.dispatcher = Dispatcher(
            p.store,
            p.executor,
            self.inflight,
            self.scaler,
            self.settler,
            self.telemetry,
            self.hints,
            clock,
            settings,
        )
        self.housekeeper = Housekeeper(
            p.store,
            self.scaler,
            p.batches,
            p.dead_letters,
            p.task_index,
            p.ending,
            self.hints,
            clock,
            settings,
        )
        self.firer = ScheduleFirer(
            p.schedules,
            p.submit_fire,
            lambda task_id: partition_of(task_id, settings.partitions),
            clock,
            settings,
            p.metrics,
        )

    def start(self) -> list[asyncio.Task[None]]:
        loop = asyncio.get_event_loop()
        return [
            loop.create_task(coro)
            for coro in (
                self.run(),
                self.listen(),
                self.telemetry.run(),
                self.housekeeper.run(),
                self.settler.watch_deadlines(),
                self.firer.run(),
            )
        ]

    async def recover(self) -> int:
        """On start: what a previous incarnation left running goes back to its queue."""
        self.scaler.refresh_capacity()
        requeued = await until_stored(self.ports.store.requeue_all_running, self.ports.clock)
        await until_stored(self.ports.batches.recover, self.ports.clock)
        return requeued

    async def run(self) -> None:
        requeued = await self.recover()
        log.info(
            "scheduler started: pools %s; %d tasks left running before were queued again",
            {wt.value: n for wt, n in self.scaler.capacity.items()},
            requeued,
        )
        await self.dispatcher.run()

    async def drain(self, grace_s: float) -> int:
        """Dispatch and fire nothing more, and wait up to ``grace_s`` for running chunks to
        finish. Returns how many chunks still run; they go back to the queue on the next
        start."""
        self.dispatcher.draining = True
        self.firer.stopped = True
        clock = self.ports.clock
        deadline = clock.monotonic() + grace_s
        while (self.inflight.chunks or self.settler.settling) and clock.monotonic() < deadline:
            await clock.sleep(DRAIN_CHECK_S)
        return len(self.inflight.chunks)

    async def chunk_started(self, chunk_id: int, worker_pid: int, started_at: float) -> None:
        await self.settler.started(chunk_id, worker_pid, started_at)

    async def listen(self) -> None:
        """Wake-ups from submits, cancels of running tasks and batch events, over pub/sub."""
        channels = self.ports.channels
        while True:
            try:
                pubsub = await self.ports.subscriber.subscribe(
                    channels.wakeup, channels.cancel, channels.batch, channels.webhooks
                )
                self.hints.hint("*")  # wake-ups sent while the connection was down are gone
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self.on_message(message["channel"], message["data"])
            except Exception:
                log.warning("pub/sub connection lost; reconnecting", exc_info=True)
                await self.ports.clock.sleep(REDIS_RETRY_S)

    def on_message(self, channel: str, data: str) -> None:
        channels = self.ports.channels
        if channel == channels.cancel:
            self.settler.stop_task(data)
        elif channel == channels.batch:
            asyncio.get_event_loop().create_task(self.ports.batches.advance(data))
        elif channel == channels.webhooks:
            self.ports.webhooks_changed()
        else:
            self.hints.hint(data)
