"""What a running task function can reach: its own id, progress reporting, the service's
settings and the store's services scoped to its principal (vokaflow.store.task_services).
Set by the executor around each task; empty outside one.

    from vokaflow import report_progress
    report_progress(0.5, step=10, loss=1.23)   # shows in the task's status as `progress`
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol

from vokaflow.config import Settings, load_settings
from vokaflow.domain.task import ClaimedTask
from vokaflow.store.task_services import ModelRecords, TaskServices
from vokaflow.store.tenant_channels import TenantChannels
from vokaflow.store.trained_models import OwnTrainedModels

PROGRESS_EVERY_S = 0.2  # at most this often per task; the last report of a run always lands


class TaskEnv(Protocol):
    """What a task needs of its worker's environment (vokaflow.workers.env.WorkerEnv)."""

    @property
    def redis_url(self) -> str: ...

    @property
    def settings(self) -> Settings: ...


class TaskContext:
    def __init__(self, task: ClaimedTask, env: TaskEnv) -> None:
        self.task = task  # every field the task was submitted with: ``task.spec``
        self.env = env
        self._last_report = float("-inf")
        self._pending: dict[str, Any] | None = None

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def attempt(self) -> int:
        return self.task.attempt

    @property
    def owner(self) -> str:
        """The principal that submitted the task."""
        return self.task.spec.owner

    @property
    def data_scope(self) -> str:
        """See vokaflow.functions.data_roots."""
        return self.task.spec.data_scope

    @property
    def created_at(self) -> float:
        """The same for every attempt of one submission; an idempotency key reused after its
        task's record expired makes the same task id with a new created_at."""
        return self.task.spec.created_at

    @property
    def settings(self) -> Settings:
        return self.env.settings

    @functools.cached_property
    def services(self) -> TaskServices:
        env = self.env
        return TaskServices(env.redis_url, env.settings, self.task_id, self.owner, self.data_scope)

    @property
    def channels(self) -> TenantChannels:
        """The streams and channels of the task's principal (never the service's own)."""
        return self.services.channels

    @property
    def model_records(self) -> ModelRecords:
        """The ml models saved in the task's data scope."""
        return self.services.model_records

    @property
    def trained_models(self) -> OwnTrainedModels:
        """The fine-tuned Vicky models the task's principal may use or claim."""
        return self.services.trained_models

    def report_progress(self, fraction: float | None = None, **details: Any) -> None:
        progress = {"fraction": fraction, **details, "attempt": self.attempt, "at": time.time()}
        self._pending = progress
        if time.monotonic() - self._last_report >= PROGRESS_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self._pending is None:
            return
        self.services.write_progress(self._pending)
        self._pending, self._last_report = None, time.monotonic()


_current: ContextVar[TaskContext | None] = ContextVar("vokaflow_task", default=None)


def current_task() -> TaskContext | None:
    return _current.get()


def current_settings() -> Settings:
    """The running task's settings; outside a task, those the environment configures."""
    task = current_task()
    return task.settings if task is not None else load_settings()


@contextlib.contextmanager
def running(context: TaskContext | None) -> Iterator[TaskContext | None]:
    """``context`` is the current task's while inside (None: outside a worker)."""
    token = _current.set(context)
    try:
        yield context
    finally:
        if context is not None:
            context.flush()
        _current.reset(token)


def report_progress(fraction: float | None = None, **details: Any) -> None:
    """Report how far the running task has got (0..1) and any JSON details; a no-op
    outside a task."""
    context = current_task()
    if context is not None:
        context.report_progress(fraction, **details)
