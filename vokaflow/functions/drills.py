"""Drill functions for load tests, benchmarks and failure drills: submittable by name like
any other, but left out of ``/functions``, which lists the catalog."""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace

from vokaflow.domain import WorkerType
from vokaflow.functions.registry import function

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@function(
    listed=False,
    category="system",
    description="Does nothing and returns nothing; measures the service's own overhead",
    estimated_duration="<1 millisecond",
)
def noop() -> None:
    return None


@function(
    listed=False,
    category="system",
    description="Holds a worker for the given number of seconds (load tests and drills)",
    estimated_duration="as requested",
)
def sleep(seconds: float = 1.0) -> dict[str, Any]:
    if not 0 <= float(seconds) <= 3600:
        raise ValueError("seconds must be between 0 and 3600")
    time.sleep(float(seconds))
    return {"slept_seconds": float(seconds), "pid": os.getpid()}


@function(
    listed=False,
    category="system",
    worker_type=WorkerType.GENERAL_PURPOSE,
    description="Always raises with the given message (failure-handling drills)",
    estimated_duration="<1 millisecond",
)
def raise_error(message: str = "requested failure") -> None:
    raise RuntimeError(message)


@function(
    listed=False,
    category="system",
    description="Opens a span of its own with the OpenTelemetry API, as a user's function "
    "may (trace drills): it nests under the task's run when the task is traced",
    estimated_duration="<1 millisecond",
)
def traced_step(name: str = "user step") -> dict[str, Any]:
    with trace.get_tracer("vokaflow.drills").start_as_current_span(name[:64]) as span:
        context = span.get_span_context()
        return {"trace_id": format(context.trace_id, "032x"), "recorded": span.is_recording()}


@function(
    listed=False,
    category="system",
    description="Prints a message and logs it at the given level; returns it (log drills)",
    estimated_duration="<1 millisecond",
)
def echo(message: str, level: str = "INFO") -> dict[str, Any]:
    print(message)
    logging.getLogger("vokaflow.functions.echo").log(
        logging.getLevelName(level.upper()) if level.upper() in LOG_LEVELS else logging.INFO,
        message,
    )
    return {"message": message}


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks, as numpy's default does."""
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@function(
    listed=False,
    category="analytics",
    worker_type=WorkerType.CPU_INTENSIVE,
    description="Descriptive statistics of a list of numbers: count, mean, spread, percentiles",
    estimated_duration="<1 second",
)
def statistical_summary(
    values: list[float], percentiles: Sequence[float] = (25, 50, 75, 90, 99)
) -> dict[str, Any]:
    numbers = [float(v) for v in values]
    if not numbers:
        raise ValueError("values must not be empty")
    if any(not 0 <= p <= 100 for p in percentiles):
        raise ValueError("percentiles must lie between 0 and 100")
    ordered = sorted(numbers)
    return {
        "count": len(numbers),
        "sum": math.fsum(numbers),
        "mean": statistics.fmean(numbers),
        "median": statistics.median(ordered),
        "stdev": statistics.stdev(numbers) if len(numbers) > 1 else 0.0,
        "min": ordered[0],
        "max": ordered[-1],
        "percentiles": {f"p{p:g}": _percentile(ordered, p / 100) for p in percentiles},
    }


@function(
    listed=False,
    category="system",
    description="Adds its own value to its parents' values (workflow drills)",
    estimated_duration="<1 millisecond",
)
def accumulate(value: float = 0.0, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    parents = inputs or {}
    total = float(value) + sum(
        float(result["value"])
        for result in parents.values()
        if isinstance(result, dict) and isinstance(result.get("value"), int | float)
    )
    return {"value": total, "parents": sorted(parents)}
