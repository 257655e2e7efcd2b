"""How a batch releases its tasks."""

from __future__ import annotations

from enum import Enum


class ExecutionMode(str, Enum):
    PARALLEL = "parallel"
    SEQUENTIAL = "sequential"
    ADAPTIVE = "adaptive"


class BatchStatus(str, Enum):
    """A batch's status. batch_commit.lua spells SUBMITTING and RUNNING the same."""

    SUBMITTING = "submitting"  # begun, its tasks still being written
    RUNNING = "running"
    COMPLETED = "completed"
    ABORTED = "aborted"  # max_failures exceeded
    TIMEOUT = "timeout"  # batch_timeout reached

    def __str__(self) -> str:  # f-strings get "running", not "BatchStatus.RUNNING"
        return self.value
