"""The task: its worker type, its status with the finished set, the names of its record's
Redis hash fields, and the one encoder/decoder between that hash and typed values.

Pure Python: no Redis client, no Ray, no wire models. Untyped dicts exist only at the Redis
and JSON edges; everything between them passes the types below."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from vokaflow.domain.priority import Priority, queue_score


class WorkerType(str, Enum):
    CPU_INTENSIVE = "CPU_INTENSIVE"
    IO_INTENSIVE = "IO_INTENSIVE"
    MEMORY_INTENSIVE = "MEMORY_INTENSIVE"
    NETWORK_INTENSIVE = "NETWORK_INTENSIVE"
    GENERAL_PURPOSE = "GENERAL_PURPOSE"


class TaskStatus(str, Enum):
    """A task's status. The Lua scripts in ``store/lua`` spell the same values."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    def __str__(self) -> str:  # f-strings and key names get "failed", not "TaskStatus.FAILED"
        return self.value

    @property
    def is_terminal(self) -> bool:
        return self in FINISHED


# The statuses a task never leaves, in the order reports list them.
FINISHED: tuple[TaskStatus, ...] = (
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
    TaskStatus.TIMEOUT,
)


class TaskField:
    """The names of a task record's Redis hash fields (the Lua scripts use the same)."""

    SPEC = "spec"  # JSON of what never changes after submit: see NewTask.spec
    STATUS = "status"
    # The priority's one stored truth: level x LEVEL_WEIGHT + enqueue ms, so a promotion or a
    # re-queue that rewrites it changes the priority every reader sees (Priority.from_score).
    SCORE = "score"
    WORKER_TYPE = "worker_type"
    ATTEMPTS = "attempts"
    SYSTEM_RETRIES = "system_retries"  # re-runs after a lost worker, not counted as attempts
    SOLO = "solo"  # "1": runs alone in its chunk, after a chunk it was in lost its worker
    PROMOTIONS = "promotions"
    BATCH_ID = "batch_id"
    DISPATCHED_AT = "dispatched_at"
    STARTED_AT = "started_at"
    COMPLETED_AT = "completed_at"
    EXECUTION_TIME = "execution_time"
    RESULT = "result"
    ERROR = "error"
    WORKER_PID = "worker_pid"
    PROGRESS = "progress"
    RETRY_AT = "retry_at"  # epoch ms of the next attempt, while a retry waits
    REQUEUED_AT = "requeued_at"  # epoch ms a dead letter was sent back to its queue
    # Written by versions before the score became the one truth; read by nothing.
    LEGACY_PRIORITY = "priority"
    LEGACY_LEVEL = "level"


@dataclass(frozen=True)
class TaskSpec:
    """What never changes after a task's submit: its record's spec field, decoded.

    The JSON keys are the API's names (``id``, ``timeout``); Python uses ``task_id`` and
    ``timeout_s``. ``encode`` and ``decode`` are the only places that spell the keys."""

    task_id: str
    name: str
    function_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    category: str
    timeout_s: int
    max_retries: int
    metadata: dict[str, Any]
    created_at: float
    partition: int
    owner: str
    data_scope: str = ""  # the principal's folder of each data root; "" for an admin

    def encode(self) -> str:
        return json.dumps(
            {
                "id": self.task_id,
                "name": self.name,
                "function_name": self.function_name,
                "args": self.args,
                "kwargs": self.kwargs,
                "category": self.category,
                "timeout": self.timeout_s,
                "max_retries": self.max_retries,
                "metadata": self.metadata,
                "created_at": self.created_at,
                "partition": self.partition,
                "owner": self.owner,
                **({"data_scope": self.data_scope} if self.data_scope else {}),
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, spec_json: str) -> TaskSpec:
        spec = json.loads(spec_json)
        return cls(
            task_id=str(spec["id"]),
            name=str(spec.get("name") or ""),
            function_name=str(spec["function_name"]),
            args=spec["args"],
            kwargs=spec["kwargs"],
            category=str(spec.get("category") or ""),
            timeout_s=int(spec["timeout"]),
            max_retries=int(spec["max_retries"]),
            metadata=spec.get("metadata") or {},
            created_at=float(spec.get("created_at") or 0.0),
            partition=int(spec.get("partition") or 0),
            owner=str(spec.get("owner") or ""),
            data_scope=str(spec.get("data_scope") or ""),
        )


@dataclass
class NewTask:
    """A validated task, ready to be written by the submit script."""

    task_id: str
    name: str
    function_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    priority: Priority
    worker_type: WorkerType
    category: str
    timeout_s: int
    max_retries: int
    metadata: dict[str, Any]
    created_at: float
    partition: int
    owner: str
    batch_id: str | None = None
    hold: bool = False  # a batch releases it later
    data_scope: str = ""  # the principal's folder of each data root; "" for an admin

    @property
    def score(self) -> float:
        return queue_score(self.priority, self.created_at)

    def spec(self) -> str:
        """What never changes after submit, as one JSON field: fewer fields, less work."""
        return TaskSpec(
            task_id=self.task_id,
            name=self.name,
            function_name=self.function_name,
            args=self.args,
            kwargs=self.kwargs,
            category=self.category,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            metadata=self.metadata,
            created_at=self.created_at,
            partition=self.partition,
            owner=self.owner,
            data_scope=self.data_scope,
        ).encode()

    def to_fields(self) -> list[str]:
        fields = {
            TaskField.SPEC: self.spec(),
            TaskField.STATUS: TaskStatus.QUEUED.value,
            TaskField.WORKER_TYPE: self.worker_type.value,
            TaskField.SCORE: repr(self.score),
            TaskField.ATTEMPTS: "0",
            **({TaskField.BATCH_ID: self.batch_id} if self.batch_id else {}),
        }
        return [item for pair in fields.items() for item in pair]


@dataclass
class Outcome:
    """What an executor reports for one task attempt."""

    task_id: str
    attempt: int
    status: TaskStatus
    started_at: float
    completed_at: float
    result: Any = None
    error: dict[str, Any] | None = None
    function_name: str = ""
    logs: list[dict[str, Any]] = field(default_factory=list)  # what the function printed

    @property
    def execution_time(self) -> float:
        return max(0.0, self.completed_at - self.started_at)

    def retry_fields(self) -> list[str]:
        """What a failed attempt leaves on the record while the task waits to retry."""
        return [
            TaskField.STARTED_AT,
            repr(self.started_at),
            TaskField.EXECUTION_TIME,
            repr(self.execution_time),
            TaskField.ERROR,
            json.dumps(self.error),
        ]

    def to_fields(self) -> list[str]:
        return [
            TaskField.STATUS,
            self.status.value,
            TaskField.STARTED_AT,
            repr(self.started_at),
            TaskField.COMPLETED_AT,
            repr(self.completed_at),
            TaskField.EXECUTION_TIME,
            repr(self.execution_time),
            TaskField.RESULT,
            json.dumps(self.result),
            TaskField.ERROR,
            json.dumps(self.error),
        ]


def record_priority(record: Mapping[str, str]) -> Priority:
    """A stored task's priority now: the one it was submitted at, or the one a starvation
    promotion gave it."""
    return Priority.from_score(float(record[TaskField.SCORE]))


def task_owner(spec_json: str) -> str | None:
    """The principal that submitted a task, from its record's spec field."""
    owner = json.loads(spec_json).get("owner")
    return None if owner is None else str(owner)


def decode_json(raw: str | None, default: Any = None) -> Any:
    if raw is None or raw == "":
        return default
    return json.loads(raw)


def decode_float(raw: str | None) -> float | None:
    return None if raw is None or raw == "" else float(raw)
