"""GET /api/high-scale-tasks/metrics: every field of the spec, from live data."""

from __future__ import annotations

import time

import psutil
from fastapi import APIRouter

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.services import Services
from vokaflow.clock import iso_forecast
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.schemas import (
    MetricsResponse,
    NetworkIO,
    RateLimitMetrics,
    RedisNodeMetrics,
    SystemResources,
    WorkerPoolMetrics,
    WorkerType,
)
from vokaflow.store.metrics_store import WINDOW_S

router = APIRouter(prefix="/api/high-scale-tasks", tags=["metrics"])


def _system_resources(services: Services) -> SystemResources:
    network = psutil.net_io_counters()
    home = services.settings.home if services.settings.home.exists() else "/"
    return SystemResources(
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_percent=psutil.virtual_memory().percent,
        disk_usage=psutil.disk_usage(str(home)).percent,
        network_io=NetworkIO(bytes_sent=network.bytes_sent, bytes_recv=network.bytes_recv),
    )


def _reset_time(limit: RateLimit, tokens: float | None, updated_s: float | None, now: float) -> str:
    """When the bucket is full again: now, if it is full or unused."""
    if tokens is None or updated_s is None:
        return iso_forecast(now)
    current = min(limit.burst, tokens + max(0.0, now - updated_s) * limit.limit_per_second)
    return iso_forecast(now + (limit.burst - current) / limit.limit_per_second)


async def _rate_limits(services: Services, now: float) -> dict[str, RateLimitMetrics]:
    report = {}
    for category, limit in services.settings.rate_limits.items():
        tokens, updated = await services.metrics.bucket(category)
        report[category] = RateLimitMetrics(
            limit_per_second=limit.limit_per_second,
            current_usage=await services.rate_limiter.usage(category),
            reset_time=_reset_time(limit, tokens, updated, now),
        )
    return report


@router.get("/metrics", response_model=MetricsResponse)
async def metrics(
    services: ServicesDep,
    principal: PrincipalDep,
) -> MetricsResponse:
    now = time.time()
    queued = await services.tasks.queue_sizes()
    pools = await services.tasks.pool_states()
    worker_pools = {
        wt.value: WorkerPoolMetrics(
            active_workers=int(pools.get(wt, {}).get("active", 0)),
            max_workers=int(pools.get(wt, {}).get("capacity", 0)),
            queue_size=queued[wt],
            avg_execution_time=round(float(pools.get(wt, {}).get("mean_task_s", 0.0)), 6),
        )
        for wt in WorkerType
    }
    nodes = await services.metrics.nodes()
    return MetricsResponse(
        throughput_per_second=round(await services.metrics.finished_last_minute() / WINDOW_S, 3),
        total_pending_tasks=sum(queued.values()) + await services.metrics.waiting_for_retry(),
        active_workers=sum(p.active_workers for p in worker_pools.values()),
        redis_nodes=len(nodes),
        partitions=services.settings.partitions,
        system_resources=_system_resources(services),
        worker_pools=worker_pools,
        rate_limits=await _rate_limits(services, now),
        redis_cluster={name: RedisNodeMetrics(**node) for name, node in nodes.items()},
        timestamp=now,
    )
