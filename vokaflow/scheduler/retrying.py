"""Writes that must not be dropped wait for Redis to answer again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from vokaflow.scheduler.ports import Clock
from vokaflow.store.errors import StoreUnavailable

T = TypeVar("T")

REDIS_RETRY_S = 0.5


async def until_stored(operation: Callable[[], Awaitable[T]], clock: Clock) -> T:
    """Retry until Redis answers: an outcome must not be dropped."""
    while True:
        try:
            return await operation()
        except StoreUnavailable:
            await clock.sleep(REDIS_RETRY_S)
