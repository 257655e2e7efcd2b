"""Spans recorded as plain records and exported in batches as OTLP/HTTP protobuf.

A task's queue wait, dispatch, run and settling are timed by the service itself, so they
need none of the SDK's machinery (span objects, processors, a context per span, a second
encoding pass): a record is a tuple and a span id, a fifth of the SDK's cost per span,
which is what lets tracing at 100% keep most of the throughput. The SDK still makes the
spans whose code nests others (a request, a webhook delivery, a user function's own)."""

from __future__ import annotations

import atexit
import functools
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, NamedTuple

log = logging.getLogger("vokaflow.tracing")

SAMPLED = 0x01
MAX_BUFFERED = 100_000  # a collector that stops answering costs at most this many records
EXPORT_BATCH = 5_000  # records per request, well under a collector's usual 4 MiB body cap


AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue]


class Parent(NamedTuple):
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits


class SpanRecord(NamedTuple):
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: Attributes
    error: str | None  # None: ok; a description (maybe empty): failed


# W3C trace context, version 00: lowercase hex only
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_NO_TRACE, _NO_SPAN = "0" * 32, "0" * 16


@functools.lru_cache(maxsize=4096)  # a batch's or a workflow's tasks share their request's
def parse_traceparent(traceparent: str | None) -> Parent | None:
    """The trace and span a W3C traceparent names, when it is well formed and sampled."""
    found = _TRACEPARENT.fullmatch(traceparent) if traceparent else None
    if found is None:
        return None
    version, trace_id, span_id, flags = found.groups()
    if version == "ff" or not int(flags, 16) & SAMPLED:
        return None
    if trace_id == _NO_TRACE or span_id == _NO_SPAN:
        return None
    return Parent(trace_id, span_id)


def new_span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


def traceparent(trace_id: str, span_id: str) -> str:
    return f"00-{trace_id}-{span_id}-01"


class SpanRecorder:
    """Records spans into a bounded buffer; a daemon thread exports them every ``delay_s``
    to ``endpoint`` (none: they stay for ``drain``, as in tests)."""

    def __init__(self, endpoint: str | None, service: str, delay_s: float = 1.0) -> None:
        self.endpoint = endpoint
        self.service = service
        self.delay_s = delay_s
        self.buffer: deque[SpanRecord] = deque()
        self.dropped = 0
        self._export_lock = threading.Lock()
        self._session: Any = None
        if endpoint:
            threading.Thread(target=self._run, name="vokaflow-spans", daemon=True).start()
            atexit.register(self.flush)

    def record(
        self,
        parent: Parent,
        name: str,
        start_s: float,
        end_s: float,
        attributes: Attributes,
        error: str | None = None,
        span_id: str | None = None,
    ) -> str:
        """Record a finished span under ``parent``; returns its own traceparent."""
        span_id = span_id or new_span_id()
        if len(self.buffer) >= MAX_BUFFERED:
            self.dropped += 1
        else:
            start_ns, end_ns = int(start_s * 1e9), int(end_s * 1e9)
            self.buffer.append(
                SpanRecord(
                    parent.trace_id,
                    span_id,
                    parent.span_id,
                    name,
                    start_ns,
                    end_ns,
                    attributes,
                    error,
                )
            )
        return traceparent(parent.trace_id, span_id)

    def drain(self) -> list[SpanRecord]:
        records: list[SpanRecord] = []
        while self.buffer:
            records.append(self.buffer.popleft())
        return records

    def flush(self) -> None:
        """Export what is buffered now (a process about to stop)."""
        with self._export_lock:
            self._export(self.drain())

    def _run(self) -> None:
        while True:
            time.sleep(self.delay_s)
            try:
                self.flush()
            except Exception:  # an exporter must never stop the service; the next try
                log.exception("exporting spans failed")

    def _export(self, records: list[SpanRecord]) -> None:
        if self.dropped:
            log.warning("%d spans dropped: the collector did not keep up", self.dropped)
            self.dropped = 0
        if not records or not self.endpoint:
            return
        import requests  # the OTLP exporter's own dependency

        from vokaflow.tracing.otlp import encode

        if self._session is None:
            self._session = requests.Session()
            self._session.headers["Content-Type"] = "application/x-protobuf"
        for start in range(0, len(records), EXPORT_BATCH):
            batch = records[start : start + EXPORT_BATCH]
            try:
                reply = self._session.post(
                    self.endpoint, data=encode(batch, self.service), timeout=5
                )
            except requests.RequestException as exc:
                log.warning("%d spans not exported: %s", len(records) - start, exc)
                return
            if reply.status_code >= 300:
                log.warning("the collector refused %d spans: %s", len(batch), reply.status_code)
