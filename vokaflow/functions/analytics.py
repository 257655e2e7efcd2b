"""``analytics`` functions: descriptive statistics over numeric data."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from vokaflow.functions.registry import function
from vokaflow.schemas import WorkerType


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks, as numpy's default does."""
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@function(
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
