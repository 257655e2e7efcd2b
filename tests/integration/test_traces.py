"""One task's OpenTelemetry trace, as an OTLP/HTTP collector receives it: the submit under
the caller's traceparent, each attempt's dispatch, run (the first with its queue wait) and
settling, a webhook delivery and a span the task's own function opened, in one trace with
the right parents. The stack samples nothing of its own (tests/conftest.py): only these
submits, whose traceparent is sampled, are traced."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import OTLP_PORT
from tests.integration.helpers import user_client, wait_until

ARTIFACTS = Path(
    os.environ.get("VOKAFLOW_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)


class Collector:
    """Spans by trace id, decoded from the OTLP/HTTP protobuf exports it is sent; and, on
    another path, webhook deliveries answered 200."""

    def __init__(self, port: int) -> None:
        self.spans: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.hooks = 0
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/v1/traces":
                    collector.take(body)
                else:
                    with collector.lock:
                        collector.hooks += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    with self.lock:
                        self.spans[span.trace_id.hex()].append(
                            {
                                "name": span.name,
                                "id": span.span_id.hex(),
                                "parent": span.parent_span_id.hex(),
                                "service": attributes.get("service.name", ""),
                                "start": span.start_time_unix_nano,
                                "end": span.end_time_unix_nano,
                                "error": span.status.code == 2,
                                "attributes": {
                                    a.key: a.value.string_value
                                    or a.value.int_value
                                    or a.value.double_value
                                    for a in span.attributes
                                },
                            }
                        )

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.spans[trace_id])


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    server = Collector(OTLP_PORT)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def wait_for_spans(
    collector: Collector, trace_id: str, wanted: dict[str, int]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        spans = collector.trace(trace_id)
        counts = defaultdict(int)
        for span in spans:
            counts[span["name"]] += 1
        if all(counts[name] >= n for name, n in wanted.items()):
            return spans
        assert time.monotonic() < deadline, f"spans so far: {dict(counts)}"
        time.sleep(0.3)


def _ancestors(spans: list[dict[str, Any]], span: dict[str, Any]) -> list[dict[str, Any]]:
    """``span`` and its parents within the trace, up to the one whose parent is outside."""
    by_id = {s["id"]: s for s in spans}
    chain = [span]
    while chain[-1]["parent"] in by_id:
        chain.append(by_id[chain[-1]["parent"]])
    return chain


def tree(spans: list[dict[str, Any]], root_parent: str) -> str:
    """The trace drawn as an indented tree, children by start time."""
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        children[span["parent"]].append(span)
    lines: list[str] = []

    def walk(parent: str, depth: int, origin: int) -> None:
        for span in sorted(children[parent], key=lambda s: s["start"]):
            at = (span["start"] - origin) / 1e6
            took = (span["end"] - span["start"]) / 1e6
            mark = " ERROR" if span["error"] else ""
            where = f"[{span['service']}] +{at:.1f} ms, {took:.1f} ms{mark}"
            lines.append(f"{'  ' * depth}{span['name']} {where}")
            walk(span["id"], depth + 1, origin)

    origin = min(span["start"] for span in spans)
    walk(root_parent, 0, origin)
    return "\n".join(lines)


def test_a_retried_task_s_trace_holds_every_stage_with_its_parents(stack, collector):
    caller, trace_id, caller_span = traceparent()
    with user_client(stack, f"tracer-{secrets.token_hex(3)}") as client:
        hook = client.post(
            "/api/webhooks/configure",
            json={
                "url": f"http://127.0.0.1:{OTLP_PORT}/hook",
                "events": ["task.failed"],
                "secret": "trace-test-secret",
            },
        )
        assert hook.status_code == 201, hook.text
        time.sleep(1.2)  # emitters read the webhook owners at least this often
        reply = client.post(
            "/api/high-scale-tasks/submit",
            json={"name": "traced", "function_name": "raise_error", "retry_count": 1},
            headers={"traceparent": caller},
        )
        assert reply.status_code == 200, reply.text
        wait_until(client, reply.json()["task_id"], {"failed"})
    wanted = {
        "submit": 1,
        "dispatch": 2,
        "execute raise_error": 2,
        "settle": 2,
        "webhook delivery": 1,
    }
    spans = wait_for_spans(collector, trace_id, wanted)
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        by_name[span["name"]].append(span)
    (submitted,) = by_name["submit"]
    assert submitted["service"] == "vokaflow-gateway"
    assert _ancestors(spans, submitted)[-1]["parent"] == caller_span, "the caller's trace goes on"
    dispatches = {s["id"] for s in by_name["dispatch"]}
    assert all(
        s["parent"] == submitted["id"] and s["service"] == "vokaflow-scheduler"
        for s in by_name["dispatch"]
    )
    runs = by_name["execute raise_error"]
    assert {s["parent"] for s in runs} == dispatches, "each attempt runs under its own dispatch"
    assert all(s["service"] == "vokaflow-worker" and s["error"] for s in runs)
    assert sorted(s["attributes"]["vokaflow.attempt"] for s in runs) == [1, 2]
    waits = {
        s["attributes"]["vokaflow.attempt"]: s["attributes"].get("vokaflow.queue_wait_s")
        for s in runs
    }
    assert waits[1] is not None and waits[1] >= 0 and waits[2] is None, "the first run's queue wait"
    assert {s["parent"] for s in by_name["settle"]} == dispatches
    (delivery,) = by_name["webhook delivery"]
    assert delivery["parent"] == submitted["id"] and delivery["service"] == "vokaflow-webhooks"
    drawn = tree(spans, caller_span)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "trace-of-a-retried-task.txt").write_text(drawn + "\n")
    print(drawn)


def test_a_function_s_own_span_nests_under_its_run(stack, api, collector):
    caller, trace_id, _ = traceparent()
    reply = api.post(
        "/api/high-scale-tasks/submit",
        json={"name": "traced step", "function_name": "traced_step", "kwargs": {"name": "my step"}},
        headers={"traceparent": caller},
    )
    done = wait_until(api, reply.json()["task_id"])
    assert done["result"] == {"trace_id": trace_id, "recorded": True}
    spans = wait_for_spans(collector, trace_id, {"execute traced_step": 1, "my step": 1})
    (run,) = [s for s in spans if s["name"] == "execute traced_step"]
    (own,) = [s for s in spans if s["name"] == "my step"]
    assert own["parent"] == run["id"]


def test_an_unsampled_caller_or_none_leaves_the_task_untraced(api):
    for headers in ({}, {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"}):
        reply = api.post(
            "/api/high-scale-tasks/submit",
            json={"name": "plain", "function_name": "traced_step"},
            headers=headers,
        )
        assert wait_until(api, reply.json()["task_id"])["result"]["recorded"] is False
