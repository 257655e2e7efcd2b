"""Checking a submitted task against the registry and turning it into a NewTask."""

from __future__ import annotations

import uuid

from vokaflow.api.services import Services
from vokaflow.errors import ValidationFailed
from vokaflow.schemas import CATEGORIES, Priority, TaskSubmitRequest
from vokaflow.store.api_keys import Principal
from vokaflow.store.records import NewTask


def prepare_task(
    request: TaskSubmitRequest,
    services: Services,
    principal: Principal,
    now_s: float,
    *,
    field_prefix: str = "",
    priority: Priority | None = None,
    batch_id: str | None = None,
) -> NewTask:
    entry = services.functions.find(request.function_name)
    if entry is None:
        raise ValidationFailed(
            f"{field_prefix}function_name",
            f"Unknown function '{request.function_name}'. "
            "GET /api/high-scale-tasks/functions lists the registered ones",
        )
    problem = entry.check_arguments(request.args, request.kwargs)
    if problem is not None:
        raise ValidationFailed(f"{field_prefix}args", f"{entry.name}: {problem}")
    category = request.category or entry.category
    if category not in CATEGORIES:
        raise ValidationFailed(
            f"{field_prefix}category",
            f"Unknown category '{category}'. Must be one of: {', '.join(CATEGORIES)}",
        )
    task_id = str(uuid.uuid4())
    settings = services.settings
    return NewTask(
        task_id=task_id,
        name=request.name,
        function_name=entry.name,
        args=request.args,
        kwargs=request.kwargs,
        priority=priority or request.priority,
        worker_type=request.worker_type or entry.worker_type,
        category=category,
        timeout_s=request.timeout if request.timeout is not None else settings.default_timeout_s,
        max_retries=request.retry_count
        if request.retry_count is not None
        else settings.default_retry_count,
        metadata=request.metadata,
        created_at=now_s,
        partition=services.keys.partition(task_id),
        owner=principal.name,
        batch_id=batch_id,
    )
