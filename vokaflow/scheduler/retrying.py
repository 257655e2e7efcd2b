"""Writes that must not be dropped wait for Redis to answer again, on the scheduler's clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from vokaflow.scheduler.ports import Clock
from vokaflow.store.errors import REDIS_RETRY_S, retry_while_unavailable

__all__ = ["REDIS_RETRY_S", "until_stored"]

T = TypeVar("T")


async def until_stored(operation: Callable[[], Awaitable[T]], clock: Clock) -> T:
    """Retry until Redis answers: an outcome must not be dropped."""
    return await retry_while_unavailable(operation, clock.sleep)
