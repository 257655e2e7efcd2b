"""The JSON a webhook receives, built from the task or batch record at delivery time."""

from __future__ import annotations

from typing import Any

from vokaflow.clock import iso_event
from vokaflow.domain.task import TaskField, decode_float, decode_json
from vokaflow.store.batch_store import terminal_counts
from vokaflow.store.events import BATCH_COMPLETED

EVENTS_WITH_ERROR = {"task.failed", "task.timeout", "task.upstream_failed"}


def payload(
    event: str, at: float, data: dict[str, Any], principal: str | None = None
) -> dict[str, Any]:
    """The unsigned payload; the signature member is added when the body is sent. A
    ``send_webhook`` body names the principal whose task sent it."""
    sender = {} if principal is None else {"principal": principal}
    return {"event": event, "timestamp": iso_event(at), **sender, "data": data}


def task_data(event: str, task_id: str, record: dict[str, str] | None) -> dict[str, Any]:
    """The spec's task fields; a record gone (past retention) leaves them null."""
    record = record or {}
    spec = decode_json(record.get(TaskField.SPEC), {})
    data: dict[str, Any] = {
        "task_id": task_id,
        "name": spec.get("name"),
        "status": record.get(TaskField.STATUS) or event.removeprefix("task."),
        "result": decode_json(record.get(TaskField.RESULT)),
        "execution_time": decode_float(record.get(TaskField.EXECUTION_TIME)),
        "completed_at": iso_event(decode_float(record.get(TaskField.COMPLETED_AT))),
    }
    if event in EVENTS_WITH_ERROR:
        data["error"] = decode_json(record.get(TaskField.ERROR))
    return data


def batch_data(batch_id: str, record: dict[str, str] | None) -> dict[str, Any]:
    record = record or {}
    finished_at = decode_float(record.get("finished_at"))
    return {
        "batch_id": batch_id,
        "status": record.get("status"),
        "total": int(record["total"]) if record.get("total") else None,
        **terminal_counts(record),
        "created_at": iso_event(decode_float(record.get("created_at"))),
        "finished_at": iso_event(finished_at),
    }


def ping_data(webhook_id: str) -> dict[str, Any]:
    return {"webhook_id": webhook_id, "message": "Test delivery from VokaFlow"}


def is_batch_event(event: str) -> bool:
    return event == BATCH_COMPLETED
