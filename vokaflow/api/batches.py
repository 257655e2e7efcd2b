"""/api/high-scale-tasks/batch: many tasks in one request, with partial admission."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from vokaflow import tracing
from vokaflow.api.deps import PrincipalDep, ServicesDep, TraceParent
from vokaflow.api.schemas.batches import (
    BatchStatusResponse,
    BatchSubmitRequest,
    BatchSubmitResponse,
    BatchTaskError,
    BatchTaskRef,
)
from vokaflow.api.schemas.tasks import TaskSubmitRequest
from vokaflow.api.services import Services
from vokaflow.api.submission import prepare_task
from vokaflow.api.validation import validation_failure
from vokaflow.clock import iso_event, iso_forecast
from vokaflow.domain import BatchStatus, ExecutionMode
from vokaflow.domain.idempotency import idempotent_id
from vokaflow.domain.principal import Principal
from vokaflow.domain.task import TaskSpec
from vokaflow.errors import ApiError, Conflict, NotFound, ValidationFailed
from vokaflow.observability.prometheus import gateway_metrics
from vokaflow.payload_limits import check_string
from vokaflow.scheduler.policy import batch_window
from vokaflow.store.batch_store import BatchRecord, terminal_counts

router = APIRouter(prefix="/api/high-scale-tasks", tags=["batches"])
YIELD_EVERY_S = 0.005


async def _prepare_all(
    body: BatchSubmitRequest,
    services: Services,
    principal: Principal,
    batch_id: str,
    trace_parent: str,
) -> tuple[list[tuple[int, TaskSpec]], list[BatchTaskError]]:
    """Validate each task on its own; a task without a priority takes ``batch_priority``.
    A big batch takes a good part of a second: other requests get the event loop every
    YIELD_EVERY_S meanwhile."""
    now = time.time()
    prepared: list[tuple[int, TaskSpec]] = []
    errors: list[BatchTaskError] = []
    yielded_at = time.perf_counter()
    for index, raw in enumerate(body.tasks):
        if time.perf_counter() - yielded_at > YIELD_EVERY_S:
            await asyncio.sleep(0)
            yielded_at = time.perf_counter()
        prefix = f"tasks[{index}]."
        try:
            request = TaskSubmitRequest.model_validate(raw)
            if request.idempotency_key:
                raise ValidationFailed(
                    f"{prefix}idempotency_key",
                    "Tasks of a batch are deduplicated by the batch's idempotency_key",
                )
            if request.depends_on is not None:
                raise ValidationFailed(
                    f"{prefix}depends_on",
                    "Tasks that wait for others are a workflow: POST /api/workflows",
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
                trace_parent=trace_parent,
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
    services: Services, prepared: list[tuple[int, TaskSpec]]
) -> tuple[list[tuple[int, TaskSpec]], list[BatchTaskError]]:
    """Rate limits per category: the first tasks of a category in the batch get its tokens."""
    by_category: dict[str, list[tuple[int, TaskSpec]]] = defaultdict(list)
    for entry in prepared:
        by_category[entry[1].category].append(entry)
    admitted: list[tuple[int, TaskSpec]] = []
    refused: list[BatchTaskError] = []
    for category, entries in by_category.items():
        owner = entries[0][1].owner
        decision = await services.rate_limiter.take(
            category, len(entries), partial=True, owner=owner
        )
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


async def _held_back(body: BatchSubmitRequest, services: Services, tasks: list[TaskSpec]) -> int:
    """How many tasks go in the queues now; the rest wait for the batch to release them."""
    if body.execution_mode is ExecutionMode.PARALLEL:  # no capacity to look up
        return len(tasks)
    capacity = await services.pool_capacity(tasks[0].worker_type)
    return min(len(tasks), batch_window(body.execution_mode, 0, 0, capacity))


@router.post("/batch", response_model=BatchSubmitResponse)
async def submit_batch(
    body: BatchSubmitRequest,
    request: Request,
    response: Response,
    services: ServicesDep,
    principal: PrincipalDep,
    traceparent: TraceParent = None,
) -> BatchSubmitResponse:
    """Begin the batch, write its tasks, commit it (see vokaflow.store.batch_store). A retry
    with the same idempotency key after a failure at any step finishes the first request's
    batch: its answer lists exactly the tasks that exist."""
    with tracing.request_span(
        traceparent, "submit batch", {"vokaflow.tasks": len(body.tasks)}
    ) as parent:
        return await _submit_batch(body, request, response, services, principal, parent)


async def _submit_batch(
    body: BatchSubmitRequest,
    request: Request,
    response: Response,
    services: Services,
    principal: Principal,
    trace_parent: str,
) -> BatchSubmitResponse:
    await services.ensure_accepting()
    await refuse_invalid_unicode(request, body.tasks)
    key = body.idempotency_key
    batch_id = f"batch_{idempotent_id(principal.name, 'batch', key) if key else uuid.uuid4()}"
    digest = request_digest(body) if key else ""
    if key and (first := await services.batches.get(batch_id)) is not None:
        return await _replay(services, principal, body, batch_id, first, digest, response)
    prepared, errors = await _prepare_all(body, services, principal, batch_id, trace_parent)
    admitted, refused = await _admit(services, prepared)
    errors = sorted(errors + refused, key=lambda e: e.index)
    tasks = [task for _, task in admitted]
    start_s = wait_s = 0.0
    if tasks:
        released = await _held_back(body, services, tasks)
        tasks = [*tasks[:released], *(replace(task, hold=True) for task in tasks[released:])]
        record = _record(body, batch_id, principal, tasks, released)
        ids, held = [t.task_id for t in tasks], [t.task_id for t in tasks[released:]]
        errors_json = json.dumps([error.model_dump() for error in errors])
        if not await services.batches.begin(record, ids, held, errors_json, digest):
            # the same key raced this request and won
            first = await services.batches.get(batch_id)
            return await _replay(services, principal, body, batch_id, first, digest, response)
        lead_score = (await _write_and_commit(services, record, tasks))[0]
        gateway_metrics().count_submitted((t.category, t.priority.value) for t in tasks)
        lead = tasks[0]
        if lead.hold or not lead.ready_now:
            lead_score = lead.score  # where it will wait once released
        ahead_of_lead = await services.tasks.queue_position(lead.worker_type, lead_score)
        start_s = await services.estimated_start_s(
            lead.worker_type, lead.function_name, ahead_of_lead
        )
        # then the batch's own rounds, and the last one's run
        own_rounds_s = await services.estimated_start_s(
            lead.worker_type, lead.function_name, len(tasks), one_at_a_time=released == 1
        )
        wait_s = start_s + own_rounds_s + services.mean_run_s(lead.function_name)
    return BatchSubmitResponse(
        batch_id=batch_id,
        total_submitted=len(tasks),
        total_errors=len(errors),
        successful_tasks=[
            BatchTaskRef(
                task_id=t.task_id,
                name=t.name,
                partition=t.partition,
                redis_node=services.redis_node(t.partition, principal),
            )
            for t in tasks
        ],
        errors=errors,
        execution_mode=body.execution_mode,
        estimated_start=iso_forecast(time.time() + start_s),
        estimated_completion=iso_forecast(time.time() + wait_s),
    )


# JSON can hold a surrogate only as an escape (\\uD800 to \\uDFFF): a body without one has
# none, and needs no walk through its tasks
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


async def refuse_invalid_unicode(request: Request, tasks: list[dict[str, Any]]) -> None:
    """A lone surrogate anywhere (JSON allows them; Redis and the answer cannot hold them)
    makes the whole request a 400 naming the first such field."""
    if not SURROGATE_ESCAPE.search(await request.body()):
        return
    try:
        json.dumps(tasks, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        field = _invalid_string_at(tasks, "tasks") or "tasks"
        raise ValidationFailed(
            field, "contains a lone UTF-16 surrogate, not valid Unicode"
        ) from None


def _invalid_string_at(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return None if _encodes(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            found = path if not _encodes(str(key)) else _invalid_string_at(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if found := _invalid_string_at(item, f"{path}[{index}]"):
                return found
    return None


def _encodes(text: str) -> bool:
    try:
        check_string(text)
    except ValueError:
        return False
    return True


def request_digest(body: BatchSubmitRequest) -> str:
    """What an idempotency key's first request asked for, to tell a replay from a reuse."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _record(
    body: BatchSubmitRequest,
    batch_id: str,
    principal: Principal,
    tasks: list[TaskSpec],
    released: int,
) -> BatchRecord:
    return BatchRecord(
        batch_id,
        principal.name,
        body.execution_mode.value,
        len(tasks),
        min(released, len(tasks)),
        time.time(),
        body.batch_timeout,
        body.max_failures,
        tasks[0].worker_type.value,
    )


async def _write_and_commit(
    services: Services, record: BatchRecord, tasks: list[TaskSpec]
) -> list[float]:
    """The steps after begin; each may be repeated by a replay or the scheduler. Returns
    each task's score where it waits, as TaskStore.submit."""
    fault = functools.partial(services.failpoints.reach, tag=tasks[0].name, subject=record.batch_id)
    fault("batch.after_begin")
    deadline = (
        None if record.batch_timeout_s is None else record.created_at + record.batch_timeout_s
    )
    listing = functools.partial(
        services.batches.queue_listing, batch_id=record.batch_id, deadline_s=deadline
    )
    scores = await services.tasks.submit(tasks, also=listing)
    fault("batch.after_tasks")
    await services.batches.commit(record.batch_id)
    fault("batch.after_commit")
    return scores


async def _replay(
    services: Services,
    principal: Principal,
    body: BatchSubmitRequest,
    batch_id: str,
    first: dict[str, str] | None,
    digest: str,
    response: Response,
) -> BatchSubmitResponse:
    """The answer to a repeated idempotency key: the first batch, finished first if its
    submission stopped half way."""
    if first is None:
        raise Conflict(f"Batch '{batch_id}' is still being submitted by an earlier request")
    if first.get("status") == BatchStatus.SUBMITTING:
        if first.get("digest") != digest:  # its tasks would not be the first request's
            raise Conflict(
                f"Batch '{batch_id}' was begun by a different request with this "
                "idempotency key; retry that request to finish it",
                {"batch_id": batch_id},
            )
        await _finish_submission(services, principal, body, batch_id, first)
        first = await services.batches.get(batch_id)
    response.headers["Idempotent-Replayed"] = "true"
    return await _first_answer(services, principal, batch_id, first)


async def _finish_submission(
    services: Services,
    principal: Principal,
    body: BatchSubmitRequest,
    batch_id: str,
    first: dict[str, str],
) -> None:
    """Write the first request's tasks that are missing (the same ids: they follow from the
    key) and commit. No token is taken again: the first request took them. A task that no
    longer passes its checks is left out of the batch. Past the grace period the scheduler
    may be finishing it with the tasks written: then this writes none either."""
    if time.time() - float(first["created_at"]) >= services.settings.batch_submit_grace_s:
        await services.batches.commit_written(batch_id)
        return
    wanted = set(await _all_task_ids(services, batch_id))
    held = set(await services.batches.held_ids(batch_id))
    prepared, _ = await _prepare_all(body, services, principal, batch_id, "")
    tasks = [
        replace(task, hold=task.task_id in held) for _, task in prepared if task.task_id in wanted
    ]
    await services.tasks.submit(tasks)
    await services.batches.commit_written(batch_id)


async def _all_task_ids(services: Services, batch_id: str) -> list[str]:
    task_ids: list[str] = []
    while page := await services.batches.task_ids(batch_id, len(task_ids)):
        task_ids += page
    return task_ids


async def _first_answer(
    services: Services, principal: Principal, batch_id: str, record: dict[str, str] | None
) -> BatchSubmitResponse:
    """The first batch's tasks (those that exist) and errors."""
    if record is None or "total" not in record:
        raise Conflict(f"Batch '{batch_id}' is still being submitted by an earlier request")
    task_ids = await _all_task_ids(services, batch_id)
    specs = await services.tasks.get_many(task_ids, ["spec"])
    refs = [
        BatchTaskRef(
            task_id=task_id,
            name=spec["name"],
            partition=spec["partition"],
            redis_node=services.redis_node(spec["partition"], principal),
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
        estimated_start=iso_forecast(time.time()),
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
    if record is None or "total" not in record or not principal.may_see(record.get("owner")):
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
