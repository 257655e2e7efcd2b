"""Bodies of the dead-letter routes."""

from __future__ import annotations

from pydantic import BaseModel

from vokaflow.api.schemas.tasks import TaskStatusResponse


class DeadLettersResponse(BaseModel):
    dead_letters: list[TaskStatusResponse]
    total: int
    limit: int
    offset: int


class DeadLetterDiscardedResponse(BaseModel):
    task_id: str
    discarded: bool
