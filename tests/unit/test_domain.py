"""The task's domain module: one decoder per encoder, the priority read back from the one
field that stores it, the finished set, and no infrastructure imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vokaflow.domain import FINISHED, BatchStatus, Priority, TaskField, TaskStatus, WorkerType
from vokaflow.domain.priority import level_of_score, queue_score
from vokaflow.domain.task import NewTask, TaskSpec, record_priority


def _new_task(priority: Priority = Priority.NORMAL, data_scope: str = "") -> NewTask:
    return NewTask(
        task_id="t-1",
        name="report",
        function_name="noop",
        args=[1, "two"],
        kwargs={"three": 3.0},
        priority=priority,
        worker_type=WorkerType.IO_INTENSIVE,
        category="system",
        timeout_s=60,
        max_retries=2,
        metadata={"team": "a"},
        created_at=1_700_000_000.25,
        partition=7,
        owner="ann",
        data_scope=data_scope,
    )


@pytest.mark.parametrize("data_scope", ["", "users/ann"])
def test_the_spec_decodes_to_what_was_encoded(data_scope):
    task = _new_task(data_scope=data_scope)
    spec = TaskSpec.decode(task.spec())
    assert spec == TaskSpec(
        "t-1", "report", "noop", [1, "two"], {"three": 3.0}, "system", 60, 2,
        {"team": "a"}, 1_700_000_000.25, 7, "ann", data_scope,
    )  # fmt: skip
    assert TaskSpec.decode(spec.encode()) == spec


def test_a_new_record_stores_the_priority_once_and_reads_it_back():
    fields = _new_task(Priority.BATCH).to_fields()
    record = dict(zip(fields[::2], fields[1::2], strict=True))
    assert TaskField.LEGACY_PRIORITY not in record and TaskField.LEGACY_LEVEL not in record
    assert record[TaskField.STATUS] == TaskStatus.QUEUED
    assert record_priority(record) is Priority.BATCH


def test_a_promotion_that_rewrites_the_score_changes_the_priority_read():
    fields = _new_task(Priority.BATCH).to_fields()
    record = dict(zip(fields[::2], fields[1::2], strict=True))
    record[TaskField.SCORE] = repr(queue_score(Priority.LOW, 1_800_000_000.0))
    record[TaskField.LEGACY_PRIORITY] = "BATCH"  # as an older version left it: ignored
    assert record_priority(record) is Priority.LOW


@pytest.mark.parametrize("priority", list(Priority))
def test_every_priority_survives_its_queue_score(priority):
    score = queue_score(priority, 2_100_000_000.999)  # late in the score's range
    assert level_of_score(score) == priority.level
    assert Priority.from_score(score) is priority


def test_the_finished_set_is_every_status_but_queued_and_running():
    assert set(FINISHED) == set(TaskStatus) - {TaskStatus.QUEUED, TaskStatus.RUNNING}
    assert [s for s in TaskStatus if s.is_terminal] == list(FINISHED)


def test_statuses_format_as_their_value_where_keys_are_built():
    assert f"n_{TaskStatus.FAILED}" == "n_failed"
    assert str(BatchStatus.ABORTED) == "aborted"
    assert TaskStatus("timeout") is TaskStatus.TIMEOUT


def test_the_domain_imports_no_infrastructure_and_no_wire_models():
    code = (
        "import sys, vokaflow.domain, vokaflow.domain.task; "
        "print(sorted(m for m in ('redis', 'ray', 'fastapi', 'pydantic', 'vokaflow.api') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
