"""The store's own errors: what a caller may catch without knowing Redis is behind it.

The API maps StoreUnavailable to the spec's 503 body (vokaflow.api.errors); the scheduler and
the webhook dispatcher wait and retry on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from vokaflow.errors import VokaFlowError

T = TypeVar("T")

REDIS_RETRY_S = 0.5


class StoreUnavailable(VokaFlowError):
    """The store cannot be reached now; the same call may succeed later."""

    def __init__(self, component: str, message: str) -> None:
        super().__init__(message)
        self.component = component
        self.message = message


async def retry_while_unavailable(
    operation: Callable[[], Awaitable[T]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``operation`` until the store answers: for writes that must not be dropped."""
    while True:
        try:
            return await operation()
        except StoreUnavailable:
            await sleep(REDIS_RETRY_S)
