"""/api/logs: a task's history and output, and the service's own log entries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.schemas.logs import LogEntry, LogLevel, SystemLogsResponse, TaskLogsResponse
from vokaflow.clock import iso_event
from vokaflow.domain.task import TaskField, task_owner
from vokaflow.errors import NotFound
from vokaflow.lifecycle.task_logs import lifecycle_entries
from vokaflow.store.logs import MAX_TASK_LINES, Entry

router = APIRouter(prefix="/api/logs", tags=["logs"])

MAX_SYSTEM_ENTRIES = 1000


def _view(entry: Entry) -> LogEntry:
    fields: dict[str, Any] = {k: entry.get(k) for k in LogEntry.model_fields}
    fields["timestamp"] = iso_event(float(entry.get("timestamp") or 0.0)) or ""
    fields["level"] = str(entry.get("level") or "INFO")
    fields["event"] = str(entry.get("event") or "log")
    fields["message"] = str(entry.get("message") or "")
    return LogEntry(**fields)


@router.get("/task/{task_id}", response_model=TaskLogsResponse)
async def task_logs(
    task_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=MAX_TASK_LINES + 10)] = MAX_TASK_LINES + 10,
) -> TaskLogsResponse:
    """The task's history, with what its function printed or logged, oldest first."""
    record = await services.tasks.get(task_id)
    if record is None or not principal.may_see(task_owner(record[TaskField.SPEC])):
        raise NotFound(f"Task '{task_id}' not found")
    entries = lifecycle_entries(record) + await services.logs.task_lines(task_id)
    entries.sort(key=lambda e: float(e.get("timestamp") or 0.0))
    views = [_view(e) for e in entries[-limit:]]
    return TaskLogsResponse(task_id=task_id, entries=views, count=len(views))


@router.get("", response_model=SystemLogsResponse)
async def system_logs(
    services: ServicesDep,
    principal: PrincipalDep,
    level: LogLevel = LogLevel.INFO,
    limit: Annotated[int, Query(ge=1, le=MAX_SYSTEM_ENTRIES)] = 100,
    component: Annotated[str | None, Query(pattern=r"^(gateway|scheduler|webhooks|tasks)$")] = None,
) -> SystemLogsResponse:
    """The newest entries at ``level`` or above, newest first. Task failures and retries
    are shown to the task's owner; the service's own entries only to admins."""
    owner = None if principal.is_admin else principal.name
    entries = await services.logs.system_entries(level.value, limit, owner, component)
    views = [_view(e) for e in entries]
    return SystemLogsResponse(level=level, limit=limit, entries=views, count=len(views))
