"""OpenTelemetry traces of a task's way through the service: the submit, its queue wait,
its dispatch, its run in a worker, its settling, its webhook deliveries and Vicky requests.

Off unless VOKAFLOW_OTLP_ENDPOINT is set. Off, no tracer provider is installed and every
call site asks ``enabled()`` first, so the hot paths do no tracing work at all. On, each
process (gateway replica, scheduler, worker, webhook dispatcher) installs one provider that
exports in batches over OTLP/HTTP, for the spans whose code nests others, and one span
recorder (records.py) for the stages the service times itself: a task's queue wait,
dispatch, run and settling. A trace's sampling is decided once, where it starts
(``VOKAFLOW_TRACE_SAMPLE_RATIO``), and followed downstream through the W3C ``traceparent``
a task carries in its spec."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from vokaflow.config import Settings
from vokaflow.tracing.records import (
    Attributes,
    SpanRecorder,
    new_span_id,
    parse_traceparent,
)

log = logging.getLogger("vokaflow.tracing")

TRACER = "vokaflow"
EXPORT_DELAY_MS = 1000  # a finished span is on its way within about this long
_PROPAGATOR = TraceContextTextMapPropagator()
_configured: dict[str, SpanRecorder] = {}  # process-wide: one provider per process


def configure(settings: Settings, service: str) -> bool:
    """Install this process's tracer provider when the settings ask for traces; True when
    tracing is on. Once per process: a second call (another replica's services in the same
    process, a test) keeps the first provider."""
    if not settings.otlp_endpoint:
        return False
    if _configured:
        return True
    # imported here: a service that traces nothing never loads the exporter's stack
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
    )
    exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, timeout=5)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=EXPORT_DELAY_MS))
    trace.set_tracer_provider(provider)
    _configured[service] = SpanRecorder(settings.otlp_endpoint, service, EXPORT_DELAY_MS / 1000)
    log.info("tracing on: %s exports to %s", service, settings.otlp_endpoint)
    return True


def enabled() -> bool:
    return bool(_configured)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER)


def parent_context(traceparent: str | None) -> otel_context.Context | None:
    """The context a W3C traceparent names; None for none or a malformed one (a new trace
    starts instead)."""
    if not traceparent:
        return None
    extracted = _PROPAGATOR.extract({"traceparent": traceparent})
    span = trace.get_current_span(extracted)
    return extracted if span.get_span_context().is_valid else None


def traceparent_of(span: Span) -> str:
    """The W3C traceparent that makes later spans children of ``span``; "" when it is not
    sampled (nothing downstream is recorded either)."""
    if not span.get_span_context().trace_flags.sampled:
        return ""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent", "")


@contextmanager
def span_under(
    traceparent: str | None,
    name: str,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    start_time_s: float | None = None,
) -> Iterator[Span]:
    """A span, current while the block runs, child of ``traceparent`` (a root without
    one). An exception marks it failed and goes on."""
    start = None if start_time_s is None else int(start_time_s * 1e9)
    span = tracer().start_span(
        name,
        context=parent_context(traceparent),
        kind=kind,
        attributes=dict(attributes or {}),
        start_time=start,
    )
    with trace.use_span(
        span, end_on_exit=True, record_exception=True, set_status_on_exception=True
    ):
        yield span


@contextmanager
def request_span(
    traceparent: str | None, name: str, attributes: Mapping[str, Any] | None = None
) -> Iterator[str]:
    """The span of a request that starts tasks, yielding the traceparent those tasks carry;
    "" (and no work) when tracing is off."""
    if not enabled():
        yield ""
        return
    if trace.get_current_span().get_span_context().is_valid:
        # an HTTP server span is current (Serve instruments its FastAPI apps): nest in it,
        # as it already continues the caller's traceparent
        with span_under(None, name, SpanKind.INTERNAL, attributes) as span:
            yield traceparent_of(span)
        return
    with span_under(traceparent, name, SpanKind.SERVER, attributes) as span:
        yield traceparent_of(span)


@contextmanager
def maybe_span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[None]:
    """A span under whatever span is current (a task's run, a request's), when tracing is
    on; nothing at all when it is off."""
    if not enabled():
        yield
        return
    with span_under(None, name, SpanKind.CLIENT, attributes):
        yield


def _recorder() -> SpanRecorder:
    return next(iter(_configured.values()))


def record_span(
    traceparent: str,
    name: str,
    start_s: float,
    end_s: float,
    attributes: Attributes,
    failed: bool = False,
) -> str:
    """A span of something that already happened (a queue wait) under ``traceparent``;
    returns its traceparent, or "" (recording nothing) when the parent is not sampled."""
    parent = parse_traceparent(traceparent)
    if parent is None:
        return ""
    return _recorder().record(parent, name, start_s, end_s, attributes, "" if failed else None)


class RecordedSpan:
    """What a block under ``recorded_span`` adds to its span."""

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = dict(attributes)
        self.error: str | None = None

    def fail(self, description: str) -> None:
        self.error = description


@contextmanager
def recorded_span(traceparent: str, name: str, attributes: Attributes) -> Iterator[RecordedSpan]:
    """A span of the block, current while it runs (the OpenTelemetry API nests spans
    opened inside it), recorded without an SDK span; nothing when the parent is not
    sampled. An exception marks it failed and goes on."""
    parent = parse_traceparent(traceparent)
    span = RecordedSpan(attributes)
    if parent is None:
        yield span
        return
    span_id = new_span_id()
    context = SpanContext(
        int(parent.trace_id, 16), int(span_id, 16), False, TraceFlags(TraceFlags.SAMPLED)
    )
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(context)))
    started = time.time()
    try:
        yield span
    except BaseException as exc:
        span.fail(type(exc).__name__)
        raise
    finally:
        otel_context.detach(token)
        _recorder().record(parent, name, started, time.time(), span.attributes, span.error, span_id)


def flush(timeout_ms: int = 5000) -> None:
    """Export what is buffered now (a process about to stop)."""
    provider: Any = trace.get_tracer_provider()
    if enabled() and hasattr(provider, "force_flush"):
        provider.force_flush(timeout_ms)
    for recorder in _configured.values():
        recorder.flush()
