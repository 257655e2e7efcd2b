"""The scheduler's spans of a traced task (one whose spec carries a traceparent): each
dispatch under its submit's span, the first with its queue wait, and each settling under
that dispatch. The task a worker is handed carries its dispatch's traceparent
(``run_trace_parent``), so the run nests there."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from vokaflow import tracing
from vokaflow.domain.task import ClaimedTask, Outcome


def _attributes(task: ClaimedTask) -> dict[str, str | int | float | bool]:
    return {
        "vokaflow.task_id": task.task_id,
        "vokaflow.attempt": task.attempt,
        "vokaflow.priority": task.spec.priority.value,
        "vokaflow.function": task.spec.function_name,
    }


def dispatched(claimed: list[ClaimedTask], now: float) -> list[ClaimedTask]:
    """The claimed tasks, each traced one with its dispatch's traceparent; off, as they
    came, at no cost."""
    if not tracing.enabled():
        return claimed
    return [_dispatched(task, now) if task.spec.trace_parent else task for task in claimed]


def _dispatched(task: ClaimedTask, now: float) -> ClaimedTask:
    """Its dispatch, under its submit; a first attempt's carries its queue wait (submit or
    due time to now) as an attribute, which the gap between the two spans also shows."""
    attributes = _attributes(task)
    if task.attempt == 1 and task.queued_since > 0:
        attributes["vokaflow.queue_wait_s"] = now - task.queued_since
    dispatch = tracing.record_span(task.spec.trace_parent, "dispatch", now, time.time(), attributes)
    return replace(task, run_trace_parent=dispatch)


@contextmanager
def settling(tasks: Sequence[ClaimedTask], outcomes: Sequence[Outcome]) -> Iterator[None]:
    """One span per traced task while its outcome is written, under its dispatch."""
    if not tracing.enabled():
        yield
        return
    started = time.time()
    yield
    ended = time.time()
    for task, outcome in zip(tasks, outcomes, strict=False):
        if task.run_trace_parent:
            attributes = {"vokaflow.task_id": task.task_id, "vokaflow.status": outcome.status.value}
            failed = outcome.status.value != "completed"
            tracing.record_span(
                task.run_trace_parent, "settle", started, ended, attributes, failed=failed
            )
