"""GET /api/high-scale-tasks/metrics: every field of the spec, from live data. A
non-admin sees its own use of each category's rate limit and Redis nodes by anonymous
names; admins see everyone's use and the nodes' addresses."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import psutil
from fastapi import APIRouter

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.schemas.metrics import (
    MetricsResponse,
    NetworkIO,
    PoolDetail,
    RateLimitMetrics,
    RedisNodeMetrics,
    SystemResources,
    WorkerPoolMetrics,
)
from vokaflow.api.services import Services
from vokaflow.clock import iso_forecast
from vokaflow.domain import WorkerType
from vokaflow.domain.principal import Principal
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.store.metrics_store import WINDOW_S
from vokaflow.store.redis_client import anonymous_names

router = APIRouter(prefix="/api/high-scale-tasks", tags=["metrics"])


def aggregate_nodes(readings: Iterable[dict[str, Any]]) -> SystemResources | None:
    """The cluster as one machine: CPU weighted by cores, memory and disk by capacity,
    network summed. None without readings."""
    nodes = list(readings)
    if not nodes:
        return None
    cores = sum(n["cpu_count"] for n in nodes)
    memory = sum(n["memory_total"] for n in nodes)
    disk = sum(n["disk_total"] for n in nodes)
    return SystemResources(
        cpu_percent=round(sum(n["cpu_percent"] * n["cpu_count"] for n in nodes) / cores, 2),
        memory_percent=round(100 * sum(n["memory_used"] for n in nodes) / memory, 2),
        disk_usage=round(100 * sum(n["disk_used"] for n in nodes) / disk, 2),
        network_io=NetworkIO(
            bytes_sent=sum(n["bytes_sent"] for n in nodes),
            bytes_recv=sum(n["bytes_recv"] for n in nodes),
        ),
    )


def _this_host() -> SystemResources:
    """Until the scheduler's first reading of the Ray nodes: the gateway's own host."""
    network = psutil.net_io_counters()
    return SystemResources(
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_percent=psutil.virtual_memory().percent,
        disk_usage=psutil.disk_usage("/").percent,
        network_io=NetworkIO(bytes_sent=network.bytes_sent, bytes_recv=network.bytes_recv),
    )


async def _system_resources(services: Services) -> SystemResources:
    readings = await services.metrics.node_stats()
    return aggregate_nodes(readings.values()) or _this_host()


async def worker_pools(services: Services) -> dict[str, PoolDetail]:
    queued = await services.tasks.queue_sizes()
    pools = await services.tasks.pool_states()
    views = {}
    for wt in WorkerType:
        state = pools.get(wt, {})
        active, capacity = int(state.get("active", 0)), int(state.get("capacity", 0))
        views[wt.value] = PoolDetail(
            active_workers=active,
            max_workers=capacity,
            queue_size=queued[wt],
            avg_execution_time=round(float(state.get("mean_task_s", 0.0)), 6),
            target_workers=int(state.get("target", 0)),
            occupancy=round(active / capacity, 4) if capacity else 0.0,
        )
    return views


def reset_time(limit: RateLimit, tokens: float | None, updated_s: float | None, now: float) -> str:
    """When the bucket is full again: now, if it is full or unused."""
    if tokens is None or updated_s is None:
        return iso_forecast(now)
    current = min(limit.burst, tokens + max(0.0, now - updated_s) * limit.limit_per_second)
    return iso_forecast(now + (limit.burst - current) / limit.limit_per_second)


async def _rate_limits(
    services: Services, now: float, principal: Principal
) -> dict[str, RateLimitMetrics]:
    report = {}
    owner = None if principal.is_admin else principal.name
    for category, limit in services.settings.rate_limits.items():
        tokens, updated = await services.metrics.bucket(category)
        report[category] = RateLimitMetrics(
            limit_per_second=limit.limit_per_second,
            current_usage=await services.rate_limiter.usage(category, owner),
            reset_time=reset_time(limit, tokens, updated, now),
        )
    return report


def redis_nodes_seen_by(
    principal: Principal, nodes: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The nodes by address for an admin, by anonymous name for others."""
    if principal.is_admin:
        return nodes
    names = anonymous_names(nodes)
    return {names[address]: node for address, node in nodes.items()}


@router.get("/metrics", response_model=MetricsResponse)
async def metrics(
    services: ServicesDep,
    principal: PrincipalDep,
) -> MetricsResponse:
    now = time.time()
    pools = {
        name: WorkerPoolMetrics(**detail.model_dump(include=set(WorkerPoolMetrics.model_fields)))
        for name, detail in (await worker_pools(services)).items()
    }
    nodes = redis_nodes_seen_by(principal, await services.metrics.nodes())
    return MetricsResponse(
        throughput_per_second=round(await services.metrics.finished_last_minute() / WINDOW_S, 3),
        total_pending_tasks=sum(p.queue_size for p in pools.values())
        + await services.metrics.waiting_for_retry(),
        scheduled_tasks=await services.metrics.scheduled(),
        active_workers=sum(p.active_workers for p in pools.values()),
        redis_nodes=len(nodes),
        partitions=services.settings.partitions,
        system_resources=await _system_resources(services),
        worker_pools=pools,
        rate_limits=await _rate_limits(services, now, principal),
        redis_cluster={name: RedisNodeMetrics(**node) for name, node in nodes.items()},
        timestamp=now,
    )
