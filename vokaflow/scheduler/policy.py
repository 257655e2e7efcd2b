"""Scheduling policy as pure functions: what to claim, how to pack it, when to retry, how
pools scale, and how waiting tasks are promoted. No Redis, no Ray, no clock of its own."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vokaflow.domain import ExecutionMode, Priority, WorkerType
from vokaflow.domain.priority import PROMOTION_CEILING, LevelBacklog, level_upper_bound
from vokaflow.domain.task import ClaimedTask
from vokaflow.store.dispatch_store import ClaimRequest

LEVELS = len(Priority)
URGENT_LEVELS = (Priority.EMERGENCY.level, Priority.CRITICAL.level)

# Ready tasks per partition: how many per level, and where each level's first one stands.
Backlogs = Mapping[int, LevelBacklog]


def _share(available: dict[int, int], heads: dict[int, int], budget: int) -> dict[int, int]:
    """Split ``budget`` over partitions in proportion to what each has; what is left over
    goes first to the partitions none of whose tasks is taken yet, best first task first.

    Each partition keeps its own fair order, so the budget is what keeps the order between
    them: a claim smaller than the partitions in use must take the best first tasks, or a
    partition holding fewer tasks would wait until every larger one came down to its size.
    """
    total = sum(available.values())
    if total <= budget:
        return dict(available)
    exact = {p: budget * n / total for p, n in available.items()}
    shares = {p: int(x) for p, x in exact.items()}
    leftover = budget - sum(shares.values())
    order = sorted(exact, key=lambda p: (shares[p] > 0, heads[p], shares[p] - exact[p]))
    for p in order[:leftover]:
        shares[p] += 1
    return shares


def plan_claims(
    worker_type: WorkerType, backlogs: Backlogs, wanted: int, urgent_extra: int = 0
) -> list[ClaimRequest]:
    """Claims that take the best ``wanted`` ready tasks, strictly level by level.

    EMERGENCY and CRITICAL tasks may also use ``urgent_extra`` more (the pool's reserved
    slots). Within a level, partitions give in proportion to their backlog, and what that
    leaves by their first tasks' fair places. One claim per partition takes its share up to
    the worst level chosen there; a better task that arrives before the claim is taken in
    place of a chosen one, so the order stays strict.
    """
    budget = wanted + urgent_extra
    taken_urgent = 0
    per_partition: dict[int, tuple[int, int]] = {}
    for level in range(LEVELS):
        if level not in URGENT_LEVELS:
            budget = min(budget, wanted - max(0, taken_urgent - urgent_extra))
        if budget <= 0:
            break
        available = {p: b.counts[level] for p, b in backlogs.items() if b.counts[level] > 0}
        heads = {p: backlogs[p].heads[level] for p in available}
        for partition, n in _share(available, heads, budget).items():
            if n > 0:
                count, _ = per_partition.get(partition, (0, level))
                per_partition[partition] = (count + n, level)
                budget -= n
                if level in URGENT_LEVELS:
                    taken_urgent += n
    return [
        ClaimRequest(worker_type, partition, level_upper_bound(level), count)
        for partition, (count, level) in sorted(per_partition.items())
    ]


def chunk_size(free_slots: int, mean_task_s: float, target_chunk_s: float, max_chunk: int) -> int:
    """Most tasks per remote call: what the pool runs in about ``target_chunk_s`` at its mean
    run time, within ``max_chunk``. A remote call costs far more CPU than a short task, so a
    pass packs whatever is ready, a short queue too; the time bound keeps the wait of the
    last task of a chunk behind the others near ``target_chunk_s``."""
    if free_slots <= 0:
        return 1
    by_time = int(target_chunk_s / max(mean_task_s, 1e-6))
    return max(1, min(max_chunk, by_time))


def recent_run_s(previous_s: float | None, run_s: float, smoothing: float) -> float:
    """A function's recent run time, as ``goes_alone`` reads it: a longer run counts at
    once, a shorter one only a ``smoothing`` part of the way down. A function whose run
    time depends on its arguments (``sleep``) is thus packed again only after a series of
    short runs, not after one."""
    if previous_s is None or run_s >= previous_s:
        return run_s
    return previous_s + smoothing * (run_s - previous_s)


def expected_free_at(started_s: float, expected_run_s: float, now_s: float) -> float:
    """When a busy slot should free: at its chunk's start plus the recent run times of its
    tasks; once past that, after as long again as the chunk has run so far (a task that
    outlives its function's usual time says little about its end, and a long one is
    likely to go on)."""
    expected_end = started_s + expected_run_s
    if expected_end > now_s:
        return expected_end
    return now_s + (now_s - started_s)


def runs_long(function_run_s: float | None, target_chunk_s: float) -> bool:
    """Whether a task of a function with this recent run time (``recent_run_s``; None: not
    run yet) could hold the rest of a chunk back: it goes alone when the slots allow."""
    return function_run_s is None or function_run_s > target_chunk_s


def pack(
    tasks: Sequence[ClaimedTask],
    size: int,
    slots: int,
    reserved: int,
    long: Callable[[ClaimedTask], bool],
) -> list[list[ClaimedTask]]:
    """The chunks to launch for ``tasks`` (in priority order): ``slots`` are free for any
    level, ``reserved`` more only for EMERGENCY and CRITICAL work.

    A ``solo`` task goes alone. EMERGENCY and CRITICAL tasks go alone too, in the reserved
    slots first, and so do ``long`` ones, as far as the slots allow while leaving one for
    the rest: past the slots an alone call would wait in Ray behind every other. The rest
    go in as few chunks of at most ``size`` as hold them, evenly filled, in priority
    order; if long tasks are among them they are spread over every slot left instead.
    """
    solo = [task for task in tasks if task.solo]
    urgent = [t for t in tasks if not t.solo and t.spec.priority.level in URGENT_LEVELS]
    others = [t for t in tasks if not t.solo and t.spec.priority.level not in URGENT_LEVELS]
    free = slots - len(solo)  # slots left for any level
    urgent_alone = urgent[: max(0, reserved + free - (1 if others else 0))]
    free -= max(0, len(urgent_alone) - reserved)
    longs = [task for task in others if long(task)]
    rest_left = len(longs) < len(others) or len(urgent_alone) < len(urgent)
    longs_alone = longs if len(longs) + rest_left <= free else []
    free -= len(longs_alone)
    lone = {id(task) for task in solo + urgent_alone + longs_alone}
    shared = [task for task in tasks if id(task) not in lone]
    if longs and not longs_alone:
        count = max(1, min(free, len(shared)))
    else:
        count = min(max(1, free), math.ceil(len(shared) / max(1, size)))
    chunks = [[task] for task in tasks if id(task) in lone]
    return chunks + [_slice(shared, i, count) for i in range(count) if shared]


def _slice(items: list[ClaimedTask], index: int, count: int) -> list[ClaimedTask]:
    """The ``index``-th of ``count`` contiguous, near-equal parts of ``items``."""
    return items[len(items) * index // count : len(items) * (index + 1) // count]


def urgent_reserve(capacity: int, fraction: float) -> int:
    """Slots of a pool kept for EMERGENCY and CRITICAL work: at least one once there are two."""
    if capacity < 2 or fraction <= 0:
        return 0
    return max(1, int(capacity * fraction))


@dataclass(frozen=True)
class Autoscaler:
    """Pool concurrency follows the queue: doubles past ``scale_up_queue_size`` queued, halves
    below ``scale_down_queue_size``, between ``floor`` and the pool's capacity. It may grow at
    every look; it shrinks at most once per ``shrink_every_s``, so a short lull between
    bursts does not take back what the next burst needs.

    Below the doubling threshold, a pool whose tasks run longer than a chunk's target time
    takes at least as many slots as it has tasks queued: a short queue of long tasks runs at
    once on slots the cluster has, not one after another at the floor. A pool of short
    tasks stays where it is: packed into few calls, they finish sooner than more calls
    would start."""

    scale_up_queue_size: int
    scale_down_queue_size: int
    shrink_every_s: float = 1.0

    @staticmethod
    def floor(capacity: int) -> int:
        return max(1, math.ceil(capacity / 4)) if capacity else 0

    def next_target(
        self,
        target: int,
        queued: int,
        capacity: int,
        since_change_s: float = math.inf,
        tasks_run_long: bool = False,
    ) -> int:
        floor = self.floor(capacity)
        if queued > self.scale_up_queue_size:
            target = target * 2
        elif queued < self.scale_down_queue_size and since_change_s >= self.shrink_every_s:
            target = target // 2
        if tasks_run_long and queued <= self.scale_up_queue_size:
            target = max(target, queued)
        return max(floor, min(capacity, target))

    def slots_to_ask(
        self, waiting: int, full: bool, capacity: int, max_workers: int, asked: int
    ) -> int:
        """The slots a pool asks Ray's autoscaler for (0: no ask). When it is ``full`` (no
        slot left for ordinary work) with more than ``scale_up_queue_size`` waiting, twice
        the slots it has, within ``max_workers``; the ask holds until fewer than
        ``scale_down_queue_size`` wait."""
        if waiting < self.scale_down_queue_size:
            return 0
        if waiting > self.scale_up_queue_size and full and capacity < max_workers:
            return min(max_workers, max(asked, 2 * max(capacity, 1)))
        return asked


@dataclass(frozen=True)
class StarvationRule:
    """A task that waited ``factor`` times its level's SLA moves up one level, to the back of
    it, and waits again before moving further. Nothing rises above HIGH, so promoted work
    never competes with EMERGENCY or CRITICAL. promote.lua applies the same rule in Redis."""

    factor: float

    def wait_before_promotion_ms(self, level: int) -> int:
        return int(self.factor * Priority.from_level(level).sla_seconds * 1000)

    def promote(self, level: int, waiting_since_ms: int, now_ms: int) -> tuple[int, int]:
        """(level, waiting since) after one pass of the rule at ``now_ms``."""
        if level <= PROMOTION_CEILING:
            return level, waiting_since_ms
        if now_ms - waiting_since_ms < self.wait_before_promotion_ms(level):
            return level, waiting_since_ms
        return level - 1, now_ms


ADAPTIVE_MIN_FINISHED = 5
ADAPTIVE_MAX_FAILURE_RATIO = 0.2


def batch_window(mode: ExecutionMode, completed: int, failed: int, capacity: int) -> int:
    """How many of a batch's tasks may be released and unfinished at once.

    sequential: one. adaptive: the pool's capacity while at most 20% of finished tasks failed
    (judged once 5 have finished), then one at a time. parallel: no limit (nothing is held).
    """
    if mode is ExecutionMode.SEQUENTIAL:
        return 1
    if mode is ExecutionMode.ADAPTIVE:
        finished = completed + failed
        if finished >= ADAPTIVE_MIN_FINISHED and failed / finished > ADAPTIVE_MAX_FAILURE_RATIO:
            return 1
        return max(1, capacity)
    return 2**31
