"""What a task is, apart from where it is stored or how it travels: its priority, worker
type, status and record. Nothing here imports Redis, Ray, FastAPI or the wire models."""

from vokaflow.domain.batch import BatchStatus, ExecutionMode
from vokaflow.domain.priority import Priority
from vokaflow.domain.task import FINISHED, TaskField, TaskStatus, WorkerType

__all__ = [
    "FINISHED",
    "BatchStatus",
    "ExecutionMode",
    "Priority",
    "TaskField",
    "TaskStatus",
    "WorkerType",
]
