"""/api/high-scale-tasks/batch: many tasks in one request, with partial admission."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.services import Services
from vokaflow.api.submission import prepare_task
from vokaflow.api.validation import validation_failure
from vokaflow.clock import iso_event, iso_forecast
from vokaflow.errors import ApiError, NotFound, ValidationFailed
from vokaflow.schemas import (
    BatchStatusResponse,
    BatchSubmitRequest,
    BatchSubmitResponse,
    BatchTaskError,
    BatchTaskRef,
    ExecutionMode,
    TaskSubmitRequest,
)
from vokaflow.store.api_keys import Principal
from vokaflow.store.batch_store import BatchRecord
from vokaflow.store.records import NewTask

router = APIRouter(prefix="/api/high-scale-tasks", tags=["batches"])


def _prepare_all(
    body: BatchSubmitRequest, services: Services, principal: Principal, batch_id: str
) -> tuple[list[tuple[int, NewTask]], list[BatchTaskError]]:
    """Validate each task on its own; a task without a priority takes ``batch_priority``."""
    now = time.time()
    prepared: list[tuple[int, NewTask]] = []
    errors: list[BatchTaskError] = []
    for index, raw in enumerate(body.tasks):
        prefix = f"tasks[{index}]."
        try:
            request = TaskSubmitRequest.model_validate(raw)
            priority = None if "priority" in raw else body.batch_priority
            task = prepare_task(
                request,
                services,
                principal,
                now,
                field_prefix=prefix,
                priority=priority,
                batch_id=batch_id,
            )
            prepared.append((index, task))
        except ValidationError as exc:
            errors.append(_task_error(index, raw, validation_failure(exc.errors(), prefix)))
        except ValidationFailed as exc:
            errors.append(_task_error(index, raw, exc))
    return prepared, errors


def _task_error(index: int, raw: dict[str, Any], error: ApiError) -> BatchTaskError:
    name = raw.get("name") if isinstance(raw.get("name"), str) else None
    return BatchTaskError(
        index=index, name=name, error=error.code, message=error.message, details=error.details
    )


async def _admit(
    services: Services, prepared: list[tuple[int, NewTask]]
) -> tuple[list[tuple[int, NewTask]], list[BatchTaskError]]:
    """Rate limits per category: the first tasks of a category in the batch get its tokens."""
    by_category: dict[str, list[tuple[int, NewTask]]] = defaultdict(list)
    for entry in prepared:
        by_category[entry[1].category].append(entry)
    admitted: list[tuple[int, NewTask]] = []
    refused: list[BatchTaskError] = []
    for category, entries in by_category.items():
        decision = await services.rate_limiter.take(category, len(entries), partial=True)
        admitted += entries[: decision.granted]
        if decision.refused:
            error = decision.error(category)
            refused += [
                _task_error(i, {"name": task.name}, error)
                for i, task in entries[decision.granted :]
            ]
    admitted.sort(key=lambda entry: entry[0])
    return admitted, refused


async def _held_back(body: BatchSubmitRequest, services: Services, tasks: list[NewTask]) -> int:
    """How many tasks go in the queues now; the rest wait for the batch to release them."""
    if body.execution_mode is ExecutionMode.PARALLEL:
        return len(tasks)
    if body.execution_mode is ExecutionMode.SEQUENTIAL:
        return 1
    return await services.pool_capacity(tasks[0].worker_type)


@router.post("/batch", response_model=BatchSubmitResponse)
async def submit_batch(
    body: BatchSubmitRequest,
    services: ServicesDep,
    principal: PrincipalDep,
) -> BatchSubmitResponse:
    batch_id = f"batch_{uuid.uuid4()}"
    prepared, errors = _prepare_all(body, services, principal, batch_id)
    admitted, refused = await _admit(services, prepared)
    errors = sorted(errors + refused, key=lambda e: e.index)
    tasks = [task for _, task in admitted]
    wait_s = 0.0
    if tasks:
        released = await _held_back(body, services, tasks)
        for task in tasks[released:]:
            task.hold = True
        await services.batches.create(
            BatchRecord(
                batch_id,
                principal.name,
                body.execution_mode.value,
                len(tasks),
                min(released, len(tasks)),
                time.time(),
                body.batch_timeout,
                body.max_failures,
                tasks[0].worker_type.value,
            ),
            [t.task_id for t in tasks],
            [t.task_id for t in tasks[released:]],
        )
        await services.tasks.submit(tasks)
        wait_s = await services.estimated_wait_s(
            tasks[0].worker_type, tasks[0].function_name, len(tasks), one_at_a_time=released == 1
        )
    return BatchSubmitResponse(
        batch_id=batch_id,
        total_submitted=len(tasks),
        total_errors=len(errors),
        successful_tasks=[
            BatchTaskRef(
                task_id=t.task_id,
                name=t.name,
                partition=t.partition,
                redis_node=services.redis_node(t.partition),
            )
            for t in tasks
        ],
        errors=errors,
        execution_mode=body.execution_mode,
        estimated_completion=iso_forecast(time.time() + wait_s),
    )


def _optional_int(raw: str | None) -> int | None:
    return None if raw is None or raw == "" else int(raw)


@router.get("/batch/{batch_id}", response_model=BatchStatusResponse)
async def batch_status(
    batch_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
) -> BatchStatusResponse:
    record = await services.batches.get(batch_id)
    if record is None:
        raise NotFound(f"Batch '{batch_id}' not found")
    counts = {
        s: int(record.get(f"n_{s}", "0")) for s in ("completed", "failed", "cancelled", "timeout")
    }
    total = int(record["total"])
    finished_at = record.get("finished_at")
    return BatchStatusResponse(
        batch_id=batch_id,
        status=record["status"],
        execution_mode=ExecutionMode(record["execution_mode"]),
        total=total,
        unfinished=max(0, total - sum(counts.values())),
        created_at=iso_event(float(record["created_at"])) or "",
        finished_at=iso_event(float(finished_at)) if finished_at else None,
        batch_timeout=_optional_int(record.get("batch_timeout")),
        max_failures=_optional_int(record.get("max_failures")),
        **counts,
    )
