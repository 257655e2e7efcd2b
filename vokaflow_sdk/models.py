"""Typed response bodies, with attribute access.

Every model keeps fields it does not know (``model_extra``), and enum-like fields are plain
strings, so a newer service with more fields or values does not break an older SDK. The
enums for building requests are the service's own; a plain string works as well.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vokaflow.domain import ExecutionMode as ExecutionMode
from vokaflow.domain import Priority as Priority
from vokaflow.domain import TaskStatus
from vokaflow.domain import WebhookEvent as WebhookEvent
from vokaflow.domain import WorkerType as WorkerType

TERMINAL_STATUSES = frozenset(status.value for status in TaskStatus if status.is_terminal)


class ApiModel(BaseModel):
    """Base of every response model: unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())


# ---------------------------------------------------------------- tasks


class TaskSubmitResponse(ApiModel):
    task_id: str
    name: str = ""
    status: str = "queued"
    priority: str = ""
    partition: int | None = None
    redis_node: str | None = None
    estimated_start: str | None = None
    estimated_completion: str | None = None
    queue_position: int | None = None
    created_at: str | None = None
    run_at: str | None = None  # a delayed task's due time (UTC)


class TaskErrorInfo(ApiModel):
    type: str = ""
    message: str = ""
    traceback: str | None = None


class TaskStatusResponse(ApiModel):
    task_id: str
    name: str = ""
    status: str
    priority: str = ""
    worker_type: str | None = None
    category: str | None = None
    partition: int | None = None
    redis_node: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    execution_time: float | None = None
    result: Any = None
    error: TaskErrorInfo | None = None
    retry_count: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    function_name: str | None = None
    attempts: int | None = None
    timeout: int | None = None
    max_retries: int | None = None
    queue_position: int | None = None
    batch_id: str | None = None
    worker_pid: int | None = None
    system_retries: int = 0
    retry_at: str | None = None
    run_at: str | None = None  # a delayed task's due time (UTC); status "scheduled" until then
    progress: dict[str, Any] | None = None
    concurrency_key: str | None = None
    max_concurrency: int | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the task has ended: completed, failed, cancelled or timeout."""
        return self.status in TERMINAL_STATUSES


class CancelResponse(ApiModel):
    task_id: str
    status: str
    cancelled_at: str | None = None
    message: str = ""


# ---------------------------------------------------------------- batches


class BatchTaskRef(ApiModel):
    task_id: str
    name: str = ""
    partition: int | None = None
    redis_node: str | None = None


class BatchTaskError(ApiModel):
    index: int
    name: str | None = None
    error: str = ""
    message: str = ""
    details: dict[str, Any] | None = None


class BatchSubmitResponse(ApiModel):
    batch_id: str
    total_submitted: int
    total_errors: int = 0
    successful_tasks: list[BatchTaskRef] = Field(default_factory=list)
    errors: list[BatchTaskError] = Field(default_factory=list)
    execution_mode: str = "parallel"
    estimated_start: str | None = None  # of its first task
    estimated_completion: str | None = None


class BatchStatusResponse(ApiModel):
    batch_id: str
    status: str
    execution_mode: str = "parallel"
    total: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    timeout: int = 0
    unfinished: int = 0
    created_at: str | None = None
    finished_at: str | None = None
    batch_timeout: int | None = None
    max_failures: int | None = None


# ---------------------------------------------------------------- catalog


class FunctionInfo(ApiModel):
    name: str
    description: str = ""
    parameters: list[str] = Field(default_factory=list)
    category: str = ""
    estimated_duration: str = ""
    worker_type: str = ""


class FunctionsResponse(ApiModel):
    functions: dict[str, list[FunctionInfo]] = Field(default_factory=dict)
    total_functions: int = 0
    categories: list[str] = Field(default_factory=list)


class PriorityInfo(ApiModel):
    level: int
    sla_seconds: float
    description: str = ""
    examples: list[str] = Field(default_factory=list)


class AutoScalingThresholds(ApiModel):
    scale_up_queue_size: int
    scale_down_queue_size: int


class PrioritiesResponse(ApiModel):
    priorities: dict[str, PriorityInfo]
    default_priority: str = "NORMAL"
    auto_scaling_thresholds: AutoScalingThresholds | None = None


class HealthResponse(ApiModel):
    status: str
    timestamp: str | None = None
    uptime: float | None = None
    version: str | None = None
    environment: str | None = None


# ---------------------------------------------------------------- metrics


class NetworkIO(ApiModel):
    bytes_sent: int = 0
    bytes_recv: int = 0


class SystemResources(ApiModel):
    cpu_percent: float = 0.0
    memory_percent: float = 0.0
    disk_usage: float = 0.0
    network_io: NetworkIO = Field(default_factory=NetworkIO)


class WorkerPoolMetrics(ApiModel):
    active_workers: int = 0
    max_workers: int = 0
    queue_size: int = 0
    avg_execution_time: float = 0.0


class RateLimitMetrics(ApiModel):
    limit_per_second: float = 0
    current_usage: float = 0
    reset_time: str | None = None


class RedisNodeMetrics(ApiModel):
    status: str = ""
    memory_usage: str | None = None


class MetricsResponse(ApiModel):
    throughput_per_second: float
    total_pending_tasks: int = 0
    scheduled_tasks: int = 0  # delayed tasks not yet due, apart from the pending ones
    active_workers: int = 0
    redis_nodes: int = 0
    partitions: int = 0
    system_resources: SystemResources | None = None
    worker_pools: dict[str, WorkerPoolMetrics] = Field(default_factory=dict)
    rate_limits: dict[str, RateLimitMetrics] = Field(default_factory=dict)
    redis_cluster: dict[str, RedisNodeMetrics] = Field(default_factory=dict)
    timestamp: float | None = None


# ---------------------------------------------------------------- Vicky


class ChatMessage(ApiModel):
    role: str
    content: str


class VickyMetadata(ApiModel):
    model_version: str | None = None
    processing_node: str | None = None


class VickyInferenceResponse(ApiModel):
    response: str
    model_used: str = ""
    personality: str = ""
    tokens_used: int = 0
    execution_time: float = 0.0
    confidence: float | None = None
    metadata: VickyMetadata | None = None


class VickyChatResponse(ApiModel):
    message: ChatMessage
    session_id: str
    model_used: str = ""
    personality: str = ""
    tokens_used: int = 0
    execution_time: float = 0.0
    confidence: float | None = None
    metadata: VickyMetadata | None = None


class PersonalityInfo(ApiModel):
    name: str
    description: str = ""
    system_prompt: str = ""


class PersonalitiesResponse(ApiModel):
    personalities: list[PersonalityInfo] = Field(default_factory=list)
    count: int = 0


# ---------------------------------------------------------------- webhooks


class WebhookResponse(ApiModel):
    """A configured webhook; the service never shows its secret again."""

    id: str
    url: str
    events: list[str] = Field(default_factory=list)
    owner: str | None = None
    created_at: str | None = None
    active: bool = True


class WebhookListResponse(ApiModel):
    webhooks: list[WebhookResponse] = Field(default_factory=list)
    count: int = 0


class WebhookDeletedResponse(ApiModel):
    id: str
    deleted: bool = True


class NotifySecretResponse(ApiModel):
    principal: str
    secret: str


class DeliveryAttemptResponse(ApiModel):
    delivery_id: str
    webhook_id: str
    attempt: int = 1
    event: str = ""
    subject_id: str = ""
    status_code: int | None = None
    error: str | None = None
    duration_s: float = 0.0
    timestamp: str | None = None
    outcome: str = ""


# ---------------------------------------------------------------- logs


class LogEntry(ApiModel):
    timestamp: str
    level: str
    event: str = ""
    message: str = ""
    source: str | None = None
    attempt: int | None = None
    task_id: str | None = None
    component: str | None = None


class TaskLogsResponse(ApiModel):
    task_id: str
    entries: list[LogEntry] = Field(default_factory=list)
    count: int = 0


class SystemLogsResponse(ApiModel):
    level: str = "INFO"
    limit: int = 0
    entries: list[LogEntry] = Field(default_factory=list)
    count: int = 0


# ---------------------------------------------------------------- schedules


class ScheduleRun(ApiModel):
    fire_time: str
    task_id: str
    status: str = ""  # the task's status, "waiting" (held by a rate limit) or "expired"


class ScheduleResponse(ApiModel):
    """A schedule: the task each fire submits, when it fires, what comes next."""

    id: str
    task: dict[str, Any] = Field(default_factory=dict)
    cron: str | None = None
    timezone: str = "UTC"
    interval_seconds: int | None = None
    start: str | None = None
    end: str | None = None
    paused: bool = False
    missed_fires: str = "skip"
    next_fire_time: str | None = None
    next_fire_times: list[str] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None
    runs: list[ScheduleRun] | None = None


class ScheduleListResponse(ApiModel):
    schedules: list[ScheduleResponse] = Field(default_factory=list)
    count: int = 0  # on this page
    total: int = 0
    limit: int = 0
    offset: int = 0


class ScheduleDeletedResponse(ApiModel):
    id: str
    deleted: bool = True


class WorkflowNode(ApiModel):
    name: str
    task_id: str
    status: str
    depends_on: list[str] = Field(default_factory=list)


class WorkflowResponse(ApiModel):
    """A workflow: each node's status, the edges (parent, child) and the whole one's status:
    running, completed, failed or cancelled."""

    workflow_id: str
    name: str = ""
    status: str = "running"
    created_at: str | None = None
    nodes: list[WorkflowNode] = Field(default_factory=list)
    edges: list[tuple[str, str]] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
