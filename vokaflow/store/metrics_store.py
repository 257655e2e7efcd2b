"""Reads for the metrics endpoint: completions per second, queue depth, Redis nodes."""

from __future__ import annotations

import time
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio import RedisCluster

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import UNREACHABLE, is_cluster, redis_boundary

WINDOW_S = 60


def _node_view(info: dict[str, Any]) -> dict[str, str]:
    """A node's state and memory use, of maxmemory, else of the host's memory."""
    import psutil

    ceiling = int(info.get("maxmemory", 0)) or psutil.virtual_memory().total
    used = int(info.get("used_memory", 0))
    return {"status": "healthy", "memory_usage": f"{100 * used / ceiling:.1f}%"}


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
    async def nodes(self) -> dict[str, dict[str, str]]:
        """Each Redis node's state and memory use (of maxmemory, else of the host's memory)."""
        if not is_cluster(self.redis):
            return {"node_0": _node_view(await self.redis.info("memory"))}
        cluster = cast(RedisCluster, self.redis)
        nodes = {}
        for node in cluster.get_primaries():
            name = f"{node.host}:{node.port}"
            try:
                info = await cluster.info("memory", target_nodes=node)
            except UNREACHABLE:
                nodes[name] = {"status": "unreachable", "memory_usage": "unknown"}
            else:
                nodes[name] = _node_view(info)
        return nodes

    @redis_boundary
    async def bucket(self, category: str) -> tuple[float | None, float | None]:
        """The category's bucket as last written: (tokens, epoch seconds), or Nones if unused."""
        tokens, updated = await self.redis.hmget(self.keys.rate_bucket(category), ["tokens", "ts"])
        return (
            None if tokens is None else float(tokens),
            None if updated is None else float(updated),
        )
