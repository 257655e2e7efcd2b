"""SLA attainment: the share of first starts within their priority's SLA, counted per
minute. The scheduler tallies starts between heartbeats and writes them as per-minute
counters (store: Keys.sla_starts); readers add up the minutes they ask for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vokaflow.domain.priority import Priority

# minute (epoch s // 60) -> "PRIORITY:started" / "PRIORITY:late" -> count
SlaStarts = dict[int, dict[str, int]]


def _field(priority: Priority, what: str) -> str:
    return f"{priority.value}:{what}"


class SlaTally:
    """Starts seen since the last heartbeat. ``take`` hands them over; ``give_back`` keeps
    what a failed write did not store, so a Redis blip loses no count."""

    def __init__(self) -> None:
        self._pending: defaultdict[int, defaultdict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )

    def count(self, starts: Iterable[tuple[Priority, float]], at_s: float) -> None:
        minute = self._pending[int(at_s // 60)]
        for priority, wait_s in starts:
            minute[_field(priority, "started")] += 1
            if wait_s > priority.sla_seconds:
                minute[_field(priority, "late")] += 1

    def take(self) -> SlaStarts:
        taken = {minute: dict(counts) for minute, counts in self._pending.items()}
        self._pending.clear()
        return taken

    def give_back(self, starts: SlaStarts) -> None:
        for minute, counts in starts.items():
            for field, n in counts.items():
                self._pending[minute][field] += n


@dataclass(frozen=True)
class Attainment:
    started: int
    late: int

    @property
    def share(self) -> float | None:
        """The share started within the SLA; None when nothing started."""
        return None if self.started == 0 else (self.started - self.late) / self.started


def attainment(minutes: Iterable[Mapping[str, str]]) -> dict[Priority, Attainment]:
    totals: defaultdict[str, int] = defaultdict(int)
    for counts in minutes:
        for field, n in counts.items():
            totals[field] += int(n)
    return {
        p: Attainment(totals[_field(p, "started")], totals[_field(p, "late")]) for p in Priority
    }
