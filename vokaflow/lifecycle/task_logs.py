"""The log entries an end leaves: the function's output, retries, failures, and the ends
that did not come from a worker (cancel, a batch's abort or timeout)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vokaflow.domain.task import (
    ClaimedTask,
    Outcome,
    TaskField,
    TaskSpec,
    TaskStatus,
    decode_float,
    decode_json,
)
from vokaflow.store.dispatch_store import Retry
from vokaflow.store.events import TASK_EVENTS
from vokaflow.store.logs import Entry

FAILURE_EVENTS = {
    status: TASK_EVENTS[status.value] for status in (TaskStatus.FAILED, TaskStatus.TIMEOUT)
}


def output_entries(outcome: Outcome) -> list[Entry]:
    return [
        {
            "timestamp": line["ts"],
            "level": line["level"],
            "event": "output",
            "source": line["source"],
            "message": line["message"],
            "attempt": outcome.attempt,
        }
        for line in outcome.logs
    ]


def _error_text(outcome: Outcome) -> str:
    error = outcome.error or {}
    return f"{error.get('type', 'Error')}: {error.get('message', '')}"


def retry_entry(retry: Retry) -> Entry:
    outcome = retry.outcome
    delay_s = max(0.0, retry.ready_at_ms / 1000 - outcome.completed_at)
    return {
        "timestamp": outcome.completed_at,
        "level": "WARNING",
        "event": "retried",
        "message": f"Attempt {outcome.attempt} failed ({_error_text(outcome)}); "
        f"attempt {outcome.attempt + 1} in {delay_s:.1f} s",
        "attempt": outcome.attempt,
    }


def system_entry(task_id: str, function_name: str, owner: str, entry: Entry) -> Entry:
    """A task's entry as the service log shows it: named, and listed for its owner."""
    return {
        **entry,
        "message": f"Task {task_id} ({function_name}): {entry['message']}",
        "task_id": task_id,
        "owner": owner,
        "component": "tasks",
    }


def _system_entry(task: ClaimedTask, entry: Entry) -> Entry:
    return system_entry(task.task_id, task.spec.function_name, task.spec.owner, entry)


def failure_entry(outcome: Outcome) -> Entry | None:
    event = FAILURE_EVENTS.get(outcome.status)
    if event is None:
        return None
    return {
        "timestamp": outcome.completed_at,
        "level": "ERROR",
        "event": event,
        "message": f"{outcome.status} after {outcome.attempt} attempt(s): {_error_text(outcome)}",
        "attempt": outcome.attempt,
    }


def termination_entry(status: TaskStatus, at: float, attempt: int | None, why: str) -> Entry:
    """A task ended without a worker's outcome: cancelled, or ended with its batch."""
    return {
        "timestamp": at,
        "level": "ERROR" if status == TaskStatus.TIMEOUT else "WARNING",
        "event": TASK_EVENTS[status.value],
        "message": f"{status}: {why}",
        "attempt": attempt,
    }


def output_lines(outcomes: Sequence[Outcome]) -> dict[str, list[Entry]]:
    """Per task: what its function printed, for the tasks that printed anything."""
    lines = {outcome.task_id: output_entries(outcome) for outcome in outcomes}
    return {task_id: entries for task_id, entries in lines.items() if entries}


def settle_entries(
    tasks: Sequence[ClaimedTask], final: Sequence[Outcome], retries: Sequence[Retry]
) -> tuple[dict[str, list[Entry]], list[Entry]]:
    """Per task: its retry line. For the service log: retries and failures. (The output
    lines are written before the outcome, by ``output_lines``.)"""
    by_id = {task.task_id: task for task in tasks}
    task_lines: dict[str, list[Entry]] = {}
    system: list[Entry] = []
    for outcome in final:
        failure = failure_entry(outcome)
        if failure is not None:
            system.append(_system_entry(by_id[outcome.task_id], failure))
    for retry in retries:
        line = retry_entry(retry)
        task_lines[retry.outcome.task_id] = [line]
        system.append(_system_entry(by_id[retry.outcome.task_id], line))
    return task_lines, system


def lifecycle_entries(record: Mapping[str, str]) -> list[Entry]:
    """Submitted, dispatched, started and finished, read from the task's record: its
    latest run's (a requeue keeps the earlier run's as lines, ``requeue_entries``)."""
    spec = TaskSpec.from_record(record)
    attempt = int(record.get(TaskField.ATTEMPTS) or 0) or None
    priority = spec.priority.value
    entries: list[Entry] = [
        {
            "timestamp": spec.created_at,
            "level": "INFO",
            "event": "submitted",
            "message": f"Submitted: {spec.function_name} at {priority} priority "
            f"to the {spec.worker_type.value} pool (category {spec.category})",
        }
    ]
    dispatched = decode_float(record.get(TaskField.DISPATCHED_AT))
    started = decode_float(record.get(TaskField.STARTED_AT))
    if dispatched is not None:
        message = f"Dispatched, attempt {attempt}"
        entries.append(_line(dispatched, "INFO", "dispatched", message, attempt))
    if started is not None and started != dispatched:
        pid = record.get(TaskField.WORKER_PID)
        message = "Started" + (f" in worker process {pid}" if pid else "")
        entries.append(_line(started, "INFO", "started", message, attempt))
    finished = decode_float(record.get(TaskField.COMPLETED_AT))
    if finished is not None:
        entries.append(_finished(record, finished, attempt))
    return entries


def _finished(record: Mapping[str, str], at: float, attempt: int | None) -> Entry:
    status = record[TaskField.STATUS]
    took = decode_float(record.get(TaskField.EXECUTION_TIME))
    message = f"Finished: {status}" + (f" after {took:.3f} s" if took is not None else "")
    error = decode_json(record.get(TaskField.ERROR))
    if error:
        message += f" ({error.get('type')}: {error.get('message')})"
    level = "INFO" if status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED) else "ERROR"
    return _line(at, level, "finished", message, attempt)


def _line(at: float, level: str, event: str, message: str, attempt: int | None) -> Entry:
    return {"timestamp": at, "level": level, "event": event, "message": message, "attempt": attempt}


def requeue_entries(record: Mapping[str, str], at: float) -> list[Entry]:
    """A dead letter sent back to its queue: its failed run's entries, which the record
    forgets as the task runs again, kept as lines, then the requeue's own."""
    earlier = [entry for entry in lifecycle_entries(record) if entry["event"] != "submitted"]
    message = "Requeued from the dead letters, for a fresh set of attempts"
    return [*earlier, _line(at, "INFO", "requeued", message, None)]
