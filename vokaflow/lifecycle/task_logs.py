"""The log entries an end leaves: the function's output, retries, failures, and the ends
that did not come from a worker (cancel, a batch's abort or timeout)."""

from __future__ import annotations

from collections.abc import Sequence

from vokaflow.domain.task import ClaimedTask, Outcome, TaskStatus
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
