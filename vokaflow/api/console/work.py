"""Batches and workflows: the newest of each with their progress, and a workflow drawn as a
graph with each node's status, live."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from vokaflow.api import batches as api_batches
from vokaflow.api import workflows as api_workflows
from vokaflow.api.console.graph import draw, drawable
from vokaflow.api.console.render import page
from vokaflow.api.console.session import console_user, services_of
from vokaflow.api.schemas.batches import BatchStatusResponse
from vokaflow.errors import NotFound, ValidationFailed

router = APIRouter()

PAGE_SIZE = 25
FINISHED_WORKFLOW = ("completed", "failed", "cancelled")


def _before(request: Request) -> float | None:
    raw = request.query_params.get("before")
    try:
        before = float(raw) if raw else None
    except ValueError:
        before = math.nan
    if before is not None and not math.isfinite(before):
        raise ValidationFailed("before", "not a time")
    return before


@router.get("/batches", response_class=HTMLResponse)
async def batches_and_workflows(request: Request) -> HTMLResponse:
    user = await console_user(request)
    services = services_of(request)
    owner = None if user.principal.is_admin else user.principal.name
    before = _before(request)
    batches: list[BatchStatusResponse] = []
    for batch_id in await services.batches.recent.newest(owner, PAGE_SIZE, before):
        try:
            batches.append(await api_batches.batch_status(batch_id, services, user.principal))
        except NotFound:
            continue  # expired: the index forgets it once a record is gone for good
    workflows = []
    for workflow_id in await services.workflows.recent.newest(owner, PAGE_SIZE, before):
        record = await services.workflows.get(workflow_id)
        if record is not None and user.principal.may_see(record.owner):
            workflows.append(record)
    return page(request, "batches.html", user, batches=batches, workflows=workflows)


async def _workflow_view(request: Request, workflow_id: str) -> dict[str, Any]:
    user = await console_user(request)
    request.state.user = user
    workflow = await api_workflows.get_workflow(workflow_id, services_of(request), user.principal)
    nodes = [(n.name, n.task_id, n.status, n.depends_on) for n in workflow.nodes]
    drawing = draw(nodes) if drawable(nodes) else None
    return {
        "workflow": workflow,
        "drawing": drawing,
        "live": workflow.status not in FINISHED_WORKFLOW,
    }


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
async def workflow_page(request: Request, workflow_id: str) -> HTMLResponse:
    view = await _workflow_view(request, workflow_id)
    return page(request, "workflow.html", request.state.user, **view)


@router.get("/workflows/{workflow_id}/graph", response_class=HTMLResponse)
async def workflow_graph(request: Request, workflow_id: str) -> HTMLResponse:
    view = await _workflow_view(request, workflow_id)
    return page(request, "workflow_graph.html", request.state.user, **view)
