"""Checking a submitted task against the registry and turning it into a TaskSpec."""

from __future__ import annotations

import uuid
from typing import Any

from vokaflow.api.delays import due_time
from vokaflow.api.schemas.tasks import TaskSubmitRequest
from vokaflow.api.services import Services
from vokaflow.domain import Priority
from vokaflow.domain.idempotency import idempotent_id
from vokaflow.domain.principal import Principal
from vokaflow.domain.task import TaskSpec, concurrency_name, id_in_partition
from vokaflow.errors import ValidationFailed
from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.registry import RegisteredFunction


def allowed_call(
    services: Services,
    principal: Principal,
    function_name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    field_prefix: str = "",
) -> RegisteredFunction:
    """The function, if ``principal`` may call it with these arguments (in its data scope);
    ValidationFailed naming the field otherwise."""
    entry = services.functions.find(function_name)
    if entry is None:
        raise ValidationFailed(
            f"{field_prefix}function_name",
            f"Unknown function '{function_name}'. "
            "GET /api/high-scale-tasks/functions lists the registered ones",
        )
    if entry.admin_only and not principal.is_admin:
        raise ValidationFailed(
            f"{field_prefix}function_name",
            f"'{entry.name}' reaches every tenant's data: only admin keys may run it",
        )
    try:
        entry.validated(args, kwargs, services.argument_context(principal))
    except ArgumentError as problem:
        raise ValidationFailed(
            f"{field_prefix}{problem.field}", f"{entry.name}: {problem.message}"
        ) from None
    return entry


def prepare_task(
    request: TaskSubmitRequest,
    services: Services,
    principal: Principal,
    now_s: float,
    *,
    field_prefix: str = "",
    priority: Priority | None = None,
    batch_id: str | None = None,
    task_id: str | None = None,
    single: bool = False,
) -> TaskSpec:
    """``single``: a single submit, the one kind that may ask for SLA admission."""
    if (request.concurrency_key is None) != (request.max_concurrency is None):
        missing = "max_concurrency" if request.max_concurrency is None else "concurrency_key"
        raise ValidationFailed(
            f"{field_prefix}{missing}",
            "concurrency_key and max_concurrency go together: the key names what is capped, "
            "max_concurrency how many of it may run at once",
        )
    if request.sla_policy != "best_effort" and not single:
        raise ValidationFailed(
            f"{field_prefix}sla_policy",
            "sla_policy applies to single submits; here each task is accepted as it comes",
        )
    entry = allowed_call(
        services, principal, request.function_name, request.args, request.kwargs, field_prefix
    )
    if request.category is not None and request.category != entry.category:
        raise ValidationFailed(
            f"{field_prefix}category",
            f"'{entry.name}' is in category '{entry.category}': its rate limit applies. "
            "Leave category out, or name that one",
        )
    chosen = priority or request.priority
    if not principal.may_use(chosen):
        cap = principal.max_priority.value if principal.max_priority else ""
        raise ValidationFailed(
            f"{field_prefix}priority",
            f"This credential may give its tasks priorities from {cap} down; "
            f"{chosen.value} is above that",
        )
    if task_id is None:
        task_id = (
            idempotent_id(principal.name, "task", request.idempotency_key)
            if request.idempotency_key
            else str(uuid.uuid4())
        )
    if request.concurrency_key is not None:
        # all of a key's tasks in one partition, with the key's state (lib/concurrency.lua)
        home = services.keys.partition(concurrency_name(principal.name, request.concurrency_key))
        task_id = id_in_partition(task_id, home, services.keys.partition)
    settings = services.settings
    return TaskSpec(
        task_id=task_id,
        name=request.name,
        function_name=entry.name,
        args=request.args,
        kwargs=request.kwargs,
        priority=chosen,
        worker_type=request.worker_type or entry.worker_type,
        category=entry.category,
        timeout_s=request.timeout if request.timeout is not None else settings.default_timeout_s,
        max_retries=request.retry_count
        if request.retry_count is not None
        else settings.default_retry_count,
        metadata=request.metadata,
        created_at=now_s,
        partition=services.keys.partition(task_id),
        owner=principal.name,
        batch_id=batch_id or "",
        data_scope=principal.data_scope,
        run_at=due_time(request, settings, now_s, field_prefix),
        concurrency_key=request.concurrency_key or "",
        max_concurrency=request.max_concurrency or 0,
    )
