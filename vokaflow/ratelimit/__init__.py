"""Global rate limits per category: a token bucket in Redis, and an in-memory twin."""

from vokaflow.ratelimit.bucket import Decision, RateLimit
from vokaflow.ratelimit.limits import DEFAULT_RATE_LIMITS

__all__ = ["DEFAULT_RATE_LIMITS", "Decision", "RateLimit"]
