"""Bodies of the batch routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vokaflow.api.schemas.common import StrictBody, not_a_bool, upper_enum_name
from vokaflow.domain import ExecutionMode, Priority


class BatchSubmitRequest(StrictBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tasks": [
                        {"name": "a", "function_name": "noop"},
                        {"name": "b", "function_name": "echo", "args": ["hello"]},
                    ],
                    "execution_mode": "sequential",
                }
            ]
        },
    )

    # Each task is validated on its own: an invalid one is listed in `errors`, the rest go in.
    tasks: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
    batch_priority: Priority | None = None
    execution_mode: ExecutionMode = ExecutionMode.PARALLEL
    batch_timeout: int | None = Field(default=None, ge=1)
    max_failures: int | None = Field(default=None, ge=0)
    # The same key from the same principal returns the first task (or batch) instead of a
    # new one, for as long as its record is kept.
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)

    _upper_priority = field_validator("batch_priority", mode="before")(upper_enum_name)
    _whole_numbers = field_validator("batch_timeout", "max_failures", mode="before")(not_a_bool)


class BatchTaskRef(BaseModel):
    task_id: str
    name: str
    partition: int
    redis_node: str


class BatchTaskError(BaseModel):
    index: int
    name: str | None
    error: str
    message: str
    details: dict[str, Any] | None = None


class BatchSubmitResponse(BaseModel):
    batch_id: str
    total_submitted: int
    total_errors: int
    successful_tasks: list[BatchTaskRef]
    errors: list[BatchTaskError]
    execution_mode: ExecutionMode
    estimated_start: str  # of its first task
    estimated_completion: str


class BatchStatusResponse(BaseModel):
    batch_id: str
    # submitting: begun, its tasks still being written (see vokaflow.store.batch_store)
    status: Literal["submitting", "running", "completed", "aborted", "timeout"]
    execution_mode: ExecutionMode
    total: int
    completed: int
    failed: int
    cancelled: int
    timeout: int
    unfinished: int
    created_at: str
    finished_at: str | None
    batch_timeout: int | None
    max_failures: int | None
