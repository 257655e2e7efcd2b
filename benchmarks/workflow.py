"""A 1,000-node fan-out/fan-in workflow end to end, against the same tasks as one plain
batch, on one stack, alternated over rounds (medians reported).

    python -m benchmarks.workflow [--width 1000] [--rounds 3]

The workflow: a root, `width` middle tasks that each wait for it and take its result, and a
sink that waits for all of them and takes theirs (`accumulate`, a no-op that adds numbers).
The batch: the same width + 2 `accumulate` tasks with no edges. Each is timed from the
request to its last task's end; what the workflow adds is the dependency bookkeeping and
its two extra waits (the middle for the root, the sink for the last middle task).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import httpx

from benchmarks.common import print_table, write_result
from benchmarks.compare_code import ROOT, started_stack


def workflow_body(width: int) -> dict[str, Any]:
    middle = [
        {
            "name": f"m{i}",
            "function_name": "accumulate",
            "kwargs": {"value": 1},
            "depends_on": ["root"],
            "pass_results_as": "inputs",
        }
        for i in range(width)
    ]
    sink = {
        "name": "sink",
        "function_name": "accumulate",
        "depends_on": [f"m{i}" for i in range(width)],
        "pass_results_as": "inputs",
    }
    root = {"name": "root", "function_name": "accumulate"}
    return {"name": "fan", "tasks": [root, *middle, sink]}


def run_workflow(client: httpx.Client, width: int) -> float:
    began = time.perf_counter()
    made = client.post("/api/workflows", json=workflow_body(width))
    made.raise_for_status()
    url = f"/api/workflows/{made.json()['workflow_id']}"
    while (body := client.get(url).json())["status"] == "running":
        time.sleep(0.05)
    assert body["status"] == "completed", body["counts"]
    return time.perf_counter() - began


def run_batch(client: httpx.Client, width: int) -> float:
    began = time.perf_counter()
    tasks = [{"name": f"b{i}", "function_name": "accumulate"} for i in range(width + 2)]
    made = client.post("/api/high-scale-tasks/batch", json={"tasks": tasks})
    made.raise_for_status()
    url = f"/api/high-scale-tasks/batch/{made.json()['batch_id']}"
    while (reply := client.get(url)).json()["unfinished"]:
        time.sleep(0.05)
    body = reply.json()
    assert body["completed"] == width + 2, body
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stack = started_stack(ROOT)
    times: dict[str, list[float]] = {"workflow": [], "batch": []}
    try:
        with stack.client() as client:
            run_batch(client, 200)  # warm the pool and the functions' run times
            for round_number in range(args.rounds):
                order = ["workflow", "batch"] if round_number % 2 == 0 else ["batch", "workflow"]
                for kind in order:
                    runner = run_workflow if kind == "workflow" else run_batch
                    times[kind].append(runner(client, args.width))
                print(f"round {round_number + 1}: {times}", flush=True)
    finally:
        stack.stop()
    medians = {kind: statistics.median(t) for kind, t in times.items()}
    print_table(
        f"{args.width + 2} tasks: a fan-out/fan-in workflow against a plain batch, "
        f"medians of {args.rounds} alternated rounds",
        ["kind", "end to end s", "tasks/s"],
        [(kind, s, (args.width + 2) / s) for kind, s in medians.items()],
    )
    print(f"the workflow takes {medians['workflow'] / medians['batch']:.2f}x the batch's time")
    write_result("workflow", {"width": args.width, "times": times, "medians": medians})


if __name__ == "__main__":
    main()
