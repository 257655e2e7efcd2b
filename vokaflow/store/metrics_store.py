"""Reads for the metrics endpoint: completions per second, queue depth, Redis nodes."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio import RedisCluster

from vokaflow.domain.priority import Priority
from vokaflow.domain.sla import Attainment, attainment
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import UNREACHABLE, is_cluster, redis_boundary

WINDOW_S = 60


def _node_view(info: dict[str, Any]) -> dict[str, str]:
    """A node's state and memory use, of maxmemory, else of the host's memory."""
    import psutil

    ceiling = int(info.get("maxmemory", 0)) or psutil.virtual_memory().total
    used = int(info.get("used_memory", 0))
    return {"status": "healthy", "memory_usage": f"{100 * used / ceiling:.1f}%"}


def _node_detail(info: dict[str, Any]) -> dict[str, Any]:
    """A node's INFO, as the /api/metrics/redis fields."""
    keys = sum(int(db.get("keys", 0)) for name, db in info.items() if name.startswith("db"))
    return {
        **_node_view(info),
        "role": str(info.get("role", "master")),
        "version": str(info.get("redis_version", "")),
        "used_memory_bytes": int(info.get("used_memory", 0)),
        "connected_clients": int(info.get("connected_clients", 0)),
        "ops_per_second": int(info.get("instantaneous_ops_per_sec", 0)),
        "keys": keys,
        "uptime_seconds": int(info.get("uptime_in_seconds", 0)),
    }


UNREACHABLE_DETAIL = {
    "status": "unreachable",
    "memory_usage": "unknown",
    "role": "unknown",
    "version": "",
    "used_memory_bytes": 0,
    "connected_clients": 0,
    "ops_per_second": 0,
    "keys": 0,
    "uptime_seconds": 0,
}


class MetricsStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    @redis_boundary
    async def finished_last_minute(self) -> int:
        now = int(time.time())
        prefix = self.keys.completions_prefix()
        counts = await self.redis.mget([f"{prefix}{now - i}" for i in range(1, WINDOW_S + 1)])
        return sum(int(c) for c in counts if c)

    @redis_boundary
    async def waiting_for_retry(self) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            pipe.zcard(self.keys.delayed(partition))
        return int(sum(await pipe.execute()))

    @redis_boundary
    async def scheduled(self) -> int:
        """Delayed tasks waiting for their run_at: not pending until then."""
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            pipe.zcard(self.keys.scheduled(partition))
        return int(sum(await pipe.execute()))

    async def nodes(self) -> dict[str, dict[str, str]]:
        """Each Redis node's state and memory use (of maxmemory, else of the host's memory)."""
        details = await self.node_details()
        return {
            name: {"status": d["status"], "memory_usage": d["memory_usage"]}
            for name, d in details.items()
        }

    @redis_boundary
    async def node_details(self) -> dict[str, dict[str, Any]]:
        """Each primary's INFO as the fields of /api/metrics/redis; unreachable ones marked."""
        if not is_cluster(self.redis):
            return {"node_0": _node_detail(await self.redis.info())}
        cluster = cast(RedisCluster, self.redis)
        nodes = {}
        for node in cluster.get_primaries():
            name = f"{node.host}:{node.port}"
            try:
                nodes[name] = _node_detail(await cluster.info(target_nodes=node))
            except UNREACHABLE:
                nodes[name] = dict(UNREACHABLE_DETAIL)
        return nodes

    @redis_boundary
    async def write_node_stats(self, readings: dict[str, dict[str, Any]], ttl_s: int) -> None:
        """Replace the per-node readings: a node that left the cluster drops out."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.node_stats)
        if readings:
            pipe.hset(
                self.keys.node_stats,
                mapping={node: json.dumps(reading) for node, reading in readings.items()},
            )
            pipe.expire(self.keys.node_stats, ttl_s)
        await pipe.execute()

    @redis_boundary
    async def node_stats(self) -> dict[str, dict[str, Any]]:
        raw = await self.redis.hgetall(self.keys.node_stats)
        return {str(node): json.loads(reading) for node, reading in raw.items()}

    @redis_boundary
    async def bucket(self, category: str) -> tuple[float | None, float | None]:
        """The category's bucket as last written: (tokens, epoch seconds), or Nones if unused."""
        tokens, updated = await self.redis.hmget(self.keys.rate_bucket(category), ["tokens", "ts"])
        return (
            None if tokens is None else float(tokens),
            None if updated is None else float(updated),
        )

    @redis_boundary
    async def sla_attainment(self, now_s: float, minutes: int) -> dict[Priority, Attainment]:
        """First starts per priority in the last ``minutes`` minutes (the current one
        included), and how many started past their SLA."""
        current = int(now_s // 60)
        pipe = self.redis.pipeline(transaction=False)
        for minute in range(current - minutes + 1, current + 1):
            pipe.hgetall(self.keys.sla_starts(minute))
        return attainment(await pipe.execute())

    @redis_boundary
    async def finished_per_second(self, seconds: list[int]) -> list[int]:
        prefix = self.keys.completions_prefix()
        counts = await self.redis.mget([f"{prefix}{s}" for s in seconds]) if seconds else []
        return [int(c) if c else 0 for c in counts]
