"""Rate-limit accuracy: several client processes drive one category at 3x its limit through
the batch endpoint; admitted tasks/s is compared with what the bucket allows,
(limit x seconds + burst) / seconds.

    python -m benchmarks.rate_limit_accuracy [--limit 500] [--burst 1000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from typing import Any

import httpx

from benchmarks.common import bench_stack, print_table, write_result

CATEGORY = "system"  # noop's
BATCH = 50


def drive(
    base_url: str, api_key: str, per_process_rate: float, seconds: float, start_at: float, out: Any
) -> None:
    """From `start_at` (a shared wall-clock time), send batches of BATCH tasks at
    per_process_rate tasks/s for `seconds`."""
    task = {"name": "limited", "function_name": "noop"}
    sent = admitted = 0
    interval = BATCH / per_process_rate
    with httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=60) as client:
        time.sleep(max(0.0, start_at - time.time()))
        began = time.perf_counter()
        first = last = time.time()
        i = 0
        while time.perf_counter() - began < seconds:
            time.sleep(max(0.0, began + i * interval - time.perf_counter()))
            last = time.time()
            reply = client.post("/api/high-scale-tasks/batch", json={"tasks": [task] * BATCH})
            sent += BATCH
            admitted += reply.json()["total_submitted"]
            i += 1
    out.put({"sent": sent, "admitted": admitted, "first": first, "last": last})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    limits = {CATEGORY: {"limit_per_second": args.limit, "burst": args.burst}}
    offered_rate = 3 * args.limit
    with bench_stack(VOKAFLOW_RATE_LIMITS=json.dumps(limits)) as stack:
        queue: multiprocessing.Queue[dict[str, float]] = multiprocessing.Queue()
        start_at = time.time() + 5  # every process starts sending at the same moment
        workers = [
            multiprocessing.Process(
                target=drive,
                args=(
                    stack.base_url,
                    stack.admin_key,
                    offered_rate / args.processes,
                    args.seconds,
                    start_at,
                    queue,
                ),
            )
            for _ in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        reports = [queue.get(timeout=args.seconds + 120) for _ in workers]
        for worker in workers:
            worker.join()
    # The window the bucket saw: from the first request sent to the last one.
    seconds = max(r["last"] for r in reports) - min(r["first"] for r in reports)
    sent = sum(r["sent"] for r in reports)
    admitted = sum(r["admitted"] for r in reports)
    allowed = args.limit * seconds + args.burst
    error = (admitted - allowed) / allowed
    rows = [
        (
            CATEGORY,
            args.limit,
            args.burst,
            sent / seconds,
            admitted / seconds,
            allowed / seconds,
            f"{error:+.2%}",
        )
    ]
    print_table(
        f"Admission at 3x the limit from {args.processes} processes over {seconds:.1f} s",
        ["category", "limit/s", "burst", "offered/s", "admitted/s", "allowed/s", "error"],
        rows,
    )
    write_result(
        "rate_limit_accuracy",
        {
            "limit": args.limit,
            "burst": args.burst,
            "seconds": seconds,
            "sent": sent,
            "admitted": admitted,
            "allowed": allowed,
            "error": error,
            "processes": args.processes,
        },
    )


if __name__ == "__main__":
    main()
