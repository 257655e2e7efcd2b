"""Bodies of the task and system log routes."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel


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
