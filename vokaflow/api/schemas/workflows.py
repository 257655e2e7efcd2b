"""Wire models of /api/workflows."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from vokaflow.api.schemas.common import StrictBody
from vokaflow.domain.workflow import MAX_NODES
from vokaflow.payload_limits import check_string


class WorkflowSubmitRequest(StrictBody):
    name: str = Field(min_length=1, max_length=256)
    # Each a task as POST /submit takes it; its `name` names the node (unique here), its
    # `depends_on` the nodes it waits for
    tasks: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_NODES)

    _valid_text = field_validator("name")(check_string)


class WorkflowNodeView(BaseModel):
    name: str
    task_id: str
    status: str  # the task's status; "expired" once its record is gone
    depends_on: list[str]


class WorkflowResponse(BaseModel):
    workflow_id: str
    name: str
    # running while a node has not ended; then completed, failed or cancelled
    status: str
    created_at: str
    nodes: list[WorkflowNodeView]
    edges: list[tuple[str, str]]  # (parent, child): the child waits for the parent
    counts: dict[str, int]  # nodes per status
