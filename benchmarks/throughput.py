"""End-to-end throughput: N no-op tasks through VokaFlow's batch endpoint until all are
completed in Redis, beside plain Ray (N no-op @ray.remote calls) and Celery with Redis
(threads pool), all measured in this run on this machine.

    python -m benchmarks.throughput [--tasks 20000] [--batch-size 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import bench_stack, print_table, redis_bytes_per_task, write_result
from vokaflow.testing.stack import LocalStack


async def _submit_batches(
    stack: LocalStack, n: int, batch_size: int, connections: int
) -> list[str]:
    headers = {"X-API-Key": stack.admin_key}
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(
        base_url=stack.base_url, headers=headers, timeout=120, limits=limits
    ) as client:
        sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]

        async def one(size: int) -> str:
            tasks = [{"name": "noop", "function_name": "noop"}] * size
            reply = await client.post("/api/high-scale-tasks/batch", json={"tasks": tasks})
            reply.raise_for_status()
            body = reply.json()
            assert body["total_submitted"] == size, body["errors"][:3]
            return str(body["batch_id"])

        semaphore = asyncio.Semaphore(connections)

        async def bounded(size: int) -> str:
            async with semaphore:
                return await one(size)

        return list(await asyncio.gather(*(bounded(size) for size in sizes)))


def _wait_completed(stack: LocalStack, batch_ids: list[str], n: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = set(batch_ids)
    completed = 0
    with stack.client() as client:
        while pending:
            for batch_id in list(pending):
                body = client.get(f"/api/high-scale-tasks/batch/{batch_id}").json()
                if body["status"] != "running":
                    assert body["completed"] == body["total"], body
                    completed += body["completed"]
                    pending.discard(batch_id)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} batches unfinished")
            time.sleep(0.05)
    assert completed == n


def warm_up(stack: LocalStack, n: int, batch_size: int) -> None:
    """Off the clock, in the measured run's shape and a quarter of its size: its backlog
    grows the pools to the size the run will use, so that no worker process starts (a
    second of CPU each on 2 cores) inside the measured window, as it did in some runs only."""
    warmup = max(2000, n // 4)
    _wait_completed(stack, asyncio.run(_submit_batches(stack, warmup, batch_size, 4)), warmup, 300)


def measure_vokaflow(stack: LocalStack, n: int, batch_size: int) -> dict[str, Any]:
    warm_up(stack, n, batch_size)
    started = time.perf_counter()
    batch_ids = asyncio.run(_submit_batches(stack, n, batch_size, connections=4))
    submitted = time.perf_counter()
    _wait_completed(stack, batch_ids, n, timeout_s=600)
    finished = time.perf_counter()
    return {
        "tasks": n,
        "seconds": finished - started,
        "tasks_per_s": n / (finished - started),
        "submit_tasks_per_s": n / (submitted - started),
    }


def measure_plain_ray(stack: LocalStack, n: int) -> dict[str, Any]:
    code = f"""
import time, ray
ray.init(address="{stack.ray_address}", log_to_driver=False)
@ray.remote
def noop():
    return None
ray.get([noop.remote() for _ in range(500)])
started = time.perf_counter()
ray.get([noop.remote() for _ in range({n})])
print(time.perf_counter() - started)
"""
    seconds = float(_run_python(code, stack.env).strip().splitlines()[-1])
    return {"tasks": n, "seconds": seconds, "tasks_per_s": n / seconds}


def measure_celery(redis_url: str, n: int) -> dict[str, Any]:
    broker = redis_url.rsplit("/", 1)[0] + "/15"
    env = {**os.environ, "CELERY_BENCH_BROKER": broker}
    root = Path(__file__).resolve().parent.parent
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "benchmarks.celery_noop",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "8",
            "--loglevel",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        code = f"""
import time
from celery import group
from benchmarks.celery_noop import app, noop
app.control.purge()
group(noop.s() for _ in range(200)).apply_async().join_native(timeout=120)
started = time.perf_counter()
group(noop.s() for _ in range({n})).apply_async().join_native(timeout=600)
print(time.perf_counter() - started)
"""
        seconds = float(_run_python(code, env, cwd=root).strip().splitlines()[-1])
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return {"tasks": n, "seconds": seconds, "tasks_per_s": n / seconds}


def _run_python(code: str, env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    with bench_stack() as stack:
        vokaflow = measure_vokaflow(stack, args.tasks, args.batch_size)
        vokaflow["redis_bytes_per_completed_task"] = redis_bytes_per_task(
            stack.redis_url, stack.key_prefix
        )
        plain_ray = measure_plain_ray(stack, args.tasks)
        celery = measure_celery(stack.redis_url, args.tasks)
    rows = [
        (
            "VokaFlow (HTTP batch -> Ray -> Redis)",
            vokaflow["tasks"],
            vokaflow["seconds"],
            vokaflow["tasks_per_s"],
            1.0,
        ),
        (
            "plain Ray (@ray.remote)",
            plain_ray["tasks"],
            plain_ray["seconds"],
            plain_ray["tasks_per_s"],
            vokaflow["tasks_per_s"] / plain_ray["tasks_per_s"],
        ),
        (
            "Celery + Redis (threads)",
            celery["tasks"],
            celery["seconds"],
            celery["tasks_per_s"],
            vokaflow["tasks_per_s"] / celery["tasks_per_s"],
        ),
    ]
    print_table(
        "End-to-end throughput of no-op tasks",
        ["system", "tasks", "seconds", "tasks/s", "VokaFlow ×"],
        rows,
    )
    print(
        f"Redis memory per completed no-op task: "
        f"{vokaflow['redis_bytes_per_completed_task']:.0f} bytes (goal <= 1024)"
    )
    write_result(
        "throughput",
        {
            "vokaflow": vokaflow,
            "plain_ray": plain_ray,
            "celery": celery,
            "vokaflow_vs_plain_ray": rows[1][4],
            "vokaflow_vs_celery": rows[2][4],
        },
    )


if __name__ == "__main__":
    main()
