"""The spec's per-category limits: the defaults, overridable with VOKAFLOW_RATE_LIMITS."""

from __future__ import annotations

from vokaflow.ratelimit.bucket import RateLimit

DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "vicky": RateLimit(limit_per_second=50_000, burst=100_000),
    "audio": RateLimit(limit_per_second=25_000, burst=50_000),
    "database": RateLimit(limit_per_second=100_000, burst=200_000),
    "notifications": RateLimit(limit_per_second=1_000_000, burst=2_000_000),
    "files": RateLimit(limit_per_second=10_000, burst=20_000),
    "analytics": RateLimit(limit_per_second=50_000, burst=100_000),
    "ml": RateLimit(limit_per_second=5_000, burst=10_000),
    "system": RateLimit(limit_per_second=1_000, burst=2_000),
    "realtime": RateLimit(limit_per_second=100_000, burst=200_000),
}

USAGE_WINDOW_S = 60

# The limit of a category without one of its own: a user's plugin category, say.
DEFAULT_CATEGORY_LIMIT = RateLimit(limit_per_second=1_000, burst=2_000)


class LimitTable(dict[str, RateLimit]):
    """Limits by category, with ``default`` for any category not listed."""

    def __init__(self, limits: dict[str, RateLimit], default: RateLimit) -> None:
        super().__init__(limits)
        self.default = default

    def __missing__(self, category: str) -> RateLimit:
        return self.default
