"""A coroutine on an event loop of its own, on a thread of its own, so that what keeps the
scheduler's main loop busy (dispatching and settling thousands of tasks a second) cannot
delay it. Whatever it awaits must be its own: an asyncio Redis client belongs to the loop
that first used it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any


class OwnLoop:
    def __init__(self, name: str, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.make = make
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.running = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None

    def start(self) -> OwnLoop:
        self.thread.start()
        self.running.wait()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel the coroutine and wait for the thread to end (the actor never does: the
        thread is a daemon and ends with its process)."""
        if self.loop is not None and self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout_s)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.running.set()
        with contextlib.suppress(asyncio.CancelledError):  # stop()
            await self.make()
