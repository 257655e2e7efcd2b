"""/api/high-scale-tasks/batch: many tasks in one request, with partial admission."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Response
from pydantic import ValidationError

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.services import Services
from vokaflow.api.submission import idempotent_id, prepare_task
from vokaflow.api.validation import validation_failure
from vokaflow.clock import iso_event, iso_forecast
from vokaflow.errors import ApiError, Conflict, NotFound, ValidationFailed
from vokaflow.observability.prometheus import gateway_metrics
from vokaflow.scheduler.policy import batch_window
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
from vokaflow.store.batch_store import BatchRecord, terminal_counts
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
            if request.idempotency_key:
                raise ValidationFailed(
                    f"{prefix}idempotency_key",
                    "Tasks of a batch are deduplicated by the batch's idempotency_key",
                )
            priority = None if "priority" in raw else body.batch_priority
            task = prepare_task(
                request,
                services,
                principal,
                now,
                field_prefix=prefix,
                priority=priority,
                batch_id=batch_id,
                task_id=_task_id(principal, body.idempotency_key, index),
            )
            prepared.append((index, task))
        except ValidationError as exc:
            errors.append(_task_error(index, raw, validation_failure(exc.errors(), prefix)))
        except ValidationFailed as exc:
            errors.append(_task_error(index, raw, exc))
    return prepared, errors


def _task_id(principal: Principal, batch_key: str | None, index: int) -> str | None:
    """With a batch key, each task's id follows from it, so a replay writes no new task."""
    if batch_key is None:
        return None
    return idempotent_id(principal.name, "batch-task", f"{batch_key}\x00{index}")


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
        gateway_metrics().count_refused(category, len(entries) - decision.granted)
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
    if body.execution_mode is ExecutionMode.PARALLEL:  # no capacity to look up
        return len(tasks)
    capacity = await services.pool_capacity(tasks[0].worker_type)
    return min(len(tasks), batch_window(body.execution_mode, 0, 0, capacity))


@router.post("/batch", response_model=BatchSubmitResponse)
async def submit_batch(
    body: BatchSubmitRequest,
    response: Response,
    services: ServicesDep,
    principal: PrincipalDep,
) -> BatchSubmitResponse:
    await services.ensure_accepting()
    key = body.idempotency_key
    batch_id = f"batch_{idempotent_id(principal.name, 'batch', key) if key else uuid.uuid4()}"
    if key and (first := await services.batches.get(batch_id)) is not None:
        response.headers["Idempotent-Replayed"] = "true"
        return await _first_answer(services, batch_id, first)
    prepared, errors = _prepare_all(body, services, principal, batch_id)
    admitted, refused = await _admit(services, prepared)
    errors = sorted(errors + refused, key=lambda e: e.index)
    tasks = [task for _, task in admitted]
    wait_s = 0.0
    if tasks:
        released = await _held_back(body, services, tasks)
        for task in tasks[released:]:
            task.hold = True
        created = await services.batches.create(
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
            json.dumps([error.model_dump() for error in errors]),
        )
        if not created:  # the same key raced this request and won
            response.headers["Idempotent-Replayed"] = "true"
            return await _first_answer(services, batch_id, await services.batches.get(batch_id))
        await services.tasks.submit(tasks)
        gateway_metrics().count_submitted((t.category, t.priority.value) for t in tasks)
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


async def _first_answer(
    services: Services, batch_id: str, record: dict[str, str] | None
) -> BatchSubmitResponse:
    """The answer to a repeated idempotency key: the first batch's tasks and errors."""
    if record is None or "total" not in record:
        raise Conflict(f"Batch '{batch_id}' is still being submitted by an earlier request")
    task_ids: list[str] = []
    while page := await services.batches.task_ids(batch_id, len(task_ids)):
        task_ids += page
    specs = await services.tasks.get_many(task_ids, ["spec"])
    refs = [
        BatchTaskRef(
            task_id=task_id,
            name=spec["name"],
            partition=spec["partition"],
            redis_node=services.redis_node(spec["partition"]),
        )
        for task_id, (raw,) in zip(task_ids, specs, strict=True)
        if raw is not None and (spec := json.loads(raw))
    ]
    errors = [BatchTaskError(**e) for e in json.loads(record.get("errors") or "[]")]
    return BatchSubmitResponse(
        batch_id=batch_id,
        total_submitted=int(record["total"]),
        total_errors=len(errors),
        successful_tasks=refs,
        errors=errors,
        execution_mode=ExecutionMode(record["execution_mode"]),
        estimated_completion=iso_forecast(time.time()),
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
    if record is None or not principal.may_see(record.get("owner")):
        raise NotFound(f"Batch '{batch_id}' not found")
    counts = terminal_counts(record)
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
