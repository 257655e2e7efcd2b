"""The throughput workload for a set time, with one fault injected every K seconds, then a
count of every accepted task: accepted, completed, lost (must be 0), run again, and Redis
memory per task.

    python -m benchmarks.soak [--minutes 10] [--fault-every 60] [--rate 500]

Faults, in turn: the scheduler actor killed, a worker process running tasks SIGKILLed,
Redis restarted (a redis-server with AOF that this script owns). Submits during a Redis
outage get 503 and are counted as refused, not accepted.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.common import bench_stack, print_table, redis_bytes_per_task, write_result
from vokaflow.config import NAMESPACE
from vokaflow.scheduler import SCHEDULER_NAME
from vokaflow.testing.stack import LocalStack, RedisServer
from vokaflow.testing.tally import wait_all_terminal

BATCH = 250
NOOP = {"name": "soak", "function_name": "noop", "retry_count": 0}
# A few longer tasks in every batch, so that a worker is busy when the fault comes.
SLOW = {"name": "soak-slow", "function_name": "sleep", "args": [0.5], "retry_count": 0}
SLOW_PER_BATCH = 4


class Load:
    """Batches of no-op tasks at a steady rate from a thread; keeps every accepted id."""

    def __init__(self, stack: LocalStack, rate: int) -> None:
        self.stack = stack
        self.period_s = BATCH / rate
        self.accepted: list[str] = []
        self.answers: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        body = {"tasks": [SLOW] * SLOW_PER_BATCH + [NOOP] * (BATCH - SLOW_PER_BATCH)}
        with self.stack.client() as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                try:
                    reply = client.post("/api/high-scale-tasks/batch", json=body)
                except httpx.HTTPError:
                    self.answers[0] += 1
                else:
                    self.answers[reply.status_code] += 1
                    if reply.status_code == 200:
                        self.accepted += [t["task_id"] for t in reply.json()["successful_tasks"]]
                next_at += self.period_s
                time.sleep(max(0.0, next_at - time.monotonic()))


def kill_scheduler(stack: LocalStack, _redis: RedisServer) -> str:
    import ray

    stack.init_ray(namespace=NAMESPACE)
    try:
        ray.kill(ray.get_actor(SCHEDULER_NAME), no_restart=False)
    finally:
        ray.shutdown()
    return "scheduler actor killed"


def kill_worker(_stack: LocalStack, _redis: RedisServer) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for process in psutil.process_iter(["cmdline"]):
            if any("execute_chunk" in part for part in process.info["cmdline"] or []):
                os.kill(process.pid, signal.SIGKILL)
                return f"worker {process.pid} SIGKILLed"
        time.sleep(0.05)
    return "no busy worker to kill"


def restart_redis(_stack: LocalStack, redis: RedisServer) -> str:
    redis.stop()
    time.sleep(2)
    redis.start()
    return "redis restarted (2 s down)"


FAULTS = [kill_scheduler, kill_worker, restart_redis]


def soak(minutes: float, fault_every_s: float, rate: int) -> dict[str, Any]:
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="vokaflow-soak-redis-")))
    redis.start()
    try:
        with bench_stack(VOKAFLOW_REDIS_URL=redis.url) as stack:
            load = Load(stack, rate)
            load.start()
            faults: list[str] = []
            started = time.monotonic()
            end = started + minutes * 60
            next_fault = started + fault_every_s
            while time.monotonic() < end:
                if time.monotonic() >= next_fault:
                    fault = FAULTS[len(faults) % len(FAULTS)]
                    faults.append(f"{time.monotonic() - started:5.0f} s: {fault(stack, redis)}")
                    print(faults[-1], flush=True)
                    next_fault += fault_every_s
                time.sleep(0.2)
            load.stop()
            tally = wait_all_terminal(stack, load.accepted, timeout_s=600)
            bytes_per_task = redis_bytes_per_task(stack.redis_url, stack.key_prefix)
    finally:
        redis.stop()
    return {
        "minutes": minutes,
        "fault_every_s": fault_every_s,
        "target_rate": rate,
        "accepted": len(load.accepted),
        "completed": tally.by_status.get("completed", 0),
        "lost": len(tally.missing) + len(tally.unfinished),
        "ran_again": tally.ran_again,
        "by_status": tally.by_status,
        "answers": {str(code): n for code, n in load.answers.items()},
        "redis_bytes_per_task": bytes_per_task,
        "faults": faults,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fault-every", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=500, help="tasks submitted per second")
    args = parser.parse_args()
    result = soak(args.minutes, args.fault_every, args.rate)
    print_table(
        f"Soak: {args.minutes:g} min at {args.rate}/s, a fault every {args.fault_every:g} s",
        ["accepted", "completed", "lost", "ran again", "refused (503)", "Redis B/task"],
        [
            (
                result["accepted"],
                result["completed"],
                result["lost"],
                result["ran_again"],
                result["answers"].get("503", 0),
                result["redis_bytes_per_task"],
            )
        ],
    )
    write_result("soak", result)
    if result["lost"]:
        raise SystemExit(f"{result['lost']} accepted tasks were lost")


if __name__ == "__main__":
    main()
