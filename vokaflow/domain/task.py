"""The task: its worker type, its status with the finished set, the names of its record's
Redis hash fields, and the one encoder/decoder between that hash and typed values.

Pure Python: no Redis client, no Ray, no wire models. Untyped dicts exist only at the Redis
and JSON edges; everything between them passes the types below."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, TypeVar

from vokaflow.domain.priority import Priority, queue_score


class WorkerType(str, Enum):
    CPU_INTENSIVE = "CPU_INTENSIVE"
    IO_INTENSIVE = "IO_INTENSIVE"
    MEMORY_INTENSIVE = "MEMORY_INTENSIVE"
    NETWORK_INTENSIVE = "NETWORK_INTENSIVE"
    GENERAL_PURPOSE = "GENERAL_PURPOSE"


class TaskStatus(str, Enum):
    """A task's status. The Lua scripts in ``store/lua`` spell the same values."""

    SCHEDULED = "scheduled"  # waits for its run_at in the partition's schedule, then queued
    WAITING = "waiting"  # waits for its parents (depends_on) to end, then queued
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    UPSTREAM_FAILED = "upstream_failed"  # a parent did not complete: not run (trigger_rule)

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
    TaskStatus.UPSTREAM_FAILED,
)


class TaskField:
    """The names of a task record's Redis hash fields (the Lua scripts use the same)."""

    SPEC = "spec"  # JSON of what never changes after submit: see TaskSpec.spec_json
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
    # epoch ms it entered its queue after submit, where its queue wait counts from: a dead
    # letter sent back by hand, or a child released by its parents
    REQUEUED_AT = "requeued_at"
    RELEASED_AT = "released_at"  # epoch ms a delayed task left its schedule (its lateness)
    # the principal, as in the spec: its fair place when a delay ends, its task indexes when
    # it ends (lib/task_index.lua; records from before it was always written lack it)
    OWNER = "owner"
    # The owner's concurrency key as a name of its own (TaskSpec.concurrency_name) and its
    # cap, read by store/lua/lib/concurrency.lua
    CONCURRENCY = "concurrency"
    MAX_CONCURRENCY = "max_concurrency"
    # A child's parents: how many (it waits until that many ended) and what it asks of them
    DEPS = "deps"
    TRIGGER_RULE = "trigger_rule"
    # Written by versions before the score became the one truth; read by nothing.
    LEGACY_PRIORITY = "priority"
    LEGACY_LEVEL = "level"


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """One task as submitted: what the API checked, what is stored, what is claimed and what
    a worker runs. Every field is declared here once; ``to_fields`` and ``from_record`` are
    the only places that spell its record's hash fields and spec JSON keys.

    The JSON keys are the API's names (``id``, ``timeout``); Python uses ``task_id`` and
    ``timeout_s``. A key an older record lacks decodes to its default."""

    task_id: str
    function_name: str
    name: str = ""
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    # stored as the record's score: a starvation promotion raises what a later read sees
    priority: Priority = Priority.NORMAL
    worker_type: WorkerType = WorkerType.GENERAL_PURPOSE
    category: str = ""
    timeout_s: int = 300
    max_retries: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    partition: int = 0
    owner: str = ""
    data_scope: str = ""  # the principal's folder of each data root; "" for an admin
    batch_id: str = ""
    hold: bool = False  # a batch releases it later; submit-time only, never stored
    # epoch s before which it must not run; None runs it now. Its queue wait, hence its
    # SLA, counts from here.
    run_at: float | None = None
    # at most max_concurrency tasks of the owner's concurrency_key run at once ("": no cap)
    concurrency_key: str = ""
    max_concurrency: int = 0
    # parents' task ids, each with the name its result is passed under (pass_results_as)
    depends_on: dict[str, str] = field(default_factory=dict)
    trigger_rule: str = "all_success"  # or "all_done": runs once every parent ended
    pass_results_as: str = ""  # the kwarg that receives {parent name: its result}
    workflow_id: str = ""
    # W3C traceparent of the span its stage runs under: the submit's, as stored; the
    # dispatch's, in what a worker is handed. "" when it is not traced.
    trace_parent: str = ""

    @property
    def concurrency_name(self) -> str:
        """Where the key's state lives: one owner's key is never another owner's."""
        return concurrency_name(self.owner, self.concurrency_key) if self.concurrency_key else ""

    @property
    def score(self) -> float:
        """Its dispatch order once ready: a delayed task enqueues at its due time."""
        return queue_score(self.priority, self.ready_at)

    @property
    def ready_at(self) -> float:
        """When it may first run, which is where its queue wait counts from."""
        return self.run_at if self.run_at is not None else self.created_at

    @property
    def ready_now(self) -> bool:
        """Whether it goes straight to its ready queue: no run_at, no parents."""
        return self.run_at is None and not self.depends_on

    @property
    def due_ms(self) -> int:
        """Its score in its partition's schedule: rounded up, so that no release at a whole
        ms comes before run_at."""
        return math.ceil(self.ready_at * 1000)

    @property
    def created_ms(self) -> int:
        """Epoch ms of its submit: its score in the task search indexes."""
        return math.floor(self.created_at * 1000)

    @property
    def initial_status(self) -> TaskStatus:
        if self.depends_on:
            return TaskStatus.WAITING
        return TaskStatus.SCHEDULED if self.run_at is not None else TaskStatus.QUEUED

    def spec_json(self) -> str:
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
                **({"run_at": self.run_at} if self.run_at is not None else {}),
                **(
                    {
                        "concurrency_key": self.concurrency_key,
                        "max_concurrency": self.max_concurrency,
                    }
                    if self.concurrency_key
                    else {}
                ),
                **(
                    {
                        "depends_on": self.depends_on,
                        "trigger_rule": self.trigger_rule,
                        "pass_results_as": self.pass_results_as,
                    }
                    if self.depends_on
                    else {}
                ),
                **({"workflow_id": self.workflow_id} if self.workflow_id else {}),
                **({"traceparent": self.trace_parent} if self.trace_parent else {}),
            },
            separators=(",", ":"),
        )

    def to_fields(self) -> list[str]:
        """The new record's hash fields, flat, as the submit script takes them."""
        fields = {
            TaskField.SPEC: self.spec_json(),
            TaskField.STATUS: self.initial_status.value,
            TaskField.WORKER_TYPE: self.worker_type.value,
            TaskField.SCORE: repr(self.score),
            TaskField.ATTEMPTS: "0",
            TaskField.OWNER: self.owner,
            **(
                {
                    TaskField.CONCURRENCY: self.concurrency_name,
                    TaskField.MAX_CONCURRENCY: str(self.max_concurrency),
                }
                if self.concurrency_key
                else {}
            ),
            **(
                {
                    TaskField.DEPS: str(len(self.depends_on)),
                    TaskField.TRIGGER_RULE: self.trigger_rule,
                }
                if self.depends_on
                else {}
            ),
            **({TaskField.BATCH_ID: self.batch_id} if self.batch_id else {}),
        }
        return [item for pair in fields.items() for item in pair]

    @classmethod
    def from_record(cls, record: Mapping[str, str]) -> TaskSpec:
        """A stored record's task; of the mutable fields it reads only the score (the priority
        now), the worker type and the batch id, each where the record has it."""
        spec = json.loads(record[TaskField.SPEC])
        get = spec.get
        score = record.get(TaskField.SCORE)
        worker_type = record.get(TaskField.WORKER_TYPE)
        run_at = get("run_at")
        return _frozen(
            cls,
            {
                "task_id": str(spec["id"]),
                "function_name": str(spec["function_name"]),
                "name": str(get("name") or ""),
                "args": spec["args"],
                "kwargs": spec["kwargs"],
                "priority": Priority.from_score(float(score)) if score else Priority.NORMAL,
                "worker_type": (
                    WorkerType(worker_type) if worker_type else WorkerType.GENERAL_PURPOSE
                ),
                "category": str(get("category") or ""),
                "timeout_s": int(spec["timeout"]),
                "max_retries": int(spec["max_retries"]),
                "metadata": get("metadata") or {},
                "created_at": float(get("created_at") or 0.0),
                "partition": int(get("partition") or 0),
                "owner": str(get("owner") or ""),
                "data_scope": str(get("data_scope") or ""),
                "batch_id": record.get(TaskField.BATCH_ID) or "",
                "hold": False,
                "run_at": None if run_at is None else float(run_at),
                "concurrency_key": str(get("concurrency_key") or ""),
                "max_concurrency": int(get("max_concurrency") or 0),
                "depends_on": dict(get("depends_on") or {}),
                "trigger_rule": str(get("trigger_rule") or "all_success"),
                "pass_results_as": str(get("pass_results_as") or ""),
                "workflow_id": str(get("workflow_id") or ""),
                "trace_parent": str(get("traceparent") or ""),
            },
        )

    @classmethod
    def decode(cls, spec_json: str) -> TaskSpec:
        """The task from its spec field alone: the mutable fields take their defaults."""
        return cls.from_record({TaskField.SPEC: spec_json})


@dataclass(frozen=True)
class ClaimedTask:
    """A task the scheduler took from its queue: the task and its dispatch state. The
    scheduler's parts pass it, and a worker runs it."""

    spec: TaskSpec
    attempt: int
    solo: bool = False  # runs alone in its chunk, after a chunk it was in lost its worker
    system_retries: int = 0
    requeued_at: float = 0.0  # a dead letter sent back to its queue by hand
    score: float = 0.0  # its queue score when claimed: its level, then its fair place
    run_trace_parent: str = ""  # traced: its dispatch span's traceparent, which its run nests in

    @property
    def task_id(self) -> str:
        return self.spec.task_id

    @property
    def queued_since(self) -> float:
        """Where the first attempt's queue wait counts from: a delayed task's wait starts at
        its due time, not at submit."""
        return self.requeued_at or self.spec.ready_at

    @classmethod
    def from_record(cls, record: Mapping[str, str]) -> ClaimedTask:
        requeued_ms = record.get(TaskField.REQUEUED_AT)
        return _frozen(
            cls,
            {
                "spec": TaskSpec.from_record(record),
                "attempt": int(record[TaskField.ATTEMPTS]),
                "solo": record.get(TaskField.SOLO) == "1",
                "system_retries": int(record.get(TaskField.SYSTEM_RETRIES) or 0),
                "requeued_at": int(requeued_ms) / 1000 if requeued_ms else 0.0,
                "score": float(record.get(TaskField.SCORE) or 0.0),
                "run_trace_parent": "",
            },
        )


@dataclass(frozen=True)
class TaskRecord:
    """A stored task as a reader sees it: the task and where its run stands."""

    spec: TaskSpec
    status: TaskStatus
    attempts: int = 0
    system_retries: int = 0
    started_at: float | None = None
    completed_at: float | None = None
    execution_time: float | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    worker_pid: int | None = None
    progress: dict[str, Any] | None = None
    retry_at: float | None = None  # epoch s of the next attempt, while a retry waits

    @classmethod
    def from_record(cls, record: Mapping[str, str]) -> TaskRecord:
        status = TaskStatus(record[TaskField.STATUS])
        retry_ms = record.get(TaskField.RETRY_AT)
        worker_pid = record.get(TaskField.WORKER_PID)
        return cls(
            spec=TaskSpec.from_record(record),
            status=status,
            attempts=int(record.get(TaskField.ATTEMPTS) or 0),
            system_retries=int(record.get(TaskField.SYSTEM_RETRIES) or 0),
            started_at=decode_float(record.get(TaskField.STARTED_AT)),
            completed_at=decode_float(record.get(TaskField.COMPLETED_AT)),
            execution_time=decode_float(record.get(TaskField.EXECUTION_TIME)),
            result=decode_json(record.get(TaskField.RESULT)),
            error=decode_json(record.get(TaskField.ERROR)),
            worker_pid=int(worker_pid) if worker_pid else None,
            progress=decode_json(record.get(TaskField.PROGRESS)),
            retry_at=int(retry_ms) / 1000 if status == TaskStatus.QUEUED and retry_ms else None,
        )


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


_Built = TypeVar("_Built")


def _frozen(cls: type[_Built], values: dict[str, Any]) -> _Built:
    """An instance of the frozen dataclass ``cls`` from all its fields' values, without its
    generated __init__, which sets each field through object.__setattr__: the scheduler
    decodes every task it claims, thousands a second, and that __init__ was a third of it.
    ``values`` must name every field: tests/unit check that a decoded task equals one built
    the usual way."""
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


# The highest max_concurrency: cc_sweep.lua reads each running task of a full key.
MAX_CONCURRENCY = 1000
# The most parents a task may wait for (a fan-in of 1,000 and a little more).
MAX_PARENTS = 5000


def concurrency_name(owner: str, key: str) -> str:
    return hashlib.sha256(f"{owner}\0{key}".encode()).hexdigest()[:32]


def id_in_partition(task_id: str, partition: int, partition_of: Callable[[str], int]) -> str:
    """``task_id``, or the first of ``task_id.1``, ``task_id.2``... that lands in
    ``partition``: every task of one concurrency key is kept in the partition of the key's
    name, so one script sees all of the key's state (store/lua/lib/concurrency.lua).
    Deterministic, so a replay finds the same id."""
    candidate, suffix = task_id, 0
    while partition_of(candidate) != partition:
        suffix += 1
        candidate = f"{task_id}.{suffix}"
    return candidate


def with_parents_results(spec: TaskSpec, results: Mapping[str, str | None]) -> TaskSpec:
    """The task with {parent name: its result} under its pass_results_as kwarg, from each
    parent's stored result JSON (None where a parent has none)."""
    inputs = {
        name: None if results.get(parent_id) is None else json.loads(str(results[parent_id]))
        for parent_id, name in spec.depends_on.items()
    }
    return replace(spec, kwargs={**spec.kwargs, spec.pass_results_as: inputs})


def task_owner(spec_json: str) -> str | None:
    """The principal that submitted a task, from its record's spec field."""
    owner = json.loads(spec_json).get("owner")
    return None if owner is None else str(owner)


def task_trace_parent(record: Mapping[str, str] | None) -> str:
    """The traceparent of a stored task's submit span; "" for an untraced or gone one."""
    spec = (record or {}).get(TaskField.SPEC)
    return str(json.loads(spec).get("traceparent") or "") if spec else ""


def decode_json(raw: str | None, default: Any = None) -> Any:
    if raw is None or raw == "":
        return default
    return json.loads(raw)


def decode_float(raw: str | None) -> float | None:
    return None if raw is None or raw == "" else float(raw)
