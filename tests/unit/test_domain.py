"""The task's domain module: one decoder per encoder, the priority read back from the one
field that stores it, the finished set, and no infrastructure imported."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import FrozenInstanceError, fields, replace

import pytest

from vokaflow.domain import FINISHED, BatchStatus, Priority, TaskField, TaskStatus, WorkerType
from vokaflow.domain.priority import level_of_score, queue_score
from vokaflow.domain.task import ClaimedTask, TaskSpec


def _new_task(
    priority: Priority = Priority.NORMAL, data_scope: str = "", batch_id: str = ""
) -> TaskSpec:
    return TaskSpec(
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
        batch_id=batch_id,
    )


@pytest.mark.parametrize("data_scope", ["", "users/ann"])
@pytest.mark.parametrize("batch_id", ["", "batch_1"])
def test_a_task_reads_back_from_its_record_as_it_was_written(data_scope, batch_id):
    task = _new_task(data_scope=data_scope, batch_id=batch_id)
    flat = task.to_fields()
    record = dict(zip(flat[::2], flat[1::2], strict=True))
    assert TaskSpec.from_record(record) == task
    assert TaskSpec.decode(record[TaskField.SPEC]).function_name == "noop"


def test_a_task_with_every_optional_field_reads_back_whole():
    """The decoders build their instances without the dataclass's __init__ (a claim decodes
    thousands a second), so a field they forget would be missing, not defaulted."""
    task = replace(
        _new_task(data_scope="users/ann", batch_id="batch_1"),
        run_at=1_700_000_100.5,
        concurrency_key="db",
        max_concurrency=3,
        depends_on={"p-1": "left", "p-2": "right"},
        trigger_rule="all_done",
        pass_results_as="parents",
        workflow_id="wf-1",
        trace_parent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    flat = task.to_fields()
    record = dict(zip(flat[::2], flat[1::2], strict=True)) | {TaskField.ATTEMPTS: "1"}
    decoded, claimed = TaskSpec.from_record(record), ClaimedTask.from_record(record)
    assert decoded == task
    assert set(vars(decoded)) == {f.name for f in fields(TaskSpec)}
    assert set(vars(claimed)) == {f.name for f in fields(ClaimedTask)}
    with pytest.raises(FrozenInstanceError):
        decoded.name = "changed"  # type: ignore[misc]


def test_a_claimed_task_is_its_record_s_task_and_dispatch_state():
    flat = _new_task(priority=Priority.HIGH).to_fields()
    record = dict(zip(flat[::2], flat[1::2], strict=True))
    record |= {TaskField.ATTEMPTS: "2", TaskField.SOLO: "1", TaskField.REQUEUED_AT: "1500"}
    claimed = ClaimedTask.from_record(record)
    assert claimed.spec == _new_task(priority=Priority.HIGH)
    assert (claimed.attempt, claimed.solo, claimed.system_retries) == (2, True, 0)
    assert claimed.queued_since == 1.5


def test_a_new_record_stores_the_priority_once_and_reads_it_back():
    fields = _new_task(Priority.BATCH).to_fields()
    record = dict(zip(fields[::2], fields[1::2], strict=True))
    assert TaskField.LEGACY_PRIORITY not in record and TaskField.LEGACY_LEVEL not in record
    assert record[TaskField.STATUS] == TaskStatus.QUEUED
    assert TaskSpec.from_record(record).priority is Priority.BATCH


def test_a_promotion_that_rewrites_the_score_changes_the_priority_read():
    fields = _new_task(Priority.BATCH).to_fields()
    record = dict(zip(fields[::2], fields[1::2], strict=True))
    record[TaskField.SCORE] = repr(queue_score(Priority.LOW, 1_800_000_000.0))
    record[TaskField.LEGACY_PRIORITY] = "BATCH"  # as an older version left it: ignored
    assert TaskSpec.from_record(record).priority is Priority.LOW


@pytest.mark.parametrize("priority", list(Priority))
def test_every_priority_survives_its_queue_score(priority):
    score = queue_score(priority, 2_100_000_000.999)  # late in the score's range
    assert level_of_score(score) == priority.level
    assert Priority.from_score(score) is priority


def test_the_finished_set_is_every_status_but_scheduled_waiting_queued_and_running():
    waiting = {TaskStatus.SCHEDULED, TaskStatus.WAITING, TaskStatus.QUEUED, TaskStatus.RUNNING}
    assert set(FINISHED) == set(TaskStatus) - waiting
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
