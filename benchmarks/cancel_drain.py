"""A cancelled backlog leaves its pool: submit a backlog of long tasks to a pool, cancel
every one of them in submit order (as a client cleaning up does), and time from the last
cancel until the pool runs nothing and queues nothing. A cancel that the scheduler misses
shows as a drain as long as the tasks it let run.

    python -m benchmarks.cancel_drain [--cycles 12] [--backlog 130] [--burners 2]
                                      [--baseline COMMIT --rounds 2]

--burners starts that many busy processes for the run: the suite loads both cores, and
the scheduler's event loop then falls behind its sockets, which is where the race between
a claim's reply and a cancel's message shows. With --baseline it runs that commit's code
too, alternated ABBA on fresh stacks as in compare_code.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import print_table
from benchmarks.compare_code import add_baseline_arguments, started_stack, this_or_alternated

POOL = "CPU_INTENSIVE"
TASK_S = 5.0
STUCK_S = 2 * TASK_S  # a drain this long means a cancelled task ran


def _burn() -> None:
    while True:
        pass


@contextmanager
def burners(count: int) -> Iterator[None]:
    processes = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(count)]
    for process in processes:
        process.start()
    try:
        yield
    finally:
        for process in processes:
            process.terminate()


def _pool(client: httpx.Client) -> dict[str, Any]:
    reply = client.get("/api/metrics/workers")
    reply.raise_for_status()
    pool: dict[str, Any] = reply.json()["worker_pools"][POOL]
    return pool


def drain_s(client: httpx.Client, backlog: int) -> float:
    """One cycle: the backlog submitted, running for a moment, cancelled, then drained."""
    task = {"name": "drain", "function_name": "sleep", "args": [TASK_S], "worker_type": POOL}
    reply = client.post("/api/high-scale-tasks/batch", json={"tasks": [task] * backlog})
    reply.raise_for_status()
    time.sleep(1.5)  # the pool's first chunks start
    for submitted in reply.json()["successful_tasks"]:
        client.delete(f"/api/high-scale-tasks/cancel/{submitted['task_id']}")
    cancelled = time.monotonic()
    while (pool := _pool(client))["active_workers"] or pool["queue_size"]:
        time.sleep(0.1)
    return time.monotonic() - cancelled


def measure(code: Path, args: argparse.Namespace) -> dict[str, Any]:
    stack = started_stack(code)
    try:
        with stack.client() as client, burners(args.burners):
            drains = [drain_s(client, args.backlog) for _ in range(args.cycles)]
    finally:
        stack.stop()
    return {
        "drains_s": [round(d, 2) for d in drains],
        "median_s": statistics.median(drains),
        "max_s": max(drains),
        "stuck": sum(1 for d in drains if d > STUCK_S),
    }


def print_result(title: str, result: dict[str, Any]) -> None:
    print_table(
        f"{title}: seconds from the last cancel until the {POOL} pool is idle",
        ["cycles", "median s", "max s", f"over {STUCK_S:g} s"],
        [(len(result["drains_s"]), result["median_s"], result["max_s"], result["stuck"])],
    )
    print(f"each cycle: {result['drains_s']}", flush=True)


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cycles": sum(len(r["drains_s"]) for r in results),
        "stuck": sum(r["stuck"] for r in results),
        "median_s": statistics.median(d for r in results for d in r["drains_s"]),
        "max_s": max(r["max_s"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=12, help="backlogs cancelled per stack")
    parser.add_argument("--backlog", type=int, default=130)
    parser.add_argument("--burners", type=int, default=2, help="busy processes meanwhile")
    add_baseline_arguments(parser)
    args = parser.parse_args()
    this_or_alternated(
        "cancel_drain", parser, args, lambda code: measure(code, args), print_result, summary
    )


if __name__ == "__main__":
    main()
