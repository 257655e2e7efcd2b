"""Named places where a fault-injection test makes the service fail as a Redis outage
would, between two steps that must survive it (VOKAFLOW_FAILPOINTS; empty in production).

An armed entry is ``PLACE@TAG``: it fires where the request reaching PLACE is tagged TAG
(a batch's tag is its first task's name), once per subject (a batch id) in each process,
so that the test's retry gets through and what the test checks is what the retry finds.
"""

from __future__ import annotations

from collections.abc import Iterable

from vokaflow.store.errors import StoreUnavailable


class Failpoints:
    def __init__(self, armed: Iterable[str]) -> None:
        self.armed = frozenset(armed)
        self._fired: set[tuple[str, str]] = set()

    def reach(self, place: str, tag: str, subject: str) -> None:
        """Raises StoreUnavailable the first time ``subject`` reaches ``place`` armed for
        ``tag``."""
        if f"{place}@{tag}" in self.armed and (place, subject) not in self._fired:
            self._fired.add((place, subject))
            raise StoreUnavailable("redis", f"injected fault at {place}")
