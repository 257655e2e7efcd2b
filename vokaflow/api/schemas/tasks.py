"""Bodies of the task routes: submit, status, cancel, and the function and priority catalogs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vokaflow.api.schemas.common import StrictBody, not_a_bool, upper_enum_name
from vokaflow.domain import Priority, TaskStatus, WorkerType
from vokaflow.domain.task import MAX_CONCURRENCY, MAX_PARENTS
from vokaflow.payload_limits import check_json_value, check_string


def iso_time_text(value: Any) -> Any:
    """run_at is text: pydantic would also take a bare number as epoch seconds or ms."""
    if value is not None and not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time such as 2030-01-31T09:00:00Z")
    return value


class TaskSubmitRequest(StrictBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "nightly summary",
                    "function_name": "statistical_summary",
                    "args": [[1, 2, 3, 4]],
                    "priority": "HIGH",
                    "category": "analytics",
                },
                {"name": "ping", "function_name": "noop"},
            ]
        },
    )

    name: str = Field(min_length=1, max_length=256)
    function_name: str = Field(min_length=1, max_length=128)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    worker_type: WorkerType | None = None
    category: str | None = Field(default=None, min_length=1, max_length=64)
    timeout: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    retry_count: int | None = Field(default=None, ge=0, le=100)
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The same key from the same principal returns the first task (or batch) instead of a
    # new one, for as long as its record is kept.
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)
    # When to run it (at most one of the two; neither runs it now): an ISO 8601 time, UTC
    # when it has no offset, or seconds from now. Checked against the settings' horizon in
    # api/submission.py.
    run_at: datetime | None = None
    delay_seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    # best_effort: accepted whatever the backlog (as always); reject: a 429 with retry_after
    # when the measured backlog and pool throughput say it would start past its
    # priority's SLA. Single submits only.
    sla_policy: Literal["best_effort", "reject"] = "best_effort"
    # At most max_concurrency tasks of this principal with this key run at once, across the
    # cluster; the rest wait, keeping their place in their queue. Both or neither.
    concurrency_key: str | None = Field(default=None, min_length=1, max_length=256)
    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    # It waits (status "waiting") until these tasks of the same principal end; then it runs,
    # or ends "upstream_failed" when one did not complete, unless trigger_rule is all_done.
    # In a workflow, the names of other nodes instead.
    depends_on: list[str] | None = Field(default=None, min_length=1, max_length=MAX_PARENTS)
    trigger_rule: Literal["all_success", "all_done"] = "all_success"
    # The kwarg that receives the parents' results, {parent: result} (a parent by its task id,
    # or in a workflow by its node name)
    pass_results_as: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

    _upper_priority = field_validator("priority", "worker_type", mode="before")(upper_enum_name)
    _bounded_json = field_validator("args", "kwargs", "metadata")(check_json_value)
    _whole_numbers = field_validator(
        "timeout", "retry_count", "delay_seconds", "max_concurrency", mode="before"
    )(not_a_bool)
    _valid_ids = field_validator("depends_on")(
        lambda ids: ids if ids is None else [check_string(i) for i in ids]
    )
    _valid_text = field_validator(
        "name", "function_name", "category", "idempotency_key", "concurrency_key"
    )(lambda text: text if text is None else check_string(text))
    _iso_text = field_validator("run_at", mode="before")(iso_time_text)


class TaskSubmitResponse(BaseModel):
    task_id: str
    name: str
    status: TaskStatus
    priority: Priority
    partition: int
    redis_node: str
    estimated_start: str
    estimated_completion: str
    queue_position: int
    created_at: str
    run_at: str | None = None  # a delayed task's due time (UTC), while and after it waits


class TaskErrorInfo(BaseModel):
    type: str
    message: str
    traceback: str | None = None


class TaskStatusResponse(BaseModel):
    task_id: str
    name: str
    status: TaskStatus
    priority: Priority
    worker_type: WorkerType
    category: str
    partition: int
    redis_node: str
    created_at: str
    started_at: str | None
    completed_at: str | None
    execution_time: float | None
    result: Any
    error: TaskErrorInfo | None
    retry_count: int
    metadata: dict[str, Any]
    function_name: str
    attempts: int
    timeout: int
    max_retries: int
    queue_position: int | None = None
    batch_id: str | None = None
    worker_pid: int | None = None
    system_retries: int = 0
    retry_at: str | None = None
    run_at: str | None = None  # a delayed task's due time (UTC)
    progress: dict[str, Any] | None = None  # what the function last reported
    concurrency_key: str | None = None
    max_concurrency: int | None = None


class CancelResponse(BaseModel):
    task_id: str
    status: TaskStatus
    cancelled_at: str
    message: str


class FunctionInfo(BaseModel):
    name: str
    description: str
    parameters: list[str]
    category: str
    estimated_duration: str
    worker_type: WorkerType


class FunctionsResponse(BaseModel):
    functions: dict[str, list[FunctionInfo]]
    total_functions: int
    categories: list[str]


class PriorityInfo(BaseModel):
    level: int
    sla_seconds: float
    description: str
    examples: list[str]


class AutoScalingThresholds(BaseModel):
    scale_up_queue_size: int
    scale_down_queue_size: int


class PrioritiesResponse(BaseModel):
    priorities: dict[str, PriorityInfo]
    default_priority: Priority
    auto_scaling_thresholds: AutoScalingThresholds
