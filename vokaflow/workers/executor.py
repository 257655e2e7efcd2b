"""The remote executor: runs a chunk of tasks in one Ray worker and reports each outcome."""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any

import ray

from vokaflow import tracing
from vokaflow.domain.task import ClaimedTask, Outcome, TaskStatus
from vokaflow.functions import registry
from vokaflow.functions.context import TaskContext, running
from vokaflow.functions.plugins import ensure_plugins
from vokaflow.long_lived import freeze_what_lives_on
from vokaflow.tracing.records import AttributeValue
from vokaflow.workers.capture import OutputSink, captured_output
from vokaflow.workers.env import WorkerEnv
from vokaflow.workers.results import bounded_result

MAX_TRACEBACK_CHARS = 4000
REPORT_AFTER_S = 0.05


def _task_context(task: ClaimedTask, env: WorkerEnv | None) -> TaskContext | None:
    return None if env is None else TaskContext(task, env)


def _error_info(exc: BaseException) -> dict[str, Any]:
    summary = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": summary[-MAX_TRACEBACK_CHARS:],
    }


def run_one(task: ClaimedTask, sink: OutputSink, env: WorkerEnv | None = None) -> Outcome:
    """The task's run, as a span of its trace (current while its function runs, so the
    function's own spans nest under it) when the task is traced. A first attempt's carries
    its queue wait: from when it was ready (submit, due time or requeue) to this start."""
    if not (task.run_trace_parent and env is not None and _traces(env)):
        return _run(task, sink, env)
    attributes: dict[str, AttributeValue] = {
        "vokaflow.task_id": task.task_id,
        "vokaflow.attempt": task.attempt,
        "vokaflow.function": task.spec.function_name,
    }
    if task.attempt == 1 and task.queued_since > 0:
        attributes["vokaflow.queue_wait_s"] = max(0.0, time.time() - task.queued_since)
    name = f"execute {task.spec.function_name}"
    with tracing.recorded_span(task.run_trace_parent, name, attributes) as span:
        outcome = _run(task, sink, env)
        span.attributes["vokaflow.status"] = outcome.status.value
        if outcome.error:
            span.fail(str(outcome.error.get("type")))
        return outcome


def _traces(env: WorkerEnv) -> bool:
    return tracing.configure(env.settings, "vokaflow-worker")


def _run(task: ClaimedTask, sink: OutputSink, env: WorkerEnv | None) -> Outcome:
    spec = task.spec
    output = sink.next_task()
    started = time.time()
    try:
        if env is not None:
            ensure_plugins(env.plugins)
        with running(_task_context(task, env)):
            entry = registry.get(spec.function_name)
            if entry.admin_only and spec.data_scope:
                raise PermissionError(f"{entry.name} runs only for tasks an admin key submitted")
            context = None if env is None else env.argument_context(spec.data_scope)
            args, kwargs = entry.validated(spec.args, spec.kwargs, context)
            result = bounded_result(
                entry.invoke(*args, **kwargs), spec.task_id, env, spec.data_scope
            )
        status, error = TaskStatus.COMPLETED, None
    except Exception as exc:
        result, status, error = None, TaskStatus.FAILED, _error_info(exc)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    return Outcome(
        task_id=spec.task_id,
        attempt=task.attempt,
        status=status,
        started_at=started,
        completed_at=time.time(),
        result=result,
        error=error,
        function_name=spec.function_name,
        logs=output.finish(),
    )


@ray.remote(max_retries=0)
def execute_chunk(
    tasks: list[ClaimedTask], chunk_id: int, scheduler: Any, env: WorkerEnv | None = None
) -> list[Outcome]:
    """Runs the chunk in order. If it is still running after REPORT_AFTER_S, tells the
    scheduler which process runs it and since when (timeouts count from that start; a
    chunk that ends sooner never needs it, and skips an actor call).

    Ray must not retry: the scheduler owns retries and knows which attempts already ran.
    """
    report = None
    if scheduler is not None:
        started, pid = time.time(), os.getpid()
        report = threading.Timer(
            REPORT_AFTER_S, lambda: scheduler.chunk_started.remote(chunk_id, pid, started)
        )
        report.daemon = True
        report.start()
    try:
        with captured_output() as sink:
            outcomes = [run_one(task, sink, env) for task in tasks]
        # A pool worker serves chunks for its whole life; after its first, its plugins are
        # imported (a plugin that fails to import fails each task, not the chunk).
        freeze_what_lives_on()
        return outcomes
    finally:
        if report is not None:
            report.cancel()
