"""Token-bucket arithmetic, pure: the Lua script in Redis does the same steps.

A category's bucket holds at most ``burst`` tokens and refills at ``limit_per_second``. A
single submit takes one token or is refused; a batch takes as many as there are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from vokaflow.errors import RateLimited


class RateLimit(BaseModel):
    limit_per_second: int = Field(ge=1)
    burst: int = Field(ge=1)


@dataclass(frozen=True)
class Decision:
    granted: int
    wanted: int
    limit: RateLimit
    tokens_left: float
    now_s: float
    admitted_this_second: int

    @classmethod
    def from_script(cls, reply: Sequence[Any], wanted: int, limit: RateLimit) -> Decision:
        """Read take_tokens' reply: {granted, tokens left, now, admitted this second}."""
        granted, tokens, now, used = reply[:4]
        return cls(int(granted), wanted, limit, float(tokens), float(now), int(used))

    @property
    def refused(self) -> int:
        return self.wanted - self.granted

    @property
    def retry_after_s(self) -> int:
        """Whole seconds until the refused part could be granted (at least 1 when refused)."""
        if self.refused == 0:
            return 0
        shortfall = max(0.0, self.refused - self.tokens_left)
        return max(1, math.ceil(shortfall / self.limit.limit_per_second))

    @property
    def reset_at_s(self) -> float:
        """When the bucket is full again if nothing more is taken."""
        missing = self.limit.burst - self.tokens_left
        return self.now_s + max(0.0, missing) / self.limit.limit_per_second

    def error(self, category: str) -> RateLimited:
        """The spec's 429 for what this decision refused."""
        return RateLimited(
            category,
            limit=self.limit.limit_per_second,
            current=self.current,
            reset_at_s=self.reset_at_s,
            retry_after_s=self.retry_after_s,
        )

    @property
    def current(self) -> int:
        """Admitted this second plus what was just refused: the demand that hit the limit."""
        return self.admitted_this_second + self.refused


@dataclass
class BucketState:
    tokens: float
    updated_at_s: float


def take(
    state: BucketState | None, wanted: int, now_s: float, limit: RateLimit, *, partial: bool
) -> tuple[int, BucketState]:
    """Refill by the time elapsed, then grant; returns (granted, new state)."""
    tokens = float(limit.burst) if state is None else state.tokens
    last = now_s if state is None else state.updated_at_s
    tokens = min(float(limit.burst), tokens + max(0.0, now_s - last) * limit.limit_per_second)
    all_or_nothing = wanted if tokens >= wanted else 0
    granted = min(wanted, math.floor(tokens)) if partial else all_or_nothing
    return granted, BucketState(tokens - granted, now_s)
