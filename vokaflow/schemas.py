"""Pydantic models of every request and response body in the API. The task's enums live in
``vokaflow.domain``; they are imported here because the bodies use them."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vokaflow.domain import ExecutionMode as ExecutionMode
from vokaflow.domain import Priority as Priority
from vokaflow.domain import TaskStatus as TaskStatus
from vokaflow.domain import WorkerType as WorkerType
from vokaflow.payload_limits import check_json_value, check_string

CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # built-in or a plugin's own
CATEGORIES: tuple[str, ...] = (
    "vicky",
    "audio",
    "database",
    "notifications",
    "files",
    "analytics",
    "ml",
    "system",
    "realtime",
)

PRIORITY_ERROR = "Invalid priority level. Must be one of: " + ", ".join(p.value for p in Priority)

WORKER_TYPE_ERROR = "Invalid worker type. Must be one of: " + ", ".join(w.value for w in WorkerType)


def _not_a_bool(value: Any) -> Any:
    """JSON true is not the number 1, whatever pydantic's lax mode thinks."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


def _upper_enum_name(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- tasks


class TaskSubmitRequest(_Request):
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

    _upper_priority = field_validator("priority", "worker_type", mode="before")(_upper_enum_name)
    _bounded_json = field_validator("args", "kwargs", "metadata")(check_json_value)
    _whole_numbers = field_validator("timeout", "retry_count", mode="before")(_not_a_bool)
    _valid_text = field_validator("name", "function_name", "category", "idempotency_key")(
        lambda text: text if text is None else check_string(text)
    )


class TaskSubmitResponse(BaseModel):
    task_id: str
    name: str
    status: TaskStatus
    priority: Priority
    partition: int
    redis_node: str
    estimated_completion: str
    queue_position: int
    created_at: str


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
    progress: dict[str, Any] | None = None  # what the function last reported


class DeadLettersResponse(BaseModel):
    dead_letters: list[TaskStatusResponse]
    total: int
    limit: int
    offset: int


class CancelResponse(BaseModel):
    task_id: str
    status: TaskStatus
    cancelled_at: str
    message: str


# ---------------------------------------------------------------- batches


class BatchSubmitRequest(_Request):
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

    _upper_priority = field_validator("batch_priority", mode="before")(_upper_enum_name)
    _whole_numbers = field_validator("batch_timeout", "max_failures", mode="before")(_not_a_bool)


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


# ---------------------------------------------------------------- catalog and configuration


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


class HealthResponse(BaseModel):
    status: Literal["healthy"]
    timestamp: str
    uptime: float
    version: str
    environment: str


# ---------------------------------------------------------------- metrics


class NetworkIO(BaseModel):
    bytes_sent: int
    bytes_recv: int


class SystemResources(BaseModel):
    cpu_percent: float
    memory_percent: float
    disk_usage: float
    network_io: NetworkIO


class WorkerPoolMetrics(BaseModel):
    active_workers: int
    max_workers: int
    queue_size: int
    avg_execution_time: float


class RateLimitMetrics(BaseModel):
    limit_per_second: int
    current_usage: int
    reset_time: str


class RedisNodeMetrics(BaseModel):
    status: str
    memory_usage: str


class MetricsResponse(BaseModel):
    throughput_per_second: float
    total_pending_tasks: int
    active_workers: int
    redis_nodes: int
    partitions: int
    system_resources: SystemResources
    worker_pools: dict[str, WorkerPoolMetrics]
    rate_limits: dict[str, RateLimitMetrics]
    redis_cluster: dict[str, RedisNodeMetrics]
    timestamp: float


class CategoryRateLimit(BaseModel):
    limit_per_second: int
    burst: int
    current_usage: int
    reset_time: str


class CategoryTaskCounts(BaseModel):
    submitted: int
    refused: int
    completed: int
    failed: int
    timeout: int
    cancelled: int
    retried: int


class CategoryMetricsResponse(BaseModel):
    category: str
    rate_limit: CategoryRateLimit
    tasks: CategoryTaskCounts
    success_rate: float | None
    avg_execution_time: float
    timestamp: float


class PoolDetail(WorkerPoolMetrics):
    target_workers: int
    occupancy: float


class RayNodeMetrics(BaseModel):
    node_id: str
    hostname: str
    alive: bool
    cpu_percent: float | None
    memory_percent: float | None
    resources: dict[str, float]


class WorkersMetricsResponse(BaseModel):
    active_workers: int
    max_workers: int
    worker_pools: dict[str, PoolDetail]
    nodes: list[RayNodeMetrics]
    timestamp: float


class RedisNodeDetail(RedisNodeMetrics):
    role: str
    version: str
    used_memory_bytes: int
    connected_clients: int
    ops_per_second: int
    keys: int
    uptime_seconds: int


class RedisMetricsResponse(BaseModel):
    mode: Literal["single", "cluster"]
    nodes: dict[str, RedisNodeDetail]
    partitions: int
    partition_nodes: dict[str, str]
    timestamp: float


# ---------------------------------------------------------------- Vicky


class InferenceParameters(_Request):
    max_tokens: int = Field(default=256, ge=1, le=8192)
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)


class VickyInferenceRequest(_Request):
    text: str = Field(min_length=1, max_length=100_000)
    model: str | None = None  # None: VOKAFLOW_VICKY_DEFAULT_MODEL
    personality: str = "conversational"
    context: dict[str, Any] = Field(default_factory=dict)
    parameters: InferenceParameters = Field(default_factory=InferenceParameters)
    stream: bool = False  # true: server-sent events, one per generated piece of text

    _valid_text = field_validator("text")(check_string)


class VickyInferenceMetadata(BaseModel):
    model_version: str
    processing_node: str


class VickyInferenceResponse(BaseModel):
    response: str
    model_used: str
    personality: str
    tokens_used: int
    execution_time: float
    confidence: float
    metadata: VickyInferenceMetadata


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=100_000)

    _valid_text = field_validator("content")(check_string)


class VickyChatRequest(_Request):
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    model: str | None = None  # None: VOKAFLOW_VICKY_DEFAULT_MODEL
    personality: str = "conversational"
    # With a session id, the conversation is kept: send only the new messages next time.
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    parameters: InferenceParameters = Field(default_factory=InferenceParameters)
    stream: bool = False


class VickyChatResponse(BaseModel):
    message: ChatMessage
    session_id: str
    model_used: str
    personality: str
    tokens_used: int
    execution_time: float
    confidence: float
    metadata: VickyInferenceMetadata


class PersonalityInfo(BaseModel):
    name: str
    description: str
    system_prompt: str


class PersonalitiesResponse(BaseModel):
    personalities: list[PersonalityInfo]
    count: int


# ---------------------------------------------------------------- webhooks


class WebhookEvent(str, Enum):
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_TIMEOUT = "task.timeout"
    TASK_CANCELLED = "task.cancelled"
    BATCH_COMPLETED = "batch.completed"


class WebhookConfigureRequest(_Request):
    url: str = Field(min_length=1, max_length=2048)
    events: list[WebhookEvent] = Field(min_length=1)
    secret: str = Field(min_length=8, max_length=256)


class WebhookPayload(BaseModel):
    event: WebhookEvent
    timestamp: str
    data: dict[str, Any]
    signature: str


# ---------------------------------------------------------------- logs


class LogLevel(str, Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class LogEntry(BaseModel):
    timestamp: str
    level: str
    event: str
    message: str
    source: str | None = None
    attempt: int | None = None
    task_id: str | None = None
    component: str | None = None


class TaskLogsResponse(BaseModel):
    task_id: str
    entries: list[LogEntry]
    count: int


class SystemLogsResponse(BaseModel):
    level: LogLevel
    limit: int
    entries: list[LogEntry]
    count: int


# ---------------------------------------------------------------- error bodies


class ErrorBody(BaseModel):
    error: str
    message: str
    details: dict[str, Any] | None = None
    timestamp: str


class InternalErrorBody(BaseModel):
    error: Literal["internal_server_error"]
    message: str
    error_id: str
    timestamp: str
