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
from vokaflow.domain.task import (
    TaskField,
    TaskSpec,
    concurrency_name,
    id_in_partition,
    task_owner,
)
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
    parents: dict[str, str] | None = None,
    workflow_id: str = "",
    trace_parent: str = "",
) -> TaskSpec:
    """``single``: a single submit, the one kind that may ask for SLA admission.
    ``parents``: a workflow node's parents, task id -> node name, in place of its
    ``depends_on`` (which names nodes there); elsewhere ``depends_on`` holds task ids,
    which ``check_parents`` must find the principal's."""
    _check_pairs(request, field_prefix, single)
    entry = allowed_call(
        services, principal, request.function_name, request.args, request.kwargs, field_prefix
    )
    if request.pass_results_as:
        _check_takes_results(entry, request, services, principal, field_prefix)
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
    task_id = routed_task_id(request, services, principal, task_id)
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
        depends_on=parents if parents is not None else _parents(request, field_prefix),
        trigger_rule=request.trigger_rule,
        pass_results_as=request.pass_results_as or "",
        workflow_id=workflow_id,
        trace_parent=trace_parent,
    )


def _check_pairs(request: TaskSubmitRequest, field_prefix: str, single: bool) -> None:
    """Fields that go together, or not at all."""
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
    if request.depends_on is None:
        if request.pass_results_as is not None:
            raise ValidationFailed(
                f"{field_prefix}pass_results_as", "Only a task with depends_on has parents"
            )
        return
    for timing in ("run_at", "delay_seconds"):
        if getattr(request, timing) is not None:
            raise ValidationFailed(
                f"{field_prefix}{timing}", "A task with parents runs when they end"
            )
    if request.sla_policy != "best_effort":
        raise ValidationFailed(
            f"{field_prefix}sla_policy", "A task with parents has no start to admit yet"
        )


def _check_takes_results(
    entry: RegisteredFunction,
    request: TaskSubmitRequest,
    services: Services,
    principal: Principal,
    field_prefix: str,
) -> None:
    """The function must take a dict of its parents' results under that kwarg."""
    name = str(request.pass_results_as)
    try:
        entry.validated(
            request.args, {**request.kwargs, name: {}}, services.argument_context(principal)
        )
    except ArgumentError:
        raise ValidationFailed(
            f"{field_prefix}pass_results_as",
            f"{entry.name} takes no argument {name!r} for its parents' results",
        ) from None


def _parents(request: TaskSubmitRequest, field_prefix: str) -> dict[str, str]:
    """depends_on as task ids, each its own name for its result."""
    parents: dict[str, str] = {}
    for i, parent_id in enumerate(request.depends_on or []):
        if parent_id in parents:
            raise ValidationFailed(f"{field_prefix}depends_on[{i}]", "Named twice")
        parents[parent_id] = parent_id
    return parents


def routed_task_id(
    request: TaskSubmitRequest, services: Services, principal: Principal, task_id: str | None
) -> str:
    """The task's id: ``task_id``, or from its idempotency key, or new; with a concurrency
    key, moved into the key's partition."""
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
    return task_id


async def check_parents(
    services: Services, principal: Principal, task: TaskSpec, field_prefix: str = ""
) -> None:
    """Each parent in depends_on must be a task this principal may see (an admin: any);
    ValidationFailed on the first that is not, as if it did not exist."""
    parent_ids = list(task.depends_on)
    specs = await services.tasks.get_many(parent_ids, [TaskField.SPEC])
    for i, (spec_json,) in enumerate(specs):
        owner = None if spec_json is None else task_owner(spec_json)
        if owner is None or not (principal.is_admin or owner == principal.name):
            raise ValidationFailed(
                f"{field_prefix}depends_on[{i}]",
                f"No task {parent_ids[i]!r} of yours to wait for",
            )
