"""What every benchmark shares: its stack, percentiles, a table and a JSON record."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vokaflow.testing.stack import LocalStack

RESULTS = Path(__file__).parent / "results"


# The drills (noop, sleep) are in the `system` category, whose default limit (1,000/s)
# would measure the rate limiter, not the service.
UNLIMITED_DRILLS = json.dumps({"system": {"limit_per_second": 1_000_000, "burst": 2_000_000}})


def bench_stack(code: Path | None = None, **settings: str) -> LocalStack:
    """A stack on benchmark ports, with the Redis of VOKAFLOW_REDIS_URL or an embedded one;
    with ``code`` (a checkout's root), every process of it runs that checkout's package.

    Both are needed: PYTHONPATH for the `vokaflow` command itself, whose own folder comes
    first on its path, and the working folder for Ray, which adds the driver's working
    folder to the path of every worker (the gateway, the pools) and starts the scheduler's
    job with `python -m` there, which puts that folder first: ahead of PYTHONPATH.
    """
    if code is not None:
        settings = {"PYTHONPATH": str(code), **settings}
    return LocalStack(
        cwd=code,
        home=Path(tempfile.mkdtemp(prefix="vokaflow-bench-")),
        port=int(os.environ.get("VOKAFLOW_BENCH_PORT", "8798")),
        ray_port=int(os.environ.get("VOKAFLOW_BENCH_RAY_PORT", "6392")),
        dashboard_port=int(os.environ.get("VOKAFLOW_BENCH_DASHBOARD_PORT", "8267")),
        settings={
            "VOKAFLOW_VICKY_MODELS": "[]",
            "VOKAFLOW_RATE_LIMITS": UNLIMITED_DRILLS,
            **settings,
        },
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3f}"
    return str(value)


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    record = {
        "benchmark": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"\nwrote {path}")
    return path


def redis_bytes_per_task(redis_url: str, key_prefix: str, sample: int = 500) -> float:
    """Mean MEMORY USAGE of finished task records (key, hash and allocator overhead): what
    a completed task costs Redis until its record expires. Queues and running sets no
    longer hold it."""
    from vokaflow.store.redis_client import connect_sync

    client = connect_sync(redis_url)
    sizes = []
    for key in client.scan_iter(match=f"{key_prefix}:*:task:*", count=1000):
        sizes.append(client.memory_usage(key, samples=0) or 0)
        if len(sizes) >= sample:
            break
    return sum(sizes) / len(sizes) if sizes else float("nan")
