"""A FinishedMetrics port (vokaflow.lifecycle.ending) that remembers what it counted, for
tests that check an end reached the Prometheus counter without Ray."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


class RecordingMetrics:
    def __init__(self) -> None:
        self.finished: Counter[tuple[str, str, str]] = Counter()

    def count_finished(self, finished: Iterable[tuple[str, str, str]]) -> None:
        """(category, priority, status) per ended task, as the real counter takes them."""
        self.finished.update(finished)
