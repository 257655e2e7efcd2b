"""What tracing costs: batch throughput (20,000 no-op tasks until completed) with tracing
off, and on at 100% sampling exporting every span over OTLP/HTTP to a collector that this
script runs (it counts what arrives and keeps nothing), alternated on fresh stacks, ABBA.

    python -m benchmarks.tracing [--rounds 4] [--tasks 20000]

The issue's bar: on, at least 0.8x off. Every task is traced (the benchmark's submits carry
no traceparent; the gateway starts a sampled trace for each batch request), so each task
adds a dispatch (with its queue wait), a run and a settle span.
"""

from __future__ import annotations

import argparse
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks.common import print_table, write_result
from benchmarks.compare_code import ROOT, run_order, started_stack
from benchmarks.throughput import measure_vokaflow
from vokaflow.testing.stack import free_port


class SpanSink:
    """An OTLP/HTTP endpoint that answers 200 and counts bytes received."""

    def __init__(self) -> None:
        self.received_bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.received_bytes += len(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def measure(settings: dict[str, str], tasks: int) -> float:
    stack = started_stack(ROOT, settings=settings)
    try:
        return float(measure_vokaflow(stack, tasks, batch_size=1000)["tasks_per_s"])
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4, help="an even number")
    parser.add_argument("--tasks", type=int, default=20_000)
    args = parser.parse_args()
    sink = SpanSink()
    variants = {
        "off": {},
        "on, 100%": {"VOKAFLOW_OTLP_ENDPOINT": sink.url, "VOKAFLOW_TRACE_SAMPLE_RATIO": "1"},
    }
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for round_number in range(args.rounds):
        for name in run_order(round_number, list(variants)):
            runs[name].append(measure(variants[name], args.tasks))
            print(f"round {round_number + 1} {name}: {runs[name][-1]:.0f} tasks/s", flush=True)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    ratio = medians["on, 100%"] / medians["off"]
    print_table(
        f"Tracing's cost, medians of {args.rounds} alternated rounds (ratio on/off {ratio:.2f})",
        ["tracing", "batch tasks/s", "rounds"],
        [(name, medians[name], ", ".join(f"{v:.0f}" for v in runs[name])) for name in variants],
    )
    print(f"spans received: {sink.received_bytes / 1e6:.1f} MB of OTLP", flush=True)
    write_result("tracing", {"runs": runs, "medians": medians, "ratio": ratio})


if __name__ == "__main__":
    main()
