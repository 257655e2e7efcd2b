"""A worker pool as the scheduler reports it at each heartbeat, and when a task queued in
it should start: the one model behind a submit's and a status's estimated_start and
estimated_completion, and admission by SLA (``sla_policy: reject``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict


class PoolState(TypedDict, total=False):
    capacity: int  # slots on the cluster, at most the pool's maximum
    active: int  # chunks running
    target: int  # the concurrency the scheduler allows it now
    mean_task_s: float  # smoothed run time of its tasks
    busy_until: list[float]  # when each busy slot should free, wall time, soonest first


def start_delay_s(
    ahead: int, capacity: int, mean_run_s: float, busy_for_s: Sequence[float] = ()
) -> float:
    """Seconds until a task with ``ahead`` tasks before it in its pool starts.

    The pool has ``capacity`` slots; ``busy_for_s`` says how long each busy one is expected
    to stay busy (the scheduler's report), and the others are free now. The tasks ahead
    take the slots in the order they free, in rounds of ``capacity``, each for
    ``mean_run_s``. With every slot free this is ``(ahead // capacity) * mean_run_s``; with
    a slot held by a long task, a task that would be next still waits for that task."""
    capacity = max(1, capacity)
    busy = sorted(max(0.0, s) for s in busy_for_s)[:capacity]
    frees_in = [0.0] * (capacity - len(busy)) + busy
    rounds, slot = divmod(max(0, ahead), capacity)
    return frees_in[slot] + rounds * mean_run_s
