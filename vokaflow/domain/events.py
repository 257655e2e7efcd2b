"""The events a webhook may subscribe to: a task's end, or a batch's."""

from __future__ import annotations

from enum import Enum


class WebhookEvent(str, Enum):
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_TIMEOUT = "task.timeout"
    TASK_CANCELLED = "task.cancelled"
    TASK_UPSTREAM_FAILED = "task.upstream_failed"  # not run: a parent did not complete
    BATCH_COMPLETED = "batch.completed"
