"""Traces of a task's stages: parents from W3C traceparents, the scheduler's dispatch (with
the queue wait) and settle records, a run's recorded span that nests the function's own, their
OTLP encoding, and nothing at all while tracing is off."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vokaflow import tracing
from vokaflow.domain import TaskStatus
from vokaflow.domain.task import ClaimedTask, Outcome, TaskSpec
from vokaflow.scheduler import traces
from vokaflow.tracing import records
from vokaflow.tracing.otlp import encode
from vokaflow.tracing.records import SpanRecord, SpanRecorder, parse_traceparent

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
    monkeypatch.setitem(tracing._configured, "tests", SpanRecorder(None, "tests"))
    EXPORTED.clear()
    yield EXPORTED


def _records() -> dict[str, SpanRecord]:
    """What the scheduler and workers recorded, by span name."""
    return {r.name: r for r in tracing._configured["tests"].drain()}


def _claimed(trace_parent: str, attempt: int = 1, task_id: str = "t-1") -> ClaimedTask:
    spec = TaskSpec(
        task_id=task_id, function_name="noop", created_at=time.time() - 2, trace_parent=trace_parent
    )
    return ClaimedTask(spec=spec, attempt=attempt)


def _submitted() -> str:
    with tracing.request_span(None, "submit") as submit:
        pass
    return submit


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


def test_a_dispatch_is_a_span_under_its_submit_that_hands_the_worker_its_own_parent(tracing_on):
    submit = _submitted()
    (task,) = traces.dispatched([_claimed(submit)], time.time())
    (submitted,) = tracing_on.get_finished_spans()
    (dispatch,) = _records().values()
    trace_id = format(submitted.context.trace_id, "032x")
    assert (dispatch.name, dispatch.trace_id) == ("dispatch", trace_id)
    assert dispatch.parent_id == format(submitted.context.span_id, "016x")
    assert dispatch.attributes["vokaflow.task_id"] == "t-1"
    assert task.run_trace_parent == f"00-{trace_id}-{dispatch.span_id}-01"


def test_a_round_s_tasks_of_one_trace_share_one_dispatch_and_each_trace_has_its_own(tracing_on):
    batch, single = _submitted(), _submitted()
    claimed = [_claimed(batch, task_id=f"b-{i}") for i in range(3)] + [_claimed(single)]
    claimed.insert(1, _claimed("", task_id="untraced"))
    handed = traces.dispatched(claimed, time.time())
    dispatches = tracing._configured["tests"].drain()
    assert sorted(d.attributes["vokaflow.task_count"] for d in dispatches) == [1, 3]
    assert [t.task_id for t in handed] == [t.task_id for t in claimed]  # order kept
    parents = {t.task_id: t.run_trace_parent for t in handed}
    assert parents["untraced"] == ""
    assert parents["b-0"] == parents["b-1"] == parents["b-2"] != parents["t-1"]
    by_trace = {d.trace_id: d for d in dispatches}
    for task in handed[:1] + handed[2:]:
        parent = parse_traceparent(task.run_trace_parent)
        assert parent is not None and by_trace[parent.trace_id].span_id == parent.span_id


def test_settling_is_one_span_per_dispatch_under_it_failed_when_one_task_failed(tracing_on):
    batch, single = _submitted(), _submitted()
    handed = traces.dispatched(
        [_claimed(batch, task_id="b-0"), _claimed(batch, task_id="b-1"), _claimed(single)],
        time.time(),
    )
    dispatches = {d.trace_id: d for d in tracing._configured["tests"].drain()}
    statuses = [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.COMPLETED]
    outcomes = [
        Outcome(t.task_id, 1, s, time.time(), time.time())
        for t, s in zip(handed, statuses, strict=True)
    ]
    with traces.settling(handed, outcomes):
        pass
    settles = {s.trace_id: s for s in tracing._configured["tests"].drain()}
    assert {s.name for s in settles.values()} == {"settle"}
    for trace_id, settle in settles.items():
        assert settle.parent_id == dispatches[trace_id].span_id
    batch_trace = parse_traceparent(batch)
    single_trace = parse_traceparent(single)
    assert batch_trace is not None and single_trace is not None
    batch_settle, single_settle = settles[batch_trace.trace_id], settles[single_trace.trace_id]
    assert batch_settle.attributes == {"vokaflow.task_count": 2, "vokaflow.failed_count": 1}
    assert batch_settle.error is not None
    assert single_settle.attributes["vokaflow.status"] == "completed"
    assert single_settle.error is None


def test_a_recorded_run_is_current_so_a_function_s_own_span_nests_under_it(tracing_on):
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with (
        pytest.raises(ValueError),
        tracing.recorded_span(parent, "execute f", {"vokaflow.attempt": 1}),
    ):
        with tracing.tracer().start_as_current_span("own work"):
            pass
        raise ValueError("boom")
    run = _records()["execute f"]
    (own,) = tracing_on.get_finished_spans()
    assert (run.trace_id, run.parent_id) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert format(own.parent.span_id, "016x") == run.span_id
    assert format(own.context.trace_id, "032x") == run.trace_id
    assert run.error == "ValueError" and run.end_ns >= run.start_ns


def test_an_unsampled_or_malformed_parent_records_nothing(tracing_on):
    for parent in (
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        "nonsense",
    ):
        assert tracing.record_span(parent, "dispatch", 1.0, 2.0, {}) == ""
        with tracing.recorded_span(parent, "execute f", {}):
            pass
    assert _records() == {}


def test_records_encode_as_the_otlp_a_collector_decodes():
    recorder = SpanRecorder(None, "vokaflow-scheduler")
    parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert parent is not None
    attributes = {"vokaflow.task_id": "t-1", "vokaflow.attempt": 2, "vokaflow.wait_s": 0.5}
    recorder.record(parent, "settle", 1.0, 1.25, attributes, error="failed")
    request = ExportTraceServiceRequest.FromString(encode(recorder.drain(), "vokaflow-scheduler"))
    (resource_spans,) = request.resource_spans
    assert resource_spans.resource.attributes[0].value.string_value == "vokaflow-scheduler"
    (span,) = resource_spans.scope_spans[0].spans
    assert span.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent_span_id.hex() == "00f067aa0ba902b7"
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (1_000_000_000, 1_250_000_000)
    assert {a.key: a.value for a in span.attributes}["vokaflow.attempt"].int_value == 2
    assert span.status.code == span.status.STATUS_CODE_ERROR


def test_the_encoding_is_the_message_opentelemetry_proto_builds():
    attributes = {
        "s": "ünïcode " * 20,
        "neg": -7,
        "big": 2**62,
        "yes": True,
        "no": False,
        "x": 1.5,
    }
    record = SpanRecord(
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "0a0b0c0d0e0f1011",
        "execute ünïcode", 1, 2**63, attributes, "TimeoutError",
    )  # fmt: skip
    ok = record._replace(error=None, attributes={})
    decoded = ExportTraceServiceRequest.FromString(encode([record, ok], "svc"))
    built = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_kv("service.name", "svc")]),
                scope_spans=[
                    ScopeSpans(
                        scope=InstrumentationScope(name="vokaflow"),
                        spans=[_built(record), _built(ok)],
                    )
                ],
            )
        ]
    )
    assert decoded == built


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _built(record: SpanRecord) -> Span:
    span = Span(
        trace_id=bytes.fromhex(record.trace_id),
        span_id=bytes.fromhex(record.span_id),
        parent_span_id=bytes.fromhex(record.parent_id),
        name=record.name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=record.start_ns,
        end_time_unix_nano=record.end_ns,
        attributes=[_kv(k, v) for k, v in record.attributes.items()],
    )
    if record.error is not None:
        span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message=record.error))
    return span


def test_a_full_buffer_drops_and_counts_rather_than_grow(monkeypatch):
    monkeypatch.setattr(records, "MAX_BUFFERED", 3)
    recorder = SpanRecorder(None, "tests")
    parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert parent is not None
    for _ in range(5):
        recorder.record(parent, "dispatch", 1.0, 2.0, {})
    assert (len(recorder.drain()), recorder.dropped) == (3, 2)


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
