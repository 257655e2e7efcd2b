"""Fair share within a priority level: tenant A fills the queue with a BATCH backlog, then
tenant B submits a few BATCH tasks of its own. Reports B's waits (submit to start) against
the time A's backlog takes to drain; the issue's bar is B's p99 below 5% of that drain.

    python -m benchmarks.fairness [--backlog 50000] [--probes 100] [--task-seconds 0.005]
                                  [--baseline COMMIT]

With --baseline it also runs that commit's code (alternated: baseline first), to show
what the same load did before.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentile, print_table, write_result
from benchmarks.compare_code import ROOT, export_commit, started_stack
from vokaflow.testing.stack import LocalStack

PER_BATCH = 1000
CONCURRENT_SUBMITS = 4
TASK = {"name": "fair", "function_name": "sleep", "priority": "BATCH", "retry_count": 0}


def tenant_key(stack: LocalStack, name: str) -> str:
    return str(stack.cli("keys", "create", "--name", name).stdout.splitlines()[-1])


async def fill(client: httpx.AsyncClient, n: int, task_s: float) -> list[str]:
    """A's backlog, a few batches at a time; returns the batch ids."""
    gate = asyncio.Semaphore(CONCURRENT_SUBMITS)
    task = {**TASK, "args": [task_s]}

    async def one(size: int) -> str:
        async with gate:
            reply = await client.post("/api/high-scale-tasks/batch", json={"tasks": [task] * size})
        reply.raise_for_status()
        return str(reply.json()["batch_id"])

    sizes = [min(PER_BATCH, n - start) for start in range(0, n, PER_BATCH)]
    return list(await asyncio.gather(*(one(size) for size in sizes)))


async def unfinished(client: httpx.AsyncClient, batch_ids: list[str]) -> int:
    left = 0
    for batch_id in batch_ids:
        left += (await client.get(f"/api/high-scale-tasks/batch/{batch_id}")).json()["unfinished"]
    return left


async def waits_of(client: httpx.AsyncClient, ids: list[str]) -> list[float]:
    waits = []
    for task_id in ids:
        for _ in range(6000):
            status = (await client.get(f"/api/high-scale-tasks/status/{task_id}")).json()
            if status["status"] == "completed":
                break
            await asyncio.sleep(0.1)
        created = datetime.fromisoformat(status["created_at"])
        waits.append((datetime.fromisoformat(status["started_at"]) - created).total_seconds())
    return waits


async def run(stack: LocalStack, backlog: int, probes: int, task_s: float) -> dict[str, Any]:
    a_key, b_key = tenant_key(stack, "tenant-a"), tenant_key(stack, "tenant-b")
    async with (
        httpx.AsyncClient(base_url=stack.base_url, headers={"X-API-Key": a_key}, timeout=300) as a,
        httpx.AsyncClient(base_url=stack.base_url, headers={"X-API-Key": b_key}, timeout=300) as b,
    ):
        a_batches = await fill(a, backlog, task_s)
        queued_from = time.perf_counter()
        a_left = await unfinished(a, a_batches)
        reply = await b.post(
            "/api/high-scale-tasks/batch", json={"tasks": [{**TASK, "args": [task_s]}] * probes}
        )
        reply.raise_for_status()
        b_ids = [t["task_id"] for t in reply.json()["successful_tasks"]]
        while await unfinished(a, a_batches):
            await asyncio.sleep(0.25)
        drain_s = time.perf_counter() - queued_from
        waits = await waits_of(b, b_ids)
    return {
        "backlog": backlog,
        "a_queued_when_b_came": a_left,
        "a_drain_s": drain_s,
        "b_tasks": len(waits),
        "b_p50_s": percentile(waits, 0.5),
        "b_p99_s": percentile(waits, 0.99),
        "b_max_s": max(waits),
        "b_p99_share_of_drain": percentile(waits, 0.99) / drain_s,
    }


def measure(code: Path, args: argparse.Namespace) -> dict[str, Any]:
    stack = started_stack(code)
    try:
        return asyncio.run(run(stack, args.backlog, args.probes, args.task_seconds))
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--task-seconds", type=float, default=0.005, help="each task's run time")
    parser.add_argument("--baseline", help="a commit to run first, with the same load")
    args = parser.parse_args()
    codes = {"current": ROOT}
    if args.baseline:
        codes = {"baseline": export_commit(args.baseline), **codes}
    results = {name: measure(code, args) for name, code in codes.items()}
    print_table(
        f"Tenant B's {args.probes} BATCH tasks behind tenant A's {args.backlog:,}",
        ["code", "A queued", "A drain s", "B p50 s", "B p99 s", "B max s", "B p99 / drain"],
        [
            (
                name,
                r["a_queued_when_b_came"],
                r["a_drain_s"],
                r["b_p50_s"],
                r["b_p99_s"],
                r["b_max_s"],
                f"{r['b_p99_share_of_drain']:.1%}",
            )
            for name, r in results.items()
        ],
    )
    write_result("fairness", {"baseline": args.baseline, "results": results})


if __name__ == "__main__":
    main()
