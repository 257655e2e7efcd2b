"""/api/high-scale-tasks: submit, status, cancel, and the catalog of priorities and functions."""

from __future__ import annotations

import time
from collections import defaultdict

from fastapi import APIRouter, Response

from vokaflow import tracing
from vokaflow.api.deps import PrincipalDep, ServicesDep, TraceParent
from vokaflow.api.schemas.tasks import (
    AutoScalingThresholds,
    CancelResponse,
    FunctionInfo,
    FunctionsResponse,
    PrioritiesResponse,
    PriorityInfo,
    TaskStatusResponse,
    TaskSubmitRequest,
    TaskSubmitResponse,
)
from vokaflow.api.services import Services
from vokaflow.api.submission import check_parents, prepare_task
from vokaflow.api.views import task_status_view
from vokaflow.clock import iso_event, iso_forecast
from vokaflow.domain import Priority, TaskStatus
from vokaflow.domain.principal import Principal
from vokaflow.domain.task import TaskField, TaskSpec, task_owner
from vokaflow.errors import Conflict, NotFound, SlaUnreachable
from vokaflow.observability.prometheus import gateway_metrics

router = APIRouter(prefix="/api/high-scale-tasks", tags=["tasks"])


@router.post("/submit", response_model=TaskSubmitResponse)
async def submit_task(
    body: TaskSubmitRequest,
    response: Response,
    services: ServicesDep,
    principal: PrincipalDep,
    traceparent: TraceParent = None,
) -> TaskSubmitResponse:
    with tracing.request_span(
        traceparent, "submit", {"vokaflow.function": body.function_name}
    ) as parent:
        return await _submit(body, response, services, principal, parent)


async def _submit(
    body: TaskSubmitRequest,
    response: Response,
    services: Services,
    principal: Principal,
    trace_parent: str,
) -> TaskSubmitResponse:
    await services.ensure_accepting()
    now = time.time()
    task = prepare_task(body, services, principal, now, single=True, trace_parent=trace_parent)
    if task.depends_on:
        await check_parents(services, principal, task)
    if body.sla_policy == "reject" and not await _a_replay(services, body, task):
        await _admit_by_sla(services, task, now)
    decision, ahead = await services.tasks.submit_one(task, services.rate_limiter)
    if decision is None:
        response.headers["Idempotent-Replayed"] = "true"
        return await _first_submit(services, task.task_id, principal)
    if decision.refused:
        gateway_metrics().count_refused(task.category)
        raise decision.error(task.category)
    gateway_metrics().count_submitted([(task.category, task.priority.value)])
    await services.ending.children_written([task], now)
    start_s = await services.estimated_start_s(task.worker_type, task.function_name, ahead)
    ready_at = max(now, task.ready_at)
    return TaskSubmitResponse(
        task_id=task.task_id,
        name=task.name,
        status=task.initial_status,
        priority=task.priority,
        partition=task.partition,
        redis_node=services.redis_node(task.partition, principal),
        estimated_start=iso_forecast(ready_at + start_s),
        estimated_completion=iso_forecast(
            ready_at + start_s + services.mean_run_s(task.function_name)
        ),
        queue_position=ahead,
        created_at=iso_event(now) or "",
        run_at=iso_event(task.run_at),
    )


async def _a_replay(services: Services, body: TaskSubmitRequest, task: TaskSpec) -> bool:
    """A repeated idempotency key: the first task was admitted, and is answered again."""
    return bool(body.idempotency_key) and await services.tasks.get(task.task_id) is not None


async def _admit_by_sla(services: Services, task: TaskSpec, now: float) -> None:
    """SlaUnreachable, before anything is written, when the tasks now ahead of this one in
    its pool would keep it from starting within its priority's SLA of its ready time (a
    delayed task's backlog at its due time is not known: today's stands in for it)."""
    ahead = await services.tasks.queue_position(task.worker_type, task.score)
    start_s = await services.estimated_start_s(task.worker_type, task.function_name, ahead)
    sla_s = task.priority.sla_seconds
    if start_s > sla_s:
        raise SlaUnreachable(task.priority.value, sla_s, start_s, ahead, max(now, task.ready_at))


async def _first_submit(
    services: Services, task_id: str, principal: Principal
) -> TaskSubmitResponse:
    """The answer to a repeated idempotency key: the first task, as it is now."""
    record = await services.tasks.get(task_id)
    if record is None:  # expired between the script and this read: as good as never sent
        raise Conflict(f"Task '{task_id}' expired while being replayed; submit again")
    view = await _status_with_position(services, task_id, record, principal)
    ahead = view.queue_position or 0
    start_s = await services.estimated_start_s(view.worker_type, view.function_name, ahead)
    ready_at = max(time.time(), TaskSpec.from_record(record).ready_at)
    return TaskSubmitResponse(
        task_id=task_id,
        name=view.name,
        status=view.status,
        priority=view.priority,
        partition=view.partition,
        redis_node=view.redis_node,
        estimated_start=iso_forecast(ready_at + start_s),
        estimated_completion=iso_forecast(
            ready_at + start_s + services.mean_run_s(view.function_name)
        ),
        queue_position=ahead,
        created_at=view.created_at,
        run_at=view.run_at,
    )


@router.get("/status/{task_id}", response_model=TaskStatusResponse)
async def task_status(
    task_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
) -> TaskStatusResponse:
    record = await services.visible_record(task_id, principal)
    return await _status_with_position(services, task_id, record, principal)


async def _status_with_position(
    services: Services, task_id: str, record: dict[str, str], principal: Principal
) -> TaskStatusResponse:
    """The status view, with the tasks ahead of it while it is queued."""
    view = task_status_view(
        record, services.redis_node(services.keys.partition(task_id), principal)
    )
    if view.status == TaskStatus.QUEUED:
        view.queue_position = await services.tasks.queue_position(
            view.worker_type, float(record[TaskField.SCORE])
        )
    return view


@router.delete("/cancel/{task_id}", response_model=CancelResponse)
async def cancel_task(
    task_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
) -> CancelResponse:
    spec = await services.tasks.spec(task_id)
    if spec is None or not principal.may_see(task_owner(spec)):
        raise NotFound(f"Task '{task_id}' not found")
    now = time.time()
    ended = await services.ending.cancel(task_id, now)
    if ended.outcome == "missing":
        raise NotFound(f"Task '{task_id}' not found")
    if ended.outcome == "terminal":
        raise Conflict(
            f"Task '{task_id}' is already {ended.previous_status} and cannot be cancelled",
            {"task_id": task_id, "status": ended.previous_status},
        )
    return CancelResponse(
        task_id=task_id,
        status=TaskStatus.CANCELLED,
        cancelled_at=iso_event(now) or "",
        message="Task cancelled successfully",
    )


@router.get("/priorities", response_model=PrioritiesResponse)
async def priorities(
    services: ServicesDep,
    principal: PrincipalDep,
) -> PrioritiesResponse:
    settings = services.settings
    return PrioritiesResponse(
        priorities={
            p.value: PriorityInfo(
                level=p.level,
                sla_seconds=p.sla_seconds,
                description=p.description,
                examples=p.examples,
            )
            for p in Priority
        },
        default_priority=Priority.NORMAL,
        auto_scaling_thresholds=AutoScalingThresholds(
            scale_up_queue_size=settings.scale_up_queue_size,
            scale_down_queue_size=settings.scale_down_queue_size,
        ),
    )


@router.get("/functions", response_model=FunctionsResponse)
async def functions(
    services: ServicesDep,
    principal: PrincipalDep,
) -> FunctionsResponse:
    grouped: dict[str, list[FunctionInfo]] = defaultdict(list)
    entries = services.functions.listed()
    for entry in entries:
        grouped[entry.category].append(FunctionInfo.model_validate(entry, from_attributes=True))
    return FunctionsResponse(
        functions=dict(grouped),
        total_functions=len(entries),
        categories=services.functions.categories(),
    )
