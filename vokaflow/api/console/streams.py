"""How many live log streams one principal may hold open in a gateway process. Each polls
Redis every second for up to a quarter of an hour; without a bound, one signed-in tenant
could open them until the gateway or Redis gave way for everyone."""

from __future__ import annotations

from collections import Counter

from vokaflow.errors import RateLimited

MAX_OPEN_PER_PRINCIPAL = 8  # a few tabs of task pages; per gateway replica
RETRY_AFTER_S = 5


class StreamSlots:
    def __init__(self, most: int = MAX_OPEN_PER_PRINCIPAL) -> None:
        self.most = most
        self.open: Counter[str] = Counter()

    def take(self, principal: str) -> None:
        """One slot for a new stream, or 429 (``rate_limit_exceeded``) when all are held."""
        held = self.open[principal]
        if held >= self.most:
            raise RateLimited(
                "console_log_streams",
                self.most,
                held,
                0.0,
                RETRY_AFTER_S,
                f"At most {self.most} live log streams at once: close a task page's tab",
            )
        self.open[principal] = held + 1

    def give_back(self, principal: str) -> None:
        self.open[principal] -= 1
        if self.open[principal] <= 0:
            del self.open[principal]


LOG_STREAMS = StreamSlots()  # this process's
