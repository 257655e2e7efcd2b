"""Turning stored task records into the API's response bodies."""

from __future__ import annotations

import json

from vokaflow.clock import iso_event
from vokaflow.domain import TaskStatus, WorkerType
from vokaflow.domain.task import decode_float, decode_json, record_priority
from vokaflow.schemas import TaskErrorInfo, TaskStatusResponse


def task_status_view(record: dict[str, str], redis_node: str) -> TaskStatusResponse:
    spec = json.loads(record["spec"])
    status = TaskStatus(record["status"])
    attempts = int(record.get("attempts", "0"))
    error = decode_json(record.get("error"))
    return TaskStatusResponse(
        task_id=spec["id"],
        name=spec["name"],
        status=status,
        priority=record_priority(record),
        worker_type=WorkerType(record["worker_type"]),
        category=spec["category"],
        partition=spec["partition"],
        redis_node=redis_node,
        created_at=iso_event(spec["created_at"]) or "",
        started_at=iso_event(decode_float(record.get("started_at"))),
        completed_at=iso_event(decode_float(record.get("completed_at"))),
        execution_time=decode_float(record.get("execution_time")),
        result=decode_json(record.get("result")),
        error=TaskErrorInfo(**error) if error else None,
        retry_count=max(0, attempts - 1),
        metadata=spec["metadata"],
        function_name=spec["function_name"],
        attempts=attempts,
        timeout=spec["timeout"],
        max_retries=spec["max_retries"],
        batch_id=record.get("batch_id"),
        worker_pid=int(record["worker_pid"]) if record.get("worker_pid") else None,
        system_retries=int(record.get("system_retries", "0")),
        progress=decode_json(record.get("progress")),
        retry_at=iso_event(int(record["retry_at"]) / 1000)
        if status == TaskStatus.QUEUED and record.get("retry_at")
        else None,
    )
