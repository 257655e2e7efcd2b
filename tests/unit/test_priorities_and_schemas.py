from __future__ import annotations

import pytest
from pydantic import ValidationError

from vokaflow.api.schemas.tasks import TaskSubmitRequest
from vokaflow.api.validation import PRIORITY_ERROR
from vokaflow.domain import ExecutionMode, Priority, TaskStatus, WorkerType


def test_the_eight_priorities_are_ordered_by_level_with_the_spec_slas():
    assert [p.level for p in Priority] == list(range(8))
    assert [p.sla_seconds for p in Priority] == [0.1, 0.5, 2.0, 10.0, 30.0, 300.0, 1800.0, 7200.0]
    assert Priority.EMERGENCY.examples == ["system_failure", "security_breach"]
    assert Priority.from_level(5) is Priority.BATCH


def test_the_enums_have_the_spec_sizes():
    assert len(WorkerType) == 5
    assert [s.value for s in TaskStatus] == [
        "scheduled",
        "waiting",
        "queued",
        "running",
        "completed",
        "failed",
        "cancelled",
        "timeout",
        "upstream_failed",
    ]
    assert {m.value for m in ExecutionMode} == {"parallel", "sequential", "adaptive"}


def test_only_finished_statuses_are_terminal():
    assert not TaskStatus.QUEUED.is_terminal and not TaskStatus.RUNNING.is_terminal
    assert not TaskStatus.SCHEDULED.is_terminal and not TaskStatus.WAITING.is_terminal
    waiting = ("scheduled", "waiting", "queued", "running")
    assert all(s.is_terminal for s in TaskStatus if s.value not in waiting)


def test_a_submit_request_defaults_to_normal_priority_and_empty_arguments():
    request = TaskSubmitRequest(name="t", function_name="noop")
    assert request.priority is Priority.NORMAL
    assert request.args == [] and request.kwargs == {} and request.metadata == {}


def test_priority_and_worker_type_names_are_case_insensitive():
    request = TaskSubmitRequest.model_validate(
        {"name": "t", "function_name": "noop", "priority": " high ", "worker_type": "io_intensive"}
    )
    assert request.priority is Priority.HIGH
    assert request.worker_type is WorkerType.IO_INTENSIVE


def test_unknown_fields_are_refused_rather_than_silently_dropped():
    with pytest.raises(ValidationError):
        TaskSubmitRequest.model_validate({"name": "t", "function_name": "noop", "priorty": "HIGH"})


def test_the_priority_error_lists_every_level_in_order():
    assert PRIORITY_ERROR.endswith(
        "EMERGENCY, CRITICAL, HIGH, NORMAL, LOW, BATCH, BACKGROUND, MAINTENANCE"
    )
