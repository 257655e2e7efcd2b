"""Per-category counts: admitted and refused (by the rate limiter's script), and outcomes
(by the scheduler and the cancel endpoint), for GET /api/metrics/category/{category}."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

OUTCOMES = ("completed", "failed", "timeout", "cancelled", "retried")


@dataclass(frozen=True)
class CategoryCounts:
    admitted: int
    refused: int
    outcomes: dict[str, int]
    completed_exec_total_s: float

    @property
    def avg_execution_time(self) -> float:
        completed = self.outcomes.get("completed", 0)
        return self.completed_exec_total_s / completed if completed else 0.0


class CategoryStats:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    def queue_outcomes(self, pipe: Any, outcomes: Iterable[tuple[str, str, float]]) -> None:
        """Add (category, status, execution seconds) counts to the caller's pipeline."""
        counts: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        for category, status, seconds in outcomes:
            if category and status in OUTCOMES:
                counts[(category, status)][0] += 1
                counts[(category, status)][1] += seconds
        for (category, status), (n, total_s) in counts.items():
            key = self.keys.category_stats(category)
            pipe.hincrby(key, status, int(n))
            if status == "completed":
                pipe.hincrbyfloat(key, "exec_total_s", total_s)

    @redis_boundary
    async def count(self, category: str, status: str, n: int = 1) -> None:
        pipe = self.redis.pipeline(transaction=False)
        self.queue_outcomes(pipe, [(category, status, 0.0)] * n)
        await pipe.execute()

    @redis_boundary
    async def read(self, category: str) -> CategoryCounts:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.rate_totals(category))
        pipe.hgetall(self.keys.category_stats(category))
        totals, stats = await pipe.execute()
        return CategoryCounts(
            admitted=int(totals.get("admitted", 0)),
            refused=int(totals.get("refused", 0)),
            outcomes={status: int(stats.get(status, 0)) for status in OUTCOMES},
            completed_exec_total_s=float(stats.get("exec_total_s", 0.0)),
        )
