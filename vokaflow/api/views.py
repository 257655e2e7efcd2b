"""Turning stored task records into the API's response bodies."""

from __future__ import annotations

from vokaflow.api.schemas.tasks import TaskErrorInfo, TaskStatusResponse
from vokaflow.clock import iso_event
from vokaflow.domain import TaskStatus, WorkerType
from vokaflow.domain.task import (
    TaskField,
    TaskSpec,
    decode_float,
    decode_json,
    record_priority,
)


def task_status_view(record: dict[str, str], redis_node: str) -> TaskStatusResponse:
    spec = TaskSpec.decode(record[TaskField.SPEC])
    status = TaskStatus(record[TaskField.STATUS])
    attempts = int(record.get(TaskField.ATTEMPTS, "0"))
    error = decode_json(record.get(TaskField.ERROR))
    return TaskStatusResponse(
        task_id=spec.task_id,
        name=spec.name,
        status=status,
        priority=record_priority(record),
        worker_type=WorkerType(record[TaskField.WORKER_TYPE]),
        category=spec.category,
        partition=spec.partition,
        redis_node=redis_node,
        created_at=iso_event(spec.created_at) or "",
        started_at=iso_event(decode_float(record.get(TaskField.STARTED_AT))),
        completed_at=iso_event(decode_float(record.get(TaskField.COMPLETED_AT))),
        execution_time=decode_float(record.get(TaskField.EXECUTION_TIME)),
        result=decode_json(record.get(TaskField.RESULT)),
        error=TaskErrorInfo(**error) if error else None,
        retry_count=max(0, attempts - 1),
        metadata=spec.metadata,
        function_name=spec.function_name,
        attempts=attempts,
        timeout=spec.timeout_s,
        max_retries=spec.max_retries,
        batch_id=record.get(TaskField.BATCH_ID),
        worker_pid=_optional_int(record.get(TaskField.WORKER_PID)),
        system_retries=int(record.get(TaskField.SYSTEM_RETRIES, "0")),
        progress=decode_json(record.get(TaskField.PROGRESS)),
        retry_at=iso_event(int(record[TaskField.RETRY_AT]) / 1000)
        if status == TaskStatus.QUEUED and record.get(TaskField.RETRY_AT)
        else None,
    )


def _optional_int(raw: str | None) -> int | None:
    return int(raw) if raw else None
