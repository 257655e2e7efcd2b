"""/api/high-scale-tasks/dead-letters: tasks that failed after all retries, and their
re-queue."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, NoReturn

from fastapi import APIRouter, Query

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.schemas.dead_letters import DeadLetterDiscardedResponse, DeadLettersResponse
from vokaflow.api.schemas.tasks import TaskStatusResponse
from vokaflow.api.services import Services
from vokaflow.api.submission import allowed_call
from vokaflow.api.views import task_status_view
from vokaflow.domain.task import TaskField, task_owner
from vokaflow.errors import Conflict, NotFound, ValidationFailed
from vokaflow.lifecycle.task_logs import requeue_entries
from vokaflow.store.errors import StoreUnavailable

log = logging.getLogger("vokaflow.gateway")

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
        task_status_view(record, services.redis_node(services.keys.partition(task_id), principal))
        for task_id, record in zip(page, records, strict=True)
        if record is not None and principal.may_see(task_owner(record[TaskField.SPEC]))
    ]
    return DeadLettersResponse(dead_letters=views, total=total, limit=limit, offset=offset)


async def _still_allowed(services: Services, spec: dict[str, Any]) -> None:
    """A requeued task runs as its owner, checked again now: the owner's role as its name
    holds it today, the data scope and category that role and the function give (a task an
    older version stored otherwise is refused), the function's admin-only mark and the
    arguments in that scope. 409 when they no longer hold."""
    owner = await services.api_keys.principal_named(str(spec.get("owner") or ""))
    entry = services.functions.find(str(spec["function_name"]))
    if spec.get("data_scope", "") != owner.data_scope or (
        entry is not None and spec.get("category") != entry.category
    ):
        _refuse(spec, "it was stored by an older version with another scope; submit it again")
    try:
        allowed_call(services, owner, spec["function_name"], spec["args"], spec["kwargs"])
    except ValidationFailed as refused:
        details = refused.details or {}
        _refuse(spec, str(details.get("error")), details.get("field"))


def _refuse(spec: dict[str, Any], why: str, field: str | None = None) -> NoReturn:
    raise Conflict(
        f"Task '{spec['id']}' can no longer run as its owner: {why}",
        {"task_id": spec["id"], "field": field},
    )


@router.post("/{task_id}/requeue", response_model=TaskStatusResponse)
async def requeue_dead_letter(
    task_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
) -> TaskStatusResponse:
    """Back to its queue with a fresh set of attempts; its last error stays until it runs.
    Like a submit: refused while the service drains, and it takes a token of the task's
    category (429 when none is left)."""
    await services.ensure_accepting()
    record = await services.visible_record(task_id, principal)
    spec = json.loads(record[TaskField.SPEC])
    await _still_allowed(services, spec)
    category = str(spec["category"])
    owner = str(spec.get("owner") or "")
    decision = await services.rate_limiter.take(category, 1, partial=False, owner=owner)
    if decision.refused:
        raise decision.error(category)
    outcome, requeued = await services.dead_letters.requeue(task_id)
    if outcome == "missing":
        raise NotFound(f"Task '{task_id}' not found")
    if outcome != "requeued":
        raise Conflict(
            f"Task '{task_id}' is {outcome}, not a dead letter",
            {"task_id": task_id, "status": outcome},
        )
    if requeued is None:
        raise NotFound(f"Task '{task_id}' not found")
    await _keep_the_failed_run(services, task_id, record)
    node = services.redis_node(services.keys.partition(task_id), principal)
    return task_status_view(requeued, node)


async def _keep_the_failed_run(services: Services, task_id: str, record: dict[str, Any]) -> None:
    """The requeue cleared the failed run's times and error from the record: they stay in
    the task's history as lines. The task is requeued either way; only the lines are lost
    if Redis fails now."""
    try:
        await services.logs.write({task_id: requeue_entries(record, time.time())}, [])
    except StoreUnavailable:
        log.warning("the history of requeued %s was not written", task_id, exc_info=True)


@router.delete("/{task_id}", response_model=DeadLetterDiscardedResponse)
async def discard_dead_letter(
    task_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
) -> DeadLetterDiscardedResponse:
    """Off the dead-letter list for good, without running it; the task stays readable, as
    failed, until its record expires."""
    record = await services.visible_record(task_id, principal)
    owner = task_owner(record[TaskField.SPEC]) or ""
    if not await services.dead_letters.discard(task_id, owner):
        raise NotFound(f"Task '{task_id}' is not a dead letter")
    return DeadLetterDiscardedResponse(task_id=task_id, discarded=True)
