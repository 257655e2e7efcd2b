"""Delayed tasks without Redis: the submit fields' checks (run_at, delay_seconds, the horizon
and the past tolerance) and the task's due time, score and status in the domain."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from vokaflow.api.delays import due_time
from vokaflow.api.schemas.tasks import TaskSubmitRequest
from vokaflow.config import Settings
from vokaflow.domain import Priority, TaskStatus
from vokaflow.domain.priority import queue_score
from vokaflow.domain.task import ClaimedTask, TaskField, TaskSpec
from vokaflow.errors import ValidationFailed

NOW = 1_800_000_000.0
SETTINGS = Settings(max_delay_s=3600, run_at_past_tolerance_s=60)


def _request(**when: object) -> TaskSubmitRequest:
    return TaskSubmitRequest.model_validate({"name": "t", "function_name": "noop", **when})


def _iso(epoch_s: float, offset: str = "+00:00") -> str:
    naive = datetime.fromtimestamp(epoch_s, tz=timezone.utc).replace(tzinfo=None)
    return naive.isoformat() + offset


def _refused_field(request: TaskSubmitRequest, prefix: str = "") -> str:
    with pytest.raises(ValidationFailed) as refused:
        due_time(request, SETTINGS, NOW, prefix)
    assert refused.value.details is not None
    return str(refused.value.details["field"])


def test_neither_field_runs_it_now():
    assert due_time(_request(), SETTINGS, NOW) is None


def test_delay_seconds_counts_from_the_submit():
    assert due_time(_request(delay_seconds=30), SETTINGS, NOW) == NOW + 30
    assert due_time(_request(delay_seconds=0.25), SETTINGS, NOW) == NOW + 0.25
    assert due_time(_request(delay_seconds=0), SETTINGS, NOW) is None


def test_run_at_with_an_offset_is_that_moment():
    assert due_time(_request(run_at=_iso(NOW + 90)), SETTINGS, NOW) == NOW + 90
    # 10:00+02:00 is 08:00 UTC
    two_hours_east = _iso(NOW + 600 + 7200, "+02:00")
    assert due_time(_request(run_at=two_hours_east), SETTINGS, NOW) == NOW + 600
    assert due_time(_request(run_at=_iso(NOW + 5, "Z")), SETTINGS, NOW) == NOW + 5


def test_run_at_without_an_offset_is_utc_as_every_time_the_api_writes():
    assert due_time(_request(run_at=_iso(NOW + 90, "")), SETTINGS, NOW) == NOW + 90


def test_run_at_a_little_in_the_past_runs_now():
    assert due_time(_request(run_at=_iso(NOW - 59)), SETTINGS, NOW) is None


def test_run_at_further_in_the_past_is_refused_on_run_at():
    assert _refused_field(_request(run_at=_iso(NOW - 61))) == "run_at"


def test_beyond_the_horizon_is_refused_on_the_field_given():
    assert _refused_field(_request(run_at=_iso(NOW + 3601))) == "run_at"
    assert _refused_field(_request(delay_seconds=3601)) == "delay_seconds"
    assert due_time(_request(delay_seconds=3600), SETTINGS, NOW) == NOW + 3600


def test_both_fields_are_refused_on_delay_seconds_with_the_batch_prefix():
    both = _request(run_at=_iso(NOW + 60), delay_seconds=60)
    assert _refused_field(both, "tasks[3].") == "tasks[3].delay_seconds"


@pytest.mark.parametrize(
    ("when", "field"),
    [
        ({"delay_seconds": -1}, "delay_seconds"),
        ({"delay_seconds": True}, "delay_seconds"),
        ({"delay_seconds": "soon"}, "delay_seconds"),
        ({"run_at": 1_900_000_000}, "run_at"),  # epoch numbers are not ISO 8601
        ({"run_at": "tomorrow"}, "run_at"),
    ],
)
def test_malformed_values_fail_pydantic_on_their_field(when, field):
    with pytest.raises(ValidationError) as failed:
        _request(**when)
    assert failed.value.errors()[0]["loc"] == (field,)


def _task(run_at: float | None) -> TaskSpec:
    return TaskSpec(
        task_id="t", function_name="noop", priority=Priority.HIGH, created_at=NOW, run_at=run_at
    )


def test_a_delayed_task_is_scheduled_and_ordered_by_its_due_time():
    delayed = _task(NOW + 30)
    assert delayed.initial_status is TaskStatus.SCHEDULED
    assert delayed.score == queue_score(Priority.HIGH, NOW + 30)
    assert delayed.due_ms == int((NOW + 30) * 1000)
    fields = dict(zip(delayed.to_fields()[::2], delayed.to_fields()[1::2], strict=True))
    assert fields[TaskField.STATUS] == "scheduled"


def test_a_task_without_run_at_is_queued_and_its_record_has_no_run_at_key():
    now = _task(None)
    assert now.initial_status is TaskStatus.QUEUED and now.score == queue_score(Priority.HIGH, NOW)
    assert "run_at" not in now.spec_json()


def test_run_at_survives_the_record_and_sets_where_the_queue_wait_counts_from():
    delayed = _task(NOW + 30)
    record = {TaskField.SPEC: delayed.spec_json(), TaskField.ATTEMPTS: "1"}
    claimed = ClaimedTask.from_record(record)
    assert claimed.spec.run_at == NOW + 30
    assert claimed.queued_since == NOW + 30
