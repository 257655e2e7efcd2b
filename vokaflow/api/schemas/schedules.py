"""Bodies of the schedule routes: create, change, read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vokaflow.api.schemas.common import StrictBody, not_a_bool
from vokaflow.api.schemas.tasks import TaskSubmitRequest
from vokaflow.domain import Priority, WorkerType
from vokaflow.domain.schedule import MissedFires
from vokaflow.payload_limits import check_string


class ScheduleTiming(StrictBody):
    """When a schedule fires; every field may be changed later."""

    cron: str | None = Field(default=None, min_length=1, max_length=256)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    interval_seconds: int | None = Field(default=None, ge=1, le=366 * 24 * 3600)
    start: datetime | None = None
    end: datetime | None = None
    paused: bool | None = None
    missed_fires: MissedFires | None = None

    _whole_numbers = field_validator("interval_seconds", mode="before")(not_a_bool)
    _valid_text = field_validator("cron", "timezone")(
        lambda text: text if text is None else check_string(text)
    )
    _lower_policy = field_validator("missed_fires", mode="before")(
        lambda value: value.strip().lower() if isinstance(value, str) else value
    )


class ScheduleCreateRequest(ScheduleTiming):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "task": {"name": "nightly summary", "function_name": "health_check"},
                    "cron": "30 2 * * *",
                    "timezone": "Europe/Madrid",
                },
                {"task": {"name": "ping", "function_name": "noop"}, "interval_seconds": 60},
            ]
        },
    )

    task: TaskSubmitRequest


class ScheduleUpdateRequest(ScheduleTiming):
    """Only the fields sent change; ``start`` or ``end`` sent as null are removed. Sending
    ``cron`` turns an interval schedule into a cron one, and the other way round."""

    task: TaskSubmitRequest | None = None


class ScheduledTask(BaseModel):
    """The task each fire submits."""

    model_config = ConfigDict(extra="forbid")  # and mypy's pydantic plugin reads "kwargs"

    name: str
    function_name: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    priority: Priority
    worker_type: WorkerType
    category: str
    timeout: int
    retry_count: int
    metadata: dict[str, Any] = Field(default_factory=dict)
    concurrency_key: str | None = None
    max_concurrency: int | None = None


class ScheduleRun(BaseModel):
    fire_time: str
    task_id: str
    # the task's status now; "waiting" while a rate limit holds the fire back, "expired"
    # once its record is gone
    status: str


class ScheduleResponse(BaseModel):
    id: str
    task: ScheduledTask
    cron: str | None
    timezone: str
    interval_seconds: int | None
    start: str | None
    end: str | None
    paused: bool
    missed_fires: MissedFires
    next_fire_time: str | None
    next_fire_times: list[str]
    created_at: str
    updated_at: str
    runs: list[ScheduleRun] | None = None  # the latest 20, newest first; one schedule's read


class ScheduleListResponse(BaseModel):
    schedules: list[ScheduleResponse]
    count: int  # on this page
    total: int
    limit: int
    offset: int


class ScheduleDeletedResponse(BaseModel):
    id: str
    deleted: bool = True
