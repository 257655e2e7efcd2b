"""Traces of a task's stages: parents from W3C traceparents, the scheduler's queue-wait,
dispatch and settle spans, and nothing at all while tracing is off."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vokaflow import tracing
from vokaflow.domain import TaskStatus
from vokaflow.domain.task import ClaimedTask, Outcome, TaskSpec
from vokaflow.scheduler import traces

EXPORTED = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def provider() -> None:
    """This process's provider, once (OpenTelemetry takes one per process)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        sdk = TracerProvider()
        sdk.add_span_processor(SimpleSpanProcessor(EXPORTED))
        trace.set_tracer_provider(sdk)


@pytest.fixture
def tracing_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    monkeypatch.setitem(tracing._configured, "tests", True)
    EXPORTED.clear()
    yield EXPORTED


def _claimed(trace_parent: str, attempt: int = 1) -> ClaimedTask:
    spec = TaskSpec(
        task_id="t-1", function_name="noop", created_at=time.time() - 2, trace_parent=trace_parent
    )
    return ClaimedTask(spec=spec, attempt=attempt)


def test_a_malformed_traceparent_starts_no_trace_of_its_own():
    for sent in ("", "nonsense", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"):
        assert tracing.parent_context(sent) is None


def test_a_request_span_continues_the_caller_s_trace(tracing_on):
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with tracing.request_span(caller, "submit") as parent:
        assert parent.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    (span,) = tracing_on.get_finished_spans()
    assert span.parent is not None and format(span.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert span.kind == trace.SpanKind.SERVER


def test_dispatch_records_the_queue_wait_and_hands_the_worker_its_own_parent(tracing_on):
    with tracing.request_span(None, "submit") as submit:
        pass
    (task,) = traces.dispatched([_claimed(submit)], time.time())
    spans = {s.name: s for s in tracing_on.get_finished_spans()}
    submit_id = spans["submit"].context.span_id
    assert spans["queue wait"].parent.span_id == submit_id
    assert spans["queue wait"].attributes["vokaflow.queue_wait_s"] >= 2
    assert spans["dispatch"].parent.span_id == submit_id
    assert task.spec.trace_parent.split("-")[2] == format(spans["dispatch"].context.span_id, "016x")


def test_a_retry_is_dispatched_without_a_second_queue_wait(tracing_on):
    with tracing.request_span(None, "submit") as submit:
        pass
    traces.dispatched([_claimed(submit, attempt=2)], time.time())
    assert [s.name for s in tracing_on.get_finished_spans()] == ["submit", "dispatch"]


def test_settling_is_a_span_under_the_dispatch_marked_by_its_outcome(tracing_on):
    with tracing.request_span(None, "submit") as submit:
        pass
    (task,) = traces.dispatched([_claimed(submit)], time.time())
    failed = Outcome(task.task_id, 1, TaskStatus.FAILED, time.time(), time.time())
    with traces.settling([task], [failed]):
        pass
    spans = {s.name: s for s in tracing_on.get_finished_spans()}
    assert spans["settle"].parent.span_id == spans["dispatch"].context.span_id
    assert spans["settle"].attributes["vokaflow.status"] == "failed"
    assert not spans["settle"].status.is_ok


def test_off_nothing_is_recorded_and_tasks_pass_through_untouched():
    EXPORTED.clear()
    claimed = [_claimed("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    assert traces.dispatched(claimed, time.time()) is claimed
    with tracing.request_span("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "x") as p:
        assert p == ""
    assert EXPORTED.get_finished_spans() == ()


def test_an_unsampled_span_hands_on_no_traceparent(tracing_on):
    unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
    with tracing.request_span(unsampled, "submit") as parent:
        assert parent == ""
