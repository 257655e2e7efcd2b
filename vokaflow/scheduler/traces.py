"""The scheduler's spans of traced tasks (those whose spec carries a traceparent), one per
trace and step rather than one per task: a claim round's tasks of one trace (a batch's, a
workflow's, or a single task's) share one dispatch span under their submit, and the tasks
of one dispatch settled together share one settle span under it. A worker is handed its
dispatch's traceparent (``run_trace_parent``), so each task's run nests there. A single
task's trace is the same either way; a batch of thousands has a span per round, not three
per task, which is what tracing a task costs the scheduler."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from vokaflow import tracing
from vokaflow.domain.task import ClaimedTask, Outcome, TaskStatus
from vokaflow.tracing.records import AttributeValue


def dispatched(claimed: list[ClaimedTask], now: float) -> list[ClaimedTask]:
    """The claimed tasks, each traced one with its dispatch's traceparent; off, as they
    came, at no cost."""
    if not tracing.enabled():
        return claimed
    by_trace: dict[str, list[int]] = {}
    for index, task in enumerate(claimed):
        if task.spec.trace_parent:
            by_trace.setdefault(task.spec.trace_parent, []).append(index)
    if not by_trace:
        return claimed
    ended = time.time()
    handed = list(claimed)
    for submit, indexes in by_trace.items():
        attributes = _dispatch_attributes([claimed[i] for i in indexes])
        dispatch = tracing.record_span(submit, "dispatch", now, ended, attributes)
        if dispatch:  # "": the trace is not sampled
            for index in indexes:
                handed[index] = replace(claimed[index], run_trace_parent=dispatch)
    return handed


def _dispatch_attributes(tasks: list[ClaimedTask]) -> dict[str, AttributeValue]:
    if len(tasks) > 1:  # each task's run names it
        return {"vokaflow.task_count": len(tasks)}
    (task,) = tasks
    return {
        "vokaflow.task_count": 1,
        "vokaflow.task_id": task.task_id,
        "vokaflow.attempt": task.attempt,
        "vokaflow.priority": task.spec.priority.value,
        "vokaflow.function": task.spec.function_name,
    }


@contextmanager
def settling(tasks: Sequence[ClaimedTask], outcomes: Sequence[Outcome]) -> Iterator[None]:
    """One span per dispatch while its tasks' outcomes are written, under that dispatch,
    marked failed when one of them did not complete."""
    if not tracing.enabled():
        yield
        return
    started = time.time()
    yield
    ended = time.time()
    by_dispatch: dict[str, list[tuple[ClaimedTask, Outcome]]] = {}
    for task, outcome in zip(tasks, outcomes, strict=False):
        if task.run_trace_parent:
            by_dispatch.setdefault(task.run_trace_parent, []).append((task, outcome))
    for dispatch, settled in by_dispatch.items():
        failed = sum(outcome.status is not TaskStatus.COMPLETED for _, outcome in settled)
        attributes = _settle_attributes(settled, failed)
        tracing.record_span(dispatch, "settle", started, ended, attributes, failed=failed > 0)


def _settle_attributes(
    settled: list[tuple[ClaimedTask, Outcome]], failed: int
) -> dict[str, AttributeValue]:
    if len(settled) > 1:
        return {"vokaflow.task_count": len(settled), "vokaflow.failed_count": failed}
    ((task, outcome),) = settled
    return {
        "vokaflow.task_count": 1,
        "vokaflow.task_id": task.task_id,
        "vokaflow.status": outcome.status.value,
    }
