"""Tasks: the search, a task's page with its timeline, result and live logs, and its
cancel and run-again. Reads and actions go through the API's own route functions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from vokaflow.api import logs as api_logs
from vokaflow.api import tasks as api_tasks
from vokaflow.api.console.render import (
    SECURITY_HEADERS,
    console_base,
    environment,
    page,
    redirect_to,
)
from vokaflow.api.console.session import (
    ConsoleUser,
    SignInRequired,
    acting_user,
    console_user,
    services_of,
)
from vokaflow.api.console.streams import LOG_STREAMS
from vokaflow.api.schemas.logs import LogEntry
from vokaflow.api.schemas.tasks import TaskStatusResponse, TaskSubmitRequest
from vokaflow.domain import Priority, TaskStatus
from vokaflow.domain.task import TaskRecord, TaskSpec, task_owner
from vokaflow.errors import Conflict, ValidationFailed
from vokaflow.store.task_index import TaskQuery

router = APIRouter()

PAGE_SIZE = 50
LOG_POLL_S = 1.0
SESSION_CHECK_BEATS = 5
LOG_STREAM_MAX_S = 15 * 60  # a browser reconnects after this; EventSource does so itself
# What a redirect after an action may say: fixed texts, so a crafted link shows none of its own.
NOTICES = {"cancelled": "The task was cancelled.", "rerun": "This is a new run of that task."}
OUTPUT = "output"  # what the function printed or logged; every other entry is its history


def _choice(value: str | None, allowed: type[Any], field: str) -> Any:
    if not value:
        return None
    try:
        return allowed(value)
    except ValueError:
        raise ValidationFailed(field, f"'{value}' is not a valid {field}") from None


def _query(request: Request, user: ConsoleUser) -> TaskQuery:
    params = request.query_params
    owner: str | None = user.principal.name
    if user.principal.is_admin:
        owner = params.get("principal") or None
    return TaskQuery(
        owner=owner,
        status=_choice(params.get("status"), TaskStatus, "status"),
        function_name=params.get("function") or None,
        name=params.get("name") or None,
        priority=_choice(params.get("priority"), Priority, "priority"),
        batch_id=params.get("batch") or None,
        workflow_id=params.get("workflow") or None,
        newest_first=params.get("order", "newest") != "oldest",
    )


@router.get("/tasks", response_class=HTMLResponse)
async def task_search(request: Request) -> Response:
    user = await console_user(request)
    task_id = request.query_params.get("id", "").strip()
    if task_id:
        return redirect_to(request, f"/tasks/{quote(task_id, safe='')}")
    query = _query(request, user)
    try:
        found = await services_of(request).task_index.search(
            query, limit=PAGE_SIZE, cursor=request.query_params.get("cursor") or None
        )
    except ValueError:
        raise ValidationFailed("cursor", "That page link is not valid; search again") from None
    rows = [TaskRecord.from_record(record) for record in found.records]
    return page(
        request,
        "tasks.html",
        user,
        rows=rows,
        page=found,
        params=request.query_params,
        statuses=list(TaskStatus),
        priorities=list(Priority),
    )


async def _task_view(request: Request, user: ConsoleUser, task_id: str) -> dict[str, Any]:
    services = services_of(request)
    status = await api_tasks.task_status(task_id, services, user.principal)
    history = await api_logs.task_logs(task_id, services, user.principal)
    timeline = [e for e in history.entries if e.event != OUTPUT]
    spec_json = await services.tasks.spec(task_id)
    own = spec_json is not None and task_owner(spec_json) == user.principal.name
    return {"task": status, "timeline": _with_schedule(status, timeline), "own": own}


def _with_schedule(task: TaskStatusResponse, timeline: list[LogEntry]) -> list[LogEntry]:
    if task.run_at:
        due = LogEntry(
            timestamp=task.run_at,
            level="INFO",
            event="scheduled",
            message="Scheduled to run at its run_at",
        )
        return sorted([*timeline, due], key=lambda e: e.timestamp)
    return timeline


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
async def task_page(request: Request, task_id: str) -> HTMLResponse:
    user = await console_user(request)
    view = await _task_view(request, user, task_id)
    return page(
        request,
        "task.html",
        user,
        **view,
        notice=NOTICES.get(request.query_params.get("notice", "")),
    )


@router.get("/tasks/{task_id}/panel", response_class=HTMLResponse)
async def task_panel(request: Request, task_id: str) -> HTMLResponse:
    """The live part of a task's page, which htmx polls until the task has finished."""
    user = await console_user(request)
    view = await _task_view(request, user, task_id)
    return page(request, "task_panel.html", user, **view)


@router.get("/tasks/{task_id}/logs/stream")
async def task_log_stream(request: Request, task_id: str) -> StreamingResponse:
    """Server-sent events: the task's output, sent whole again whenever it grows; ends
    once the task has finished and its last lines are out."""
    user = await console_user(request)
    services = services_of(request)
    await api_tasks.task_status(task_id, services, user.principal)  # 404 before streaming
    principal = user.principal.name
    LOG_STREAMS.take(principal)  # 429 past the principal's open streams

    async def events() -> AsyncIterator[str]:
        try:
            async for event in _log_events(request, task_id, user):
                yield event
        finally:
            LOG_STREAMS.give_back(principal)

    headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def _log_events(request: Request, task_id: str, user: ConsoleUser) -> AsyncIterator[str]:
    services = services_of(request)
    sent = -1
    for beat in range(int(LOG_STREAM_MAX_S / LOG_POLL_S)):
        if await request.is_disconnected() or not await _still_signed_in(request, beat):
            return
        history = await api_logs.task_logs(task_id, services, user.principal)
        lines = [e for e in history.entries if e.event == OUTPUT]
        if len(lines) != sent:
            sent = len(lines)
            html = environment.get_template("task_logs.html").render(lines=lines)
            yield "event: logs\ndata: " + json.dumps(html) + "\n\n"
        status = await api_tasks.task_status(task_id, services, user.principal)
        if status.status.is_terminal:
            yield "event: end\ndata: {}\n\n"
            return
        await asyncio.sleep(LOG_POLL_S)


async def _still_signed_in(request: Request, beat: int) -> bool:
    """Every SESSION_CHECK_BEATS polls, whether the stream's session still holds: a
    sign-out or a revoked key ends an open stream too."""
    if beat % SESSION_CHECK_BEATS:
        return True
    try:
        await console_user(request)
    except SignInRequired:
        return False
    return True


@router.post("/tasks/{task_id}/cancel")
async def cancel(request: Request, task_id: str) -> Response:
    user, _ = await acting_user(request)
    await api_tasks.cancel_task(task_id, services_of(request), user.principal)
    return _back_to(request, task_id, "cancelled")


@router.post("/tasks/{task_id}/rerun")
async def run_again(request: Request, task_id: str) -> Response:
    """A new task with the same spec, submitted by the principal that submitted it, with
    its checks (its functions, its rate limits, its priority cap): an admin cannot run a
    tenant's task again, whose arguments name files in the tenant's own folders."""
    user, _ = await acting_user(request)
    services = services_of(request)
    spec = TaskSpec.from_record(await services.visible_record(task_id, user.principal))
    if spec.owner != user.principal.name:
        # its arguments were checked in its owner's data scope, not in this principal's
        raise Conflict(
            f"Only '{spec.owner}' can run task '{task_id}' again: it runs as its submitter",
            {"task_id": task_id, "owner": spec.owner},
        )
    body = TaskSubmitRequest(
        name=spec.name or spec.function_name,
        function_name=spec.function_name,
        args=spec.args,
        kwargs=spec.kwargs,
        priority=spec.priority,
        worker_type=spec.worker_type,
        timeout=spec.timeout_s,
        retry_count=spec.max_retries,
        metadata={**spec.metadata, "run_again_of": task_id},
        concurrency_key=spec.concurrency_key or None,
        max_concurrency=spec.max_concurrency or None,
    )
    submitted = await api_tasks.submit_task(body, Response(), services, user.principal)
    return _back_to(request, submitted.task_id, "rerun")


def _back_to(request: Request, task_id: str, notice: str) -> Response:
    if "hx-request" in request.headers:
        target = f"{console_base(request)}/tasks/{task_id}"
        return Response(status_code=204, headers={"HX-Redirect": target})
    return redirect_to(request, f"/tasks/{task_id}?notice={notice}")
