"""Redis's time in the scripts per task, by step (submit, claim, finish), the current code
against an earlier commit, alternated ABBA. No stack: the stores drive a redis-server of
this run's own, and the figure is its `INFO commandstats` time in EVALSHA, far steadier here
than a throughput run, where Redis shares two cores with Ray and the gateway.

    python -m benchmarks.redis_cost --baseline COMMIT [--rounds 4] [--tasks 20000]

Each round, each code runs in a process of its own on its own exported tree (PYTHONPATH),
on a fresh key prefix: it submits the tasks in calls of 1,000, claims them 500 a partition
at a time, and settles them as completed 500 at a time, the scheduler's pipeline shapes.
The baseline must have the stores' current interfaces (TaskStore.submit, DispatchStore
claim and settle).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("submit", "claim", "finish")
SUBMIT_CALL = 1000
CLAIM_PER_PARTITION = 500
SETTLE_CALL = 500


def _scripts_s(client: Any) -> float:
    """Redis's time in the project's scripts since the last reset: the commands they call
    included, the server's own chores (AOF writes, cron) not, which made its CPU reading
    vary by a fifth from run to run."""
    stats = client.info("commandstats")
    return float(stats.get("cmdstat_evalsha", {}).get("usec", 0)) / 1e6


async def _steps(redis_url: str, tasks: int) -> dict[str, float]:
    """Redis CPU µs per task of each step, run in the code on this process's path."""
    import redis
    import redis.asyncio as aioredis

    from vokaflow.domain import Priority, TaskStatus, WorkerType
    from vokaflow.domain.task import Outcome, TaskSpec
    from vokaflow.store.dispatch_store import ClaimRequest, DispatchStore
    from vokaflow.store.keys import Keys
    from vokaflow.store.task_store import TaskStore

    keys = Keys(f"vfcost-{uuid.uuid4().hex[:8]}", 16)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    meter = redis.Redis.from_url(redis_url)
    submits, dispatch = TaskStore(client, keys, 3600), DispatchStore(client, keys, 3600)
    specs = []
    for _ in range(tasks):
        task_id = str(uuid.uuid4())
        specs.append(
            TaskSpec(
                task_id=task_id,
                function_name="noop",
                priority=Priority.NORMAL,
                category="system",
                created_at=time.time(),
                partition=keys.partition(task_id),
                owner="bench",
            )
        )
    used: dict[str, float] = {}
    meter.config_resetstat()
    for start in range(0, tasks, SUBMIT_CALL):
        await submits.submit(specs[start : start + SUBMIT_CALL])
    used["submit"] = _scripts_s(meter)
    meter.config_resetstat()
    claimed: list[Any] = []
    requests = [
        ClaimRequest(WorkerType.GENERAL_PURPOSE, p, float("inf"), CLAIM_PER_PARTITION)
        for p in range(keys.partitions)
    ]
    while len(claimed) < tasks:
        claimed += await dispatch.claim(requests, time.time())
    used["claim"] = _scripts_s(meter)
    meter.config_resetstat()
    now = time.time()
    outcomes = [
        Outcome(t.spec.task_id, t.attempt, TaskStatus.COMPLETED, now, now, None, None, "noop")
        for t in claimed
    ]
    for start in range(0, tasks, SETTLE_CALL):
        await dispatch.settle(outcomes[start : start + SETTLE_CALL], [])
    used["finish"] = _scripts_s(meter)
    await client.aclose()
    return {step: 1e6 * seconds / tasks for step, seconds in used.items()}


def _run_code(code: Path, redis_url: str, tasks: int) -> dict[str, float]:
    """This file run by its path in a process whose ``vokaflow`` is ``code``'s: the step
    imports nothing else of the project."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, __file__, "--one", redis_url, str(tasks)]
    out = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", help="a commit, branch or tag")
    parser.add_argument("--rounds", type=int, default=4, help="an even number")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--one", nargs=2, metavar=("REDIS_URL", "TASKS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(_steps(args.one[0], int(args.one[1])))))
        return
    if not args.baseline:
        parser.error("--baseline is required")
    from benchmarks.common import print_table, write_result
    from benchmarks.compare_code import export_commit, run_order
    from vokaflow.store.embedded import start_redis_server
    from vokaflow.testing.stack import free_port

    redis_url = start_redis_server(Path(tempfile.mkdtemp(prefix="vokaflow-cost-")), free_port())
    codes = {"baseline": export_commit(args.baseline), "current": ROOT}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    try:
        for round_number in range(args.rounds):
            for name in run_order(round_number, list(codes)):
                runs[name].append(_run_code(codes[name], redis_url, args.tasks))
                print(f"round {round_number + 1} {name}: {runs[name][-1]}", flush=True)
    finally:
        import redis

        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(redis_url).shutdown(nosave=True)
    rows = [
        [step, *(statistics.median(r[step] for r in runs[name]) for name in codes)]
        for step in STEPS
    ]
    rows.append(["all", *(statistics.median(sum(r.values()) for r in runs[n]) for n in codes)])
    print_table(
        f"Redis µs in scripts per task, medians of {args.rounds} rounds",
        ["step", "baseline", "current"],
        rows,
    )
    write_result("redis_cost", {"baseline": args.baseline, "runs": runs})


if __name__ == "__main__":
    main()
