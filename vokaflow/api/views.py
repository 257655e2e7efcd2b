"""Turning stored task records into the API's response bodies."""

from __future__ import annotations

from vokaflow.api.schemas.tasks import TaskErrorInfo, TaskStatusResponse
from vokaflow.clock import iso_event
from vokaflow.domain.task import TaskRecord


def task_status_view(record: dict[str, str], redis_node: str) -> TaskStatusResponse:
    task = TaskRecord.from_record(record)
    spec = task.spec
    return TaskStatusResponse(
        task_id=spec.task_id,
        name=spec.name,
        status=task.status,
        priority=spec.priority,
        worker_type=spec.worker_type,
        category=spec.category,
        partition=spec.partition,
        redis_node=redis_node,
        created_at=iso_event(spec.created_at) or "",
        started_at=iso_event(task.started_at),
        completed_at=iso_event(task.completed_at),
        execution_time=task.execution_time,
        result=task.result,
        error=TaskErrorInfo(**task.error) if task.error else None,
        retry_count=max(0, task.attempts - 1),
        metadata=spec.metadata,
        function_name=spec.function_name,
        attempts=task.attempts,
        timeout=spec.timeout_s,
        max_retries=spec.max_retries,
        batch_id=spec.batch_id or None,
        worker_pid=task.worker_pid,
        system_retries=task.system_retries,
        progress=task.progress,
        retry_at=iso_event(task.retry_at),
        run_at=iso_event(spec.run_at),
        concurrency_key=spec.concurrency_key or None,
        max_concurrency=spec.max_concurrency or None,
    )
