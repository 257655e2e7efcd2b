"""The current code against an earlier commit, alternated in one run: batch throughput
(20,000 no-op tasks until completed) and sustained single submits (wrk, 16 connections,
every task run to completion: see benchmarks/single_submits.py), each code on a fresh
stack per round. Medians of all rounds are reported.

    python -m benchmarks.compare_code --baseline COMMIT [--rounds 4] [--tasks 20000]
        [--only batch|singles] [--current COMMIT]

The code that runs second in a round ran 12-18% slower here, so the order goes ABBA:
swapped every round, over an even number of rounds, each code runs first equally often.

The baseline's files are taken with `git archive` into a temporary folder, and its
stack runs there, with PYTHONPATH pointing there too (see benchmarks.common.bench_stack):
the CLI, gateway, scheduler job and workers run that code, while the load comes from this
checkout's client.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import bench_stack, print_table, write_result
from benchmarks.http_load import pick_client
from benchmarks.single_submits import measure_single_submits
from benchmarks.throughput import measure_vokaflow
from vokaflow.testing.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
SUBMIT_CONNECTIONS = 16
FIELDS = (
    "batch_tasks_per_s",
    "single_tasks_per_s",
    "submits_per_s",
    "submit_p50_ms",
    "submit_p99_ms",
)


def export_commit(commit: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vokaflow-baseline-"))
    archive = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(
    code: Path, tasks: int, client: str, seconds: float, only: str | None = None
) -> dict[str, Any]:
    """Batch throughput and single submits on one stack; ``only`` one of them ("batch",
    "singles"), the other's fields NaN."""
    stack = started_stack(code)
    result = dict.fromkeys(FIELDS, math.nan)
    try:
        if only != "singles":
            throughput = measure_vokaflow(stack, tasks, batch_size=1000)
            result["batch_tasks_per_s"] = throughput["tasks_per_s"]
        if only != "batch":
            result.update(measure_single_submits(stack, client, seconds, SUBMIT_CONNECTIONS))
    finally:
        stack.stop()
    return result


def started_stack(
    code: Path, attempts: int = 3, settings: dict[str, str] | None = None
) -> LocalStack:
    """A stack running ``code``. On this loaded machine a start now and then fails in Ray
    ("No available agent to submit job", a port taken between its probe and its bind); a
    failed start stops what it began, and one lost start should not throw away the rounds
    before it."""
    for attempt in range(1, attempts + 1):
        try:
            return bench_stack(code, **(settings or {})).start()
        except RuntimeError as exc:
            if attempt == attempts:
                raise
            print(f"stack start failed ({str(exc).splitlines()[-1][:200]}); again", flush=True)
    raise AssertionError("unreachable")


def run_order(round_number: int, names: list[str]) -> list[str]:
    """ABBA: AB, BA, AB, BA... over an even number of rounds, each code goes first as often."""
    return names if round_number % 2 == 0 else list(reversed(names))


Result = dict[str, Any]


def add_baseline_arguments(parser: argparse.ArgumentParser) -> None:
    """--baseline and --rounds, for a benchmark that this_or_alternated runs."""
    parser.add_argument("--baseline", help="a commit to run alternately with this code")
    parser.add_argument("--rounds", type=int, default=2, help="with --baseline: an even number")


def this_or_alternated(
    name: str,
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    measure: Callable[[Path], Result],
    report: Callable[[str, Result], None],
    summarize: Callable[[list[Result]], Result],
) -> None:
    """A benchmark's run: ``measure`` on this checkout, or with ``args.baseline`` alternated
    with that commit's code over ``args.rounds`` rounds (ABBA) and summarized per code. The
    result goes to benchmarks/results/<name>.json."""
    if not args.baseline:
        result = measure(ROOT)
        report("This code", result)
        write_result(name, result)
        return
    if args.rounds < 2 or args.rounds % 2:
        parser.error("--rounds must be even, so each code runs first as often")
    codes = {"baseline": export_commit(args.baseline), "current": ROOT}
    runs: dict[str, list[Result]] = {code: [] for code in codes}
    for round_number in range(args.rounds):
        for code in run_order(round_number, list(codes)):
            runs[code].append(measure(codes[code]))
            report(f"round {round_number + 1} {code}", runs[code][-1])
    summary = {code: summarize(results) for code, results in runs.items()}
    print(f"\nover {args.rounds} alternated rounds: {summary}")
    write_result(name, {"baseline": args.baseline, "runs": runs, "summary": summary})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", required=True, help="a commit, branch or tag")
    parser.add_argument("--rounds", type=int, default=4, help="an even number")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument(
        "--current", help="a commit to measure instead of this checkout (bisecting)"
    )
    parser.add_argument("--only", choices=["batch", "singles"], help="measure one of the two")
    args = parser.parse_args()
    if args.rounds < 2 or args.rounds % 2:
        parser.error("--rounds must be even, so each code runs first as often")
    client = "" if args.only == "batch" else pick_client(args.client)
    current = export_commit(args.current) if args.current else ROOT
    codes = {"baseline": export_commit(args.baseline), "current": current}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    for round_number in range(args.rounds):
        for name in run_order(round_number, list(codes)):
            runs[name].append(measure(codes[name], args.tasks, client, args.seconds, args.only))
            print(f"round {round_number + 1} {name}: {runs[name][-1]}", flush=True)
    medians = {
        name: {field: statistics.median(run[field] for run in results) for field in FIELDS}
        for name, results in runs.items()
    }
    print_table(
        f"Current code against {args.baseline}, medians of {args.rounds} alternated rounds",
        ["code", "batch tasks/s", "single tasks/s", "submits/s", "submit p50 ms", "p99 ms"],
        [(name, *(m[field] for field in FIELDS)) for name, m in medians.items()],
    )
    write_result("compare_code", {"baseline": args.baseline, "runs": runs, "medians": medians})


if __name__ == "__main__":
    main()
