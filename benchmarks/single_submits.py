"""Sustained single submits, every task run to completion: wrk sends single no-op submits on
16 connections for a fixed time, then the benchmark waits until every task the gateway
accepted has completed. The rate is the accepted tasks over the time from the first
submit until the last of them finished, so a scheduler that falls behind the gateway
pays for its backlog. Used by compare_code; on its own:

    python -m benchmarks.single_submits [--seconds 8] [--connections 16]

Accepted and completed tasks are counted by the service (the `system` category's counts,
GET /api/metrics/category/system), not by the client.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx

from benchmarks.common import bench_stack, write_result
from benchmarks.http_load import pick_client, run_load
from benchmarks.submit_latency import SUBMIT_BODY
from vokaflow.testing.stack import LocalStack

CATEGORY_URL = "/api/metrics/category/system"
POLL_S = 0.02


def _counts(http: httpx.Client) -> tuple[int, int]:
    """(accepted, ended) tasks of the drills' category since the service began."""
    reply = http.get(CATEGORY_URL)
    reply.raise_for_status()
    tasks = reply.json()["tasks"]
    ended = tasks["completed"] + tasks["failed"] + tasks["timeout"] + tasks["cancelled"]
    return tasks["submitted"], ended


def _wait_all_ended(http: httpx.Client, timeout_s: float) -> int:
    """Waits until every accepted task has ended; returns how many were accepted."""
    deadline = time.monotonic() + timeout_s
    while True:
        accepted, ended = _counts(http)
        if ended >= accepted:
            return accepted
        if time.monotonic() > deadline:
            raise TimeoutError(f"{accepted - ended} accepted tasks never ended")
        time.sleep(POLL_S)


def measure_single_submits(
    stack: LocalStack, client: str, seconds: float, connections: int, *, warm_up: bool = True
) -> dict[str, Any]:
    """Sustained single submits on a warm stack: tasks/s completed, and the submit latency.
    ``warm_up``: first 2 s on 4 connections, off the clock."""
    url = f"{stack.base_url}/api/high-scale-tasks/submit"
    headers = {"X-API-Key": stack.admin_key}
    with stack.client() as http:
        if warm_up:
            run_load(client, url, headers, SUBMIT_BODY, 4, 2)
        accepted_before = _wait_all_ended(http, 120)
        began = time.perf_counter()
        load = run_load(client, url, headers, SUBMIT_BODY, connections, seconds)
        load_ended = time.perf_counter()
        accepted = _wait_all_ended(http, 600)
        finished = time.perf_counter()
    completed = accepted - accepted_before
    return {
        "single_tasks_per_s": completed / (finished - began),
        "single_tasks": completed,
        "drain_after_load_s": finished - load_ended,
        "submits_per_s": load["requests_per_s"],
        "submit_p50_ms": load["p50_ms"],
        "submit_p99_ms": load["p99_ms"],
        "submit_errors": load["errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    args = parser.parse_args()
    client = pick_client(args.client)
    with bench_stack() as stack:
        result = measure_single_submits(stack, client, args.seconds, args.connections)
    print(result)
    write_result("single_submits", result)


if __name__ == "__main__":
    main()
