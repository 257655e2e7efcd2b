"""Per-category counts: admitted and refused (by the rate limiter's script), and outcomes
(by the owner of a task's end, vokaflow.lifecycle.ending), for GET
/api/metrics/category/{category}: of every principal's tasks (what admins see) and of each
principal's own (what it sees)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.domain import FINISHED, TaskStatus
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

RETRIED = "retried"  # an attempt that failed and will run again: not a status
OUTCOMES = (*(status.value for status in FINISHED), RETRIED)
Outcome = tuple[str, str, str, float]  # category, owner, status, execution seconds


@dataclass(frozen=True)
class CategoryCounts:
    admitted: int
    refused: int
    outcomes: dict[str, int]
    completed_exec_total_s: float

    @property
    def avg_execution_time(self) -> float:
        completed = self.outcomes.get(TaskStatus.COMPLETED.value, 0)
        return self.completed_exec_total_s / completed if completed else 0.0


class CategoryStats:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    def queue_outcomes(self, pipe: Any, outcomes: Iterable[Outcome]) -> None:
        """Add (category, owner, status, execution seconds) counts to the caller's pipeline,
        for the category and for its owner."""
        counts: dict[str, list[Any]] = defaultdict(lambda: [Counter(), 0.0])
        stats_of = self.keys.category_stats
        for category, owner, status, seconds in outcomes:
            if category and status in OUTCOMES:
                for key in (stats_of(category), stats_of(category, owner)):
                    counts[key][0][status] += 1
                    counts[key][1] += seconds if status == TaskStatus.COMPLETED else 0.0
        for key, (statuses, completed_s) in counts.items():
            for status, n in statuses.items():
                pipe.hincrby(key, status, n)
            if statuses[TaskStatus.COMPLETED.value]:
                pipe.hincrbyfloat(key, "exec_total_s", completed_s)

    @redis_boundary
    async def read(self, category: str, owner: str | None = None) -> CategoryCounts:
        """Everyone's counts, or ``owner``'s."""
        totals = (
            self.keys.rate_totals(category)
            if owner is None
            else self.keys.owner_rate_usage_prefix(category, owner) + "totals"
        )
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(totals)
        pipe.hgetall(self.keys.category_stats(category, owner))
        totals, stats = await pipe.execute()
        return CategoryCounts(
            admitted=int(totals.get("admitted", 0)),
            refused=int(totals.get("refused", 0)),
            outcomes={status: int(stats.get(status, 0)) for status in OUTCOMES},
            completed_exec_total_s=float(stats.get("exec_total_s", 0.0)),
        )
