"""Bodies of the metrics and monitoring routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class NetworkIO(BaseModel):
    bytes_sent: int
    bytes_recv: int


class SystemResources(BaseModel):
    cpu_percent: float
    memory_percent: float
    disk_usage: float
    network_io: NetworkIO


class WorkerPoolMetrics(BaseModel):
    active_workers: int
    max_workers: int
    queue_size: int
    avg_execution_time: float


class RateLimitMetrics(BaseModel):
    limit_per_second: int
    current_usage: int
    reset_time: str


class RedisNodeMetrics(BaseModel):
    status: str
    memory_usage: str


class MetricsResponse(BaseModel):
    throughput_per_second: float
    total_pending_tasks: int
    scheduled_tasks: int = 0  # delayed tasks not yet due (not in total_pending_tasks)
    active_workers: int
    redis_nodes: int
    partitions: int
    system_resources: SystemResources
    worker_pools: dict[str, WorkerPoolMetrics]
    rate_limits: dict[str, RateLimitMetrics]
    redis_cluster: dict[str, RedisNodeMetrics]
    timestamp: float


class CategoryRateLimit(BaseModel):
    limit_per_second: int
    burst: int
    current_usage: int
    reset_time: str


class CategoryTaskCounts(BaseModel):
    submitted: int
    refused: int
    completed: int
    failed: int
    timeout: int
    cancelled: int
    retried: int


class CategoryMetricsResponse(BaseModel):
    category: str
    rate_limit: CategoryRateLimit
    tasks: CategoryTaskCounts
    success_rate: float | None
    avg_execution_time: float
    timestamp: float


class PoolDetail(WorkerPoolMetrics):
    target_workers: int
    occupancy: float


class RayNodeMetrics(BaseModel):
    node_id: str
    hostname: str
    alive: bool
    cpu_percent: float | None
    memory_percent: float | None
    resources: dict[str, float]


class WorkersMetricsResponse(BaseModel):
    active_workers: int
    max_workers: int
    worker_pools: dict[str, PoolDetail]
    nodes: list[RayNodeMetrics]
    timestamp: float


class RedisNodeDetail(RedisNodeMetrics):
    role: str
    version: str
    used_memory_bytes: int
    connected_clients: int
    ops_per_second: int
    keys: int
    uptime_seconds: int


class RedisMetricsResponse(BaseModel):
    mode: Literal["single", "cluster"]
    nodes: dict[str, RedisNodeDetail]
    partitions: int
    partition_nodes: dict[str, str]
    timestamp: float
