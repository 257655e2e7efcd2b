"""/api/metrics/*: one category, the worker pools and Ray nodes, and the Redis nodes. A
non-admin sees its own tasks' figures for a category, no Ray node, and the Redis nodes by
anonymous names without their versions: cluster internals are for admins."""

from __future__ import annotations

import asyncio
import time

import ray
from fastapi import APIRouter

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.metrics import redis_nodes_seen_by, reset_time, worker_pools
from vokaflow.api.schemas.common import ErrorBody
from vokaflow.api.schemas.metrics import (
    CategoryMetricsResponse,
    CategoryRateLimit,
    CategoryTaskCounts,
    RayNodeMetrics,
    RedisMetricsResponse,
    RedisNodeDetail,
    WorkersMetricsResponse,
)
from vokaflow.domain import TaskStatus
from vokaflow.errors import NotFound

router = APIRouter(prefix="/api/metrics", tags=["metrics"])
# A Redis node's version and activity: what every tenant does, and what to attack
# The success rate counts the tasks that ran to an end; cancelled ones are left out.
ENDED_BY_RUNNING = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.TIMEOUT)

HIDDEN_FROM_TENANTS = {
    "version": "",
    "used_memory_bytes": 0,
    "connected_clients": 0,
    "ops_per_second": 0,
    "keys": 0,
}


@router.get(
    "/category/{category}",
    response_model=CategoryMetricsResponse,
    responses={404: {"model": ErrorBody, "description": "Unknown category"}},
)
async def category_metrics(
    category: str, services: ServicesDep, principal: PrincipalDep
) -> CategoryMetricsResponse:
    """The category's rate limit and usage, and its tasks' outcomes since the service began
    (a non-admin's own)."""
    known = services.functions.categories()
    if category not in known:
        raise NotFound(f"Unknown category '{category}'. Categories: {', '.join(known)}")
    now = time.time()
    limit = services.settings.limit_table[category]
    tokens, updated = await services.metrics.bucket(category)
    owner = None if principal.is_admin else principal.name
    counts = await services.category_stats.read(category, owner)
    ended = sum(counts.outcomes[s.value] for s in ENDED_BY_RUNNING)
    return CategoryMetricsResponse(
        category=category,
        rate_limit=CategoryRateLimit(
            limit_per_second=limit.limit_per_second,
            burst=limit.burst,
            current_usage=await services.rate_limiter.usage(category, owner),
            reset_time=reset_time(limit, tokens, updated, now),
        ),
        tasks=CategoryTaskCounts(
            submitted=counts.admitted, refused=counts.refused, **counts.outcomes
        ),
        success_rate=round(counts.outcomes[TaskStatus.COMPLETED.value] / ended, 4)
        if ended
        else None,
        avg_execution_time=round(counts.avg_execution_time, 6),
        timestamp=now,
    )


async def _ray_nodes(readings: dict[str, dict[str, float]]) -> list[RayNodeMetrics]:
    nodes = []
    for node in await asyncio.to_thread(ray.nodes):  # a blocking call to Ray's GCS
        node_id = node["NodeID"]
        reading = readings.get(node_id, {})
        memory_total = reading.get("memory_total")
        nodes.append(
            RayNodeMetrics(
                node_id=node_id,
                hostname=str(reading.get("hostname") or node.get("NodeManagerHostname", "")),
                alive=bool(node.get("Alive")),
                cpu_percent=reading.get("cpu_percent"),
                memory_percent=round(100 * reading["memory_used"] / memory_total, 2)
                if memory_total
                else None,
                resources={k: float(v) for k, v in node.get("Resources", {}).items()},
            )
        )
    return nodes


@router.get("/workers", response_model=WorkersMetricsResponse)
async def workers_metrics(services: ServicesDep, principal: PrincipalDep) -> WorkersMetricsResponse:
    """Each pool's slots, target, queue and run time, and each Ray node's resources."""
    pools = await worker_pools(services)
    readings = await services.metrics.node_stats()
    return WorkersMetricsResponse(
        active_workers=sum(p.active_workers for p in pools.values()),
        max_workers=sum(p.max_workers for p in pools.values()),
        worker_pools=pools,
        nodes=await _ray_nodes(readings) if principal.is_admin else [],
        timestamp=time.time(),
    )


@router.get("/redis", response_model=RedisMetricsResponse)
async def redis_metrics(services: ServicesDep, principal: PrincipalDep) -> RedisMetricsResponse:
    """Each Redis primary's state, and which node holds each task partition."""
    details = redis_nodes_seen_by(principal, await services.metrics.node_details())
    if not principal.is_admin:
        details = {name: {**detail, **HIDDEN_FROM_TENANTS} for name, detail in details.items()}
    return RedisMetricsResponse(
        mode="cluster" if services.cluster else "single",
        nodes={name: RedisNodeDetail(**detail) for name, detail in details.items()},
        partitions=services.settings.partitions,
        partition_nodes={
            str(p): services.redis_node(p, principal) for p in range(services.settings.partitions)
        },
        timestamp=time.time(),
    )
