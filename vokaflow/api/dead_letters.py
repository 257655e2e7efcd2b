"""/api/high-scale-tasks/dead-letters: tasks that failed after all retries, and their
re-queue."""

from __future__ import annotations

from fastapi import APIRouter, Query

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.views import task_status_view
from vokaflow.errors import Conflict, NotFound
from vokaflow.schemas import DeadLettersResponse, TaskStatusResponse

router = APIRouter(prefix="/api/high-scale-tasks/dead-letters", tags=["dead letters"])


@router.get("", response_model=DeadLettersResponse)
async def list_dead_letters(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> DeadLettersResponse:
    """Newest failure first. Admins see every principal's; others their own."""
    owner = None if principal.is_admin else principal.name
    total, page = await services.dead_letters.newest(owner, offset, limit)
    records = await services.tasks.get_records(page)
    views = [
        task_status_view(record, services.redis_node(services.keys.partition(task_id)))
        for task_id, record in zip(page, records, strict=True)
        if record is not None
    ]
    return DeadLettersResponse(dead_letters=views, total=total, limit=limit, offset=offset)


@router.post("/{task_id}/requeue", response_model=TaskStatusResponse)
async def requeue_dead_letter(
    task_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
) -> TaskStatusResponse:
    """Back to its queue with a fresh set of attempts; its last error stays until it runs."""
    await services.visible_record(task_id, principal)
    outcome = await services.dead_letters.requeue(task_id)
    if outcome == "missing":
        raise NotFound(f"Task '{task_id}' not found")
    if outcome != "requeued":
        raise Conflict(
            f"Task '{task_id}' is {outcome}, not a dead letter",
            {"task_id": task_id, "status": outcome},
        )
    fresh = await services.tasks.get(task_id)
    if fresh is None:
        raise NotFound(f"Task '{task_id}' not found")
    return task_status_view(fresh, services.redis_node(services.keys.partition(task_id)))
