"""How a task is laid out in its Redis hash, and the dispatch order of queued tasks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vokaflow.schemas import Priority, WorkerType

# A queue score orders by priority level first, then by enqueue time in ms. 2**41 ms reaches
# the year 2039; a double holds the sum exactly (3 + 41 bits < 53).
LEVEL_WEIGHT = float(2**41)


def queue_score(priority: Priority, enqueued_at_s: float) -> float:
    return priority.level * LEVEL_WEIGHT + float(int(enqueued_at_s * 1000))


def level_of_score(score: float) -> int:
    return int(score // LEVEL_WEIGHT)


def level_upper_bound(level: int) -> float:
    """The highest score a task of ``level`` can have (scores are whole numbers)."""
    return (level + 1) * LEVEL_WEIGHT - 1


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

    def to_fields(self) -> list[str]:
        fields = {
            "spec": self.spec(),
            "status": "queued",
            "priority": self.priority.value,
            "level": str(self.priority.level),
            "worker_type": self.worker_type.value,
            "score": repr(self.score),
            "attempts": "0",
            **({"batch_id": self.batch_id} if self.batch_id else {}),
        }
        return [item for pair in fields.items() for item in pair]


@dataclass
class Outcome:
    """What an executor reports for one task attempt."""

    task_id: str
    attempt: int
    status: str
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
            "started_at",
            repr(self.started_at),
            "execution_time",
            repr(self.execution_time),
            "error",
            json.dumps(self.error),
        ]

    def to_fields(self) -> list[str]:
        return [
            "status",
            self.status,
            "started_at",
            repr(self.started_at),
            "completed_at",
            repr(self.completed_at),
            "execution_time",
            repr(self.execution_time),
            "result",
            json.dumps(self.result),
            "error",
            json.dumps(self.error),
        ]


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
