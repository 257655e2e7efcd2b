"""/api/workflows: named tasks and the edges between them (a DAG) in one request. Each node
is an ordinary task, checked as a submit checks it; a node with parents waits for them
(lifecycle.dependencies)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError

from vokaflow import tracing
from vokaflow.api.deps import PrincipalDep, ServicesDep, TraceParent
from vokaflow.api.schemas.tasks import TaskSubmitRequest
from vokaflow.api.schemas.workflows import (
    WorkflowNodeView,
    WorkflowResponse,
    WorkflowSubmitRequest,
)
from vokaflow.api.services import Services
from vokaflow.api.submission import prepare_task, routed_task_id
from vokaflow.api.validation import validation_failure
from vokaflow.clock import iso_event
from vokaflow.domain import TaskField, TaskStatus
from vokaflow.domain.principal import Principal
from vokaflow.domain.task import TaskSpec
from vokaflow.domain.workflow import (
    GraphError,
    WorkflowNode,
    check_edges,
    check_graph,
    overall_status,
)
from vokaflow.errors import NotFound, ValidationFailed
from vokaflow.observability.prometheus import gateway_metrics
from vokaflow.store.workflow_store import WorkflowRecord

router = APIRouter(prefix="/api/workflows", tags=["workflows"])
WRITE_CHUNK = 1000


@router.post("", response_model=WorkflowResponse, status_code=201)
async def submit_workflow(
    body: WorkflowSubmitRequest,
    services: ServicesDep,
    principal: PrincipalDep,
    traceparent: TraceParent = None,
) -> WorkflowResponse:
    with tracing.request_span(
        traceparent, "submit workflow", {"vokaflow.tasks": len(body.tasks)}
    ) as parent:
        return await _submit_workflow(body, services, principal, parent)


async def _submit_workflow(
    body: WorkflowSubmitRequest, services: Services, principal: Principal, trace_parent: str
) -> WorkflowResponse:
    await services.ensure_accepting()
    now = time.time()
    requests = [_node_request(raw, i) for i, raw in enumerate(body.tasks)]
    try:
        check_graph([r.name for r in requests], [r.depends_on or [] for r in requests])
        check_edges([r.depends_on or [] for r in requests])
    except GraphError as problem:
        raise ValidationFailed(problem.field, problem.message) from None
    workflow_id = str(uuid.uuid4())
    tasks = _prepare_nodes(requests, services, principal, now, workflow_id, trace_parent)
    await _take_tokens(services, principal, tasks)
    record = WorkflowRecord(
        workflow_id=workflow_id,
        owner=principal.name,
        name=body.name,
        created_at=now,
        nodes=tuple(
            WorkflowNode(r.name, t.task_id, tuple(r.depends_on or []))
            for r, t in zip(requests, tasks, strict=True)
        ),
    )
    await services.workflows.create(record)
    for start in range(0, len(tasks), WRITE_CHUNK):
        await services.tasks.submit(tasks[start : start + WRITE_CHUNK])
    gateway_metrics().count_submitted((t.category, t.priority.value) for t in tasks)
    await services.ending.children_written(tasks, now)
    return await _view(services, record)


@router.get("/{workflow_id}", response_model=WorkflowResponse)
async def get_workflow(
    workflow_id: str, services: ServicesDep, principal: PrincipalDep
) -> WorkflowResponse:
    return await _view(services, await _owned(services, principal, workflow_id))


@router.delete("/{workflow_id}", response_model=WorkflowResponse)
async def cancel_workflow(
    workflow_id: str, services: ServicesDep, principal: PrincipalDep
) -> WorkflowResponse:
    """Cancel every node that has not ended (running ones are stopped); those that ended
    keep their status."""
    record = await _owned(services, principal, workflow_id)
    if not await services.workflows.mark_cancelled(workflow_id):
        raise NotFound(f"Workflow {workflow_id} not found")
    task_ids = [node.task_id for node in record.nodes]
    await services.ending.cancel_many(task_ids, "its workflow was cancelled", time.time())
    return await _view(services, await _owned(services, principal, workflow_id))


def _node_request(raw: dict[str, Any], index: int) -> TaskSubmitRequest:
    prefix = f"tasks[{index}]."
    try:
        request = TaskSubmitRequest.model_validate(raw)
    except ValidationError as exc:
        raise validation_failure(exc.errors(), prefix) from None
    if request.idempotency_key is not None:
        raise ValidationFailed(f"{prefix}idempotency_key", "A workflow's nodes have no keys")
    return request


def _prepare_nodes(
    requests: list[TaskSubmitRequest],
    services: Services,
    principal: Principal,
    now: float,
    workflow_id: str,
    trace_parent: str,
) -> list[TaskSpec]:
    # final ids first (a node with a concurrency key gets one in its key's partition), so
    # that each child names its parents by the ids they are written under
    ids = {r.name: routed_task_id(r, services, principal, str(uuid.uuid4())) for r in requests}
    return [
        prepare_task(
            r,
            services,
            principal,
            now,
            field_prefix=f"tasks[{i}].",
            task_id=ids[r.name],
            parents={ids[parent]: parent for parent in r.depends_on or []},
            workflow_id=workflow_id,
            trace_parent=trace_parent,
        )
        for i, r in enumerate(requests)
    ]


async def _take_tokens(services: Services, principal: Principal, tasks: list[TaskSpec]) -> None:
    """Every node's token of its category, or a 429 and nothing written (tokens already
    taken for other categories are spent)."""
    for category, n in Counter(t.category for t in tasks).items():
        decision = await services.rate_limiter.take(
            category, n, partial=False, owner=principal.name
        )
        if decision.refused:
            gateway_metrics().count_refused(category)
            raise decision.error(category)


async def _owned(services: Services, principal: Principal, workflow_id: str) -> WorkflowRecord:
    record = await services.workflows.get(workflow_id)
    if record is None or not (principal.is_admin or record.owner == principal.name):
        raise NotFound(f"Workflow {workflow_id} not found")
    return record


async def _view(services: Services, record: WorkflowRecord) -> WorkflowResponse:
    rows = await services.tasks.get_many([n.task_id for n in record.nodes], [TaskField.STATUS])
    statuses = [TaskStatus(status) if status else None for (status,) in rows]
    shown = [status.value if status else "expired" for status in statuses]
    return WorkflowResponse(
        workflow_id=record.workflow_id,
        name=record.name,
        status=overall_status(statuses, record.cancelled),
        created_at=iso_event(record.created_at) or "",
        nodes=[
            WorkflowNodeView(
                name=n.name, task_id=n.task_id, status=s, depends_on=list(n.depends_on)
            )
            for n, s in zip(record.nodes, shown, strict=True)
        ],
        edges=[(parent, n.name) for n in record.nodes for parent in n.depends_on],
        counts=dict(Counter(shown)),
    )
