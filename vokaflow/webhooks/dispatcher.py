"""The webhook dispatcher: a detached Ray actor that reads the event stream with a consumer
group and delivers each entry to its owner's webhooks.

An entry is acknowledged only after every delivery for it has ended (delivered or given
up), so entries read by an incarnation that died are read again by the next one:
at-least-once, with a delivery id that stays the same. It runs apart from the scheduler,
so a slow receiver never delays task dispatch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import ray

from vokaflow import tracing
from vokaflow.config import NAMESPACE, Settings
from vokaflow.domain.task import task_trace_parent
from vokaflow.observability.prometheus import webhook_metrics
from vokaflow.observability.service_logs import install_service_logging
from vokaflow.store.batch_store import BatchStore
from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.events import EventQueue
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect
from vokaflow.store.task_store import TaskStore
from vokaflow.store.webhooks import WebhookStore
from vokaflow.webhooks.delivery import (
    CountedLog,
    Delivery,
    RetryPolicy,
    WebhookSender,
    delivery_id,
    http_client,
)
from vokaflow.webhooks.payloads import batch_data, is_batch_event, payload, task_data
from vokaflow.webhooks.ssrf import Allowlist

DISPATCHER_NAME = "vokaflow-webhooks"
CONSUMER = "dispatcher"  # one actor: a restarted one finds its predecessor's pending entries
MAX_ENTRIES_IN_FLIGHT = 256
MAX_IN_FLIGHT_PER_OWNER = 32
PENDING_RESCAN_S = 5.0
READ_BLOCK_MS = 1000  # below the Redis client's socket timeout
RETRY_S = 1.0
MAX_ENTRY_FAILURES = 5

log = logging.getLogger("vokaflow.webhooks")


class WebhookDispatcher:
    def __init__(self, wire_settings: dict[str, Any], redis_url: str) -> None:
        settings = Settings.from_wire(wire_settings)
        tracing.configure(settings, "vokaflow-webhooks")
        self.keys = Keys(settings.key_prefix, settings.partitions)
        install_service_logging("webhooks", redis_url, self.keys)
        client = connect(redis_url)
        self.events = EventQueue(client, self.keys, CONSUMER)
        self.webhooks = WebhookStore(client, self.keys)
        self.tasks = TaskStore(client, self.keys, settings.task_retention_s)
        self.batches = BatchStore(client, self.keys, settings.task_retention_s)
        policy = RetryPolicy.from_settings(settings)
        self.sender = WebhookSender(
            http_client(policy),
            CountedLog(self.webhooks, webhook_metrics().count_attempt),
            policy,
            Allowlist.parse(settings.webhook_allowed_hosts),
        )
        self.handling: dict[str, asyncio.Task[None]] = {}  # strong refs: asyncio keeps weak ones
        self.per_owner: Counter[str] = Counter()
        self._consuming = asyncio.get_event_loop().create_task(self._run())

    async def ping(self) -> str:
        return "pong"

    async def _run(self) -> None:
        while True:
            try:
                await self.events.open()
                await self._consume()
            except Exception:
                log.warning("reading the event stream failed; trying again", exc_info=True)
                await asyncio.sleep(RETRY_S)

    async def _consume(self) -> None:
        """First the entries read before but never acknowledged, then new ones; every
        PENDING_RESCAN_S, the unacknowledged ones again, to start those deferred because
        their owner had MAX_IN_FLIGHT_PER_OWNER entries in flight."""
        after, rescan_at = "0", time.monotonic() + PENDING_RESCAN_S
        while True:
            if after == ">" and time.monotonic() >= rescan_at:
                after, rescan_at = "0", time.monotonic() + PENDING_RESCAN_S
            free = MAX_ENTRIES_IN_FLIGHT - len(self.handling)
            if free <= 0:
                await asyncio.sleep(0.05)
                continue
            entries = await self.events.read(after, free, READ_BLOCK_MS if after == ">" else None)
            if after != ">" and not entries:
                after = ">"
                continue
            for entry_id, fields in entries:
                self._start(entry_id, fields)
            if after != ">":
                after = entries[-1][0]

    def _start(self, entry_id: str, fields: dict[str, str]) -> None:
        """Handle the entry, unless it is in hand or its owner has its share in flight:
        one owner's dead receiver must not take every slot from the others."""
        owner = fields.get("owner", "")
        if entry_id in self.handling or self.per_owner[owner] >= MAX_IN_FLIGHT_PER_OWNER:
            return
        self.per_owner[owner] += 1
        task = asyncio.get_event_loop().create_task(self._handle(entry_id, fields))
        self.handling[entry_id] = task
        task.add_done_callback(lambda _: self._release_owner(owner))

    def _release_owner(self, owner: str) -> None:
        self.per_owner[owner] -= 1
        if self.per_owner[owner] <= 0:
            del self.per_owner[owner]

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        """Deliver the entry, then acknowledge it. While Redis is away, again until it is
        back (nothing is lost); after MAX_ENTRY_FAILURES other failures the entry is given
        up, so no entry holds its slot for ever."""
        failures = 0
        try:
            while failures < MAX_ENTRY_FAILURES:
                try:
                    await self._deliver_entry(entry_id, fields)
                    break
                except StoreUnavailable:
                    log.warning("entry %s waits for Redis", entry_id)
                except Exception:
                    failures += 1
                    log.warning("delivering entry %s failed; again", entry_id, exc_info=True)
                await asyncio.sleep(RETRY_S)
            else:
                log.error("gave up entry %s after %d failures: %s", entry_id, failures, fields)
            await self.events.acknowledge(entry_id)
        finally:
            self.handling.pop(entry_id, None)

    async def _deliver_entry(self, entry_id: str, fields: dict[str, str]) -> None:
        event, owner, subject_id = fields.get("event"), fields.get("owner"), fields.get("id")
        if not (event and owner and subject_id):
            log.warning("skipping malformed event entry %s: %s", entry_id, fields)
            return
        hooks = [hook for hook in await self.webhooks.of_owner(owner) if hook.wants(event)]
        if not hooks:
            return
        data, trace_parent = await self._data(event, subject_id)
        body = payload(event, float(fields.get("at") or 0), data)
        await asyncio.gather(
            *(
                self.sender.deliver(
                    hook,
                    Delivery(
                        delivery_id(hook.webhook_id, entry_id),
                        event,
                        subject_id,
                        body,
                        trace_parent,
                    ),
                )
                for hook in hooks
            )
        )

    async def _data(self, event: str, subject_id: str) -> tuple[dict[str, Any], str]:
        """The event's data, and the traceparent of its task's submit ("" if untraced)."""
        if is_batch_event(event):
            return batch_data(subject_id, await self.batches.get(subject_id)), ""
        record = await self.tasks.get(subject_id)
        trace_parent = task_trace_parent(record) if tracing.enabled() else ""
        return task_data(event, subject_id, record), trace_parent


WebhookDispatcherActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(
    WebhookDispatcher
)


def ensure_dispatcher(settings: Settings, redis_url: str) -> Any:
    """The running webhook dispatcher, started if there is none."""
    return WebhookDispatcherActor.options(
        name=DISPATCHER_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
    ).remote(settings.to_wire(), redis_url)
