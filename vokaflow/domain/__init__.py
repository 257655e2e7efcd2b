"""What a task is, apart from where it is stored or how it travels: its priority, worker
type, status, record, category and the events a webhook hears. Nothing here imports Redis,
Ray, FastAPI or the wire models."""

from vokaflow.domain.batch import BatchStatus, ExecutionMode
from vokaflow.domain.category import CATEGORIES, CATEGORY_NAME
from vokaflow.domain.events import WebhookEvent
from vokaflow.domain.priority import Priority
from vokaflow.domain.task import FINISHED, TaskField, TaskStatus, WorkerType

__all__ = [
    "CATEGORIES",
    "CATEGORY_NAME",
    "FINISHED",
    "BatchStatus",
    "ExecutionMode",
    "Priority",
    "TaskField",
    "TaskStatus",
    "WebhookEvent",
    "WorkerType",
]
