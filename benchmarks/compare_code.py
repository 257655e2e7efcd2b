"""The current code against an earlier commit, alternated in one run: batch throughput
(20,000 no-op tasks until completed) and single submits (wrk, 16 connections), each
code on a fresh stack per round, the order swapped every round. Medians are reported.

    python -m benchmarks.compare_code --baseline COMMIT [--rounds 3] [--tasks 20000]

The baseline's files are taken with `git archive` into a temporary folder, and its
stack runs with PYTHONPATH pointing there: the gateway, scheduler and workers run that
code, while the load comes from this checkout's client.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import bench_stack, print_table, write_result
from benchmarks.http_load import pick_client, run_load
from benchmarks.submit_latency import SUBMIT_BODY
from benchmarks.throughput import measure_vokaflow

ROOT = Path(__file__).resolve().parent.parent
SUBMIT_CONNECTIONS = 16


def export_commit(commit: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vokaflow-baseline-"))
    archive = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(code: Path, tasks: int, client: str, seconds: float) -> dict[str, Any]:
    with bench_stack(PYTHONPATH=str(code)) as stack:
        throughput = measure_vokaflow(stack, tasks, batch_size=1000)
        url = f"{stack.base_url}/api/high-scale-tasks/submit"
        headers = {"X-API-Key": stack.admin_key}
        run_load(client, url, headers, SUBMIT_BODY, 4, 2)  # warm up
        submits = run_load(client, url, headers, SUBMIT_BODY, SUBMIT_CONNECTIONS, seconds)
    return {"batch_tasks_per_s": throughput["tasks_per_s"], **submits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", required=True, help="a commit, branch or tag")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    args = parser.parse_args()
    client = pick_client(args.client)
    codes = {"baseline": export_commit(args.baseline), "current": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    for round_number in range(args.rounds):
        order = list(codes) if round_number % 2 == 0 else list(reversed(codes))
        for name in order:
            runs[name].append(measure(codes[name], args.tasks, client, args.seconds))
            print(f"round {round_number + 1} {name}: {runs[name][-1]}", flush=True)
    medians = {
        name: {
            field: statistics.median(run[field] for run in results)
            for field in ("batch_tasks_per_s", "requests_per_s", "p50_ms", "p99_ms")
        }
        for name, results in runs.items()
    }
    print_table(
        f"Current code against {args.baseline}, medians of {args.rounds} alternated rounds",
        ["code", "batch tasks/s", "submits/s (16 conns)", "submit p50 ms", "submit p99 ms"],
        [
            (name, m["batch_tasks_per_s"], m["requests_per_s"], m["p50_ms"], m["p99_ms"])
            for name, m in medians.items()
        ],
    )
    write_result("compare_code", {"baseline": args.baseline, "runs": runs, "medians": medians})


if __name__ == "__main__":
    main()
