"""Prometheus metrics through ray.util.metrics: Ray exports them from every node's metrics
agent (names prefixed ``ray_``), so they show in the Ray dashboard's Grafana panels and in
any Prometheus that scrapes Ray.

The gateway counts submits, refusals and cancels; the scheduler counts outcomes, queue
waits, SLA misses, pool occupancy, queue depths and schedule fires; the webhook dispatcher
counts delivery attempts. Each process creates the metric objects once, on first use.
"""

from __future__ import annotations

import functools
from collections import Counter as Tally
from collections.abc import Iterable

from ray.util import metrics

from vokaflow.domain import Priority

QUEUE_WAIT_BOUNDARIES_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200]


class GatewayMetrics:
    def __init__(self) -> None:
        self.submitted = metrics.Counter(
            "vokaflow_tasks_submitted",
            "Tasks accepted, by category and priority",
            tag_keys=("category", "priority"),
        )
        self.refused = metrics.Counter(
            "vokaflow_rate_limit_refusals",
            "Tasks refused by a category's rate limit",
            tag_keys=("category",),
        )

    def count_submitted(self, accepted: Iterable[tuple[str, str]]) -> None:
        """Count accepted (category, priority) pairs: one call per distinct pair."""
        for (category, priority), n in Tally(accepted).items():
            self.submitted.inc(n, tags={"category": category, "priority": priority})

    def count_refused(self, category: str, n: int = 1) -> None:
        if n > 0:
            self.refused.inc(n, tags={"category": category})


class FinishedCounter:
    """Tasks that ended, counted where they end: the scheduler (outcomes, batch ends) and
    the gateway (cancels). One per process: see finished_counter and scheduler_metrics."""

    def __init__(self) -> None:
        self.finished = metrics.Counter(
            "vokaflow_tasks_finished",
            "Tasks that reached a final state, by category, priority and status "
            "(completed, failed, timeout, cancelled)",
            tag_keys=("category", "priority", "status"),
        )

    def count_finished(self, finished: Iterable[tuple[str, str, str]]) -> None:
        for (category, priority, status), n in Tally(finished).items():
            tags = {"category": category, "priority": priority, "status": status}
            self.finished.inc(n, tags=tags)


class SchedulerMetrics(FinishedCounter):
    def __init__(self) -> None:
        super().__init__()
        self.queue_wait = metrics.Histogram(
            "vokaflow_queue_wait_seconds",
            "Time from submit (a delayed task's run_at, or a dead letter's requeue) to "
            "dispatch of a first attempt, by priority",
            boundaries=QUEUE_WAIT_BOUNDARIES_S,
            tag_keys=("priority",),
        )
        self.sla_misses = metrics.Counter(
            "vokaflow_sla_misses",
            "First attempts dispatched later than their priority's SLA",
            tag_keys=("priority",),
        )
        self.pool_active = metrics.Gauge(
            "vokaflow_pool_active_workers", "Running slots per pool", tag_keys=("pool",)
        )
        self.pool_occupancy = metrics.Gauge(
            "vokaflow_pool_occupancy", "Running slots over capacity per pool", tag_keys=("pool",)
        )
        self.queue_depth = metrics.Gauge(
            "vokaflow_queue_depth",
            "Ready tasks in every pool's queues, by priority level (a promoted task at its "
            "new level)",
            tag_keys=("priority",),
        )
        self.sla_seconds = metrics.Gauge(
            "vokaflow_sla_seconds", "Each priority's SLA on queue wait", tag_keys=("priority",)
        )
        self.fires = metrics.Counter(
            "vokaflow_schedule_fires",
            "Schedule fires by outcome: submitted (a task made), skipped (missed, by the "
            "schedule's policy), put_off (its category's rate limit refused it for now)",
            tag_keys=("outcome",),
        )

    def observe_dispatch(self, waits: Iterable[tuple[Priority, float]]) -> None:
        """Queue waits of first attempts; a wait past the priority's SLA is a miss."""
        misses: Tally[str] = Tally()
        for priority, wait_s in waits:
            self.queue_wait.observe(max(0.0, wait_s), tags={"priority": priority.value})
            if wait_s > priority.sla_seconds:
                misses[priority.value] += 1
        for priority_name, n in misses.items():
            self.sla_misses.inc(n, tags={"priority": priority_name})

    def set_pools(self, pools: dict[str, tuple[int, int]]) -> None:
        """Per pool: (active, capacity)."""
        for pool, (active, capacity) in pools.items():
            self.pool_active.set(active, tags={"pool": pool})
            self.pool_occupancy.set(active / capacity if capacity else 0.0, tags={"pool": pool})

    def set_queue_depths(self, depths: dict[Priority, int]) -> None:
        """Ready tasks per priority; each priority's SLA beside it, for dashboards to draw
        the wait against (set with them, so a priority's two series start together)."""
        for priority, depth in depths.items():
            tags = {"priority": priority.value}
            self.queue_depth.set(depth, tags=tags)
            self.sla_seconds.set(priority.sla_seconds, tags=tags)

    def count_fires(self, outcome: str, n: int = 1) -> None:
        if n > 0:
            self.fires.inc(n, tags={"outcome": outcome})


class WebhookMetrics:
    def __init__(self) -> None:
        self.attempts = metrics.Counter(
            "vokaflow_webhook_attempts",
            "Webhook delivery attempts by outcome: delivered, retrying (failed, to be tried "
            "again), failed (failed, the delivery given up)",
            tag_keys=("outcome",),
        )

    def count_attempt(self, outcome: str) -> None:
        self.attempts.inc(1, tags={"outcome": outcome})


@functools.cache
def gateway_metrics() -> GatewayMetrics:
    return GatewayMetrics()


@functools.cache
def finished_counter() -> FinishedCounter:
    """The gateway's: the scheduler's process uses scheduler_metrics, which counts the same."""
    return FinishedCounter()


@functools.cache
def webhook_metrics() -> WebhookMetrics:
    return WebhookMetrics()


@functools.cache
def scheduler_metrics() -> SchedulerMetrics:
    return SchedulerMetrics()
