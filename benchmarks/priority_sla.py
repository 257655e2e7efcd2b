"""Priority SLAs under a BATCH backlog: keep >= 50,000 BATCH tasks queued with every worker
busy, inject EMERGENCY, CRITICAL and HIGH tasks at a steady rate, and report each
priority's wait from submit to start against its SLA, how fast BATCH keeps draining, and
how far each submit answer's `estimated_start` was from the task's real start (the error:
real minus estimated, so a positive one started later than said).

    python -m benchmarks.priority_sla [--backlog 50000] [--seconds 30] [--rate 5]
                                      [--baseline COMMIT --rounds 2]

With --baseline it runs that commit's code too, alternated ABBA on fresh stacks as in
compare_code, and reports each round and the medians of both.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentile, print_table
from benchmarks.compare_code import add_baseline_arguments, started_stack, this_or_alternated
from vokaflow.domain import Priority
from vokaflow.testing.stack import LocalStack

URGENT = (Priority.EMERGENCY, Priority.CRITICAL, Priority.HIGH)
POOL = "GENERAL_PURPOSE"


async def fill_backlog(client: httpx.AsyncClient, n: int, task_s: float) -> list[str]:
    task = {
        "name": "backlog",
        "function_name": "sleep",
        "args": [task_s],
        "priority": "BATCH",
        "worker_type": POOL,
    }
    batch_ids = []
    for start in range(0, n, 1000):
        size = min(1000, n - start)
        reply = await client.post("/api/high-scale-tasks/batch", json={"tasks": [task] * size})
        reply.raise_for_status()
        batch_ids.append(reply.json()["batch_id"])
    return batch_ids


async def inject(
    client: httpx.AsyncClient, priority: Priority, rate: float, seconds: float
) -> list[tuple[str, str | None]]:
    """(task id, its estimated_start) of each probe."""
    ids: list[tuple[str, str | None]] = []
    body = {
        "name": f"probe-{priority.value}",
        "function_name": "noop",
        "priority": priority.value,
        "worker_type": POOL,
    }
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        reply = await client.post("/api/high-scale-tasks/submit", json=body)
        reply.raise_for_status()
        # code from before estimated_start existed answers without one
        ids.append((reply.json()["task_id"], reply.json().get("estimated_start")))
    return ids


async def batch_completed(client: httpx.AsyncClient, batch_ids: list[str]) -> int:
    total = 0
    for batch_id in batch_ids:
        total += (await client.get(f"/api/high-scale-tasks/batch/{batch_id}")).json()["completed"]
    return total


def _utc(text: str) -> datetime:
    """The API's times are UTC, some written without an offset."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def waits_of(
    client: httpx.AsyncClient, probes: list[tuple[str, str | None]]
) -> tuple[list[float], list[float]]:
    """Each probe's wait from submit to start, and its start's error against the estimate."""
    waits, errors = [], []
    for task_id, estimated in probes:
        for _ in range(600):
            status = (await client.get(f"/api/high-scale-tasks/status/{task_id}")).json()
            if status["status"] == "completed":
                break
            await asyncio.sleep(0.05)
        created, started = _utc(status["created_at"]), _utc(status["started_at"])
        waits.append((started - created).total_seconds())
        if estimated is not None:
            errors.append((started - _utc(estimated)).total_seconds())
    return waits, errors


async def run(
    stack: LocalStack, backlog: int, seconds: float, rate: float, task_s: float
) -> dict[str, Any]:
    headers = {"X-API-Key": stack.admin_key}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=120) as client:
        batch_ids = await fill_backlog(client, backlog, task_s)
        await asyncio.sleep(2)
        drained_before = await batch_completed(client, batch_ids)
        began = time.perf_counter()
        probes = await asyncio.gather(*(inject(client, p, rate, seconds) for p in URGENT))
        window = time.perf_counter() - began
        drained_after = await batch_completed(client, batch_ids)
        measured = {p: await waits_of(client, ids) for p, ids in zip(URGENT, probes, strict=True)}
    queued_left = backlog - drained_after
    return {
        "backlog": backlog,
        "queued_at_end": queued_left,
        "batch_drain_per_s": (drained_after - drained_before) / window,
        "priorities": {
            p.value: {
                "n": len(w),
                "sla_ms": p.sla_seconds * 1000,
                "p50_ms": percentile(w, 0.5) * 1000,
                "p99_ms": percentile(w, 0.99) * 1000,
                "max_ms": max(w) * 1000,
                **estimate_error(e),
            }
            for p, (w, e) in measured.items()
        },
    }


def estimate_error(errors: list[float]) -> dict[str, float]:
    """How far the real starts were from estimated_start: the median error (its bias: > 0
    started later than said) and the median and p90 of its size, in ms."""
    if not errors:
        return {}
    sizes = [abs(e) for e in errors]
    return {
        "estimate_error_p50_ms": percentile(errors, 0.5) * 1000,
        "estimate_abs_error_p50_ms": percentile(sizes, 0.5) * 1000,
        "estimate_abs_error_p90_ms": percentile(sizes, 0.9) * 1000,
    }


def measure(code: Path, args: argparse.Namespace) -> dict[str, Any]:
    stack = started_stack(code)
    try:
        return asyncio.run(run(stack, args.backlog, args.seconds, args.rate, args.task_seconds))
    finally:
        stack.stop()


def print_result(title: str, result: dict[str, Any]) -> None:
    rows = [
        (
            name,
            r["n"],
            r["sla_ms"],
            r["p50_ms"],
            r["p99_ms"],
            r["max_ms"],
            "yes" if r["p99_ms"] < r["sla_ms"] else "NO",
            r.get("estimate_error_p50_ms", "-"),
            r.get("estimate_abs_error_p50_ms", "-"),
            r.get("estimate_abs_error_p90_ms", "-"),
        )
        for name, r in result["priorities"].items()
    ]
    print_table(
        f"{title}: wait from submit to start under a {result['backlog']:,}-task BATCH backlog",
        [
            "priority",
            "tasks",
            "SLA ms",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p99 < SLA",
            "estimate error p50 ms",
            "|error| p50 ms",
            "|error| p90 ms",
        ],
        rows,
    )
    print(
        f"BATCH drained at {result['batch_drain_per_s']:.1f} tasks/s meanwhile; "
        f"{result['queued_at_end']:,} still queued at the end",
        flush=True,
    )


def medians(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "batch_drain_per_s": statistics.median(r["batch_drain_per_s"] for r in results),
        "p99_ms": {
            p.value: statistics.median(r["priorities"][p.value]["p99_ms"] for r in results)
            for p in URGENT
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=5.0, help="tasks/s of each urgent priority")
    parser.add_argument(
        "--task-seconds", type=float, default=0.02, help="each BATCH task's run time"
    )
    add_baseline_arguments(parser)
    args = parser.parse_args()
    this_or_alternated(
        "priority_sla", parser, args, lambda code: measure(code, args), print_result, medians
    )


if __name__ == "__main__":
    main()
