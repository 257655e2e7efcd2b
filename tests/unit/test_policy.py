from __future__ import annotations

import random
from dataclasses import replace

import pytest

from vokaflow.domain import ExecutionMode, Priority, WorkerType
from vokaflow.domain.backoff import retry_delay_s
from vokaflow.domain.priority import LevelBacklog, level_upper_bound
from vokaflow.domain.task import ClaimedTask, TaskSpec
from vokaflow.scheduler.policy import (
    Autoscaler,
    StarvationRule,
    batch_window,
    chunk_size,
    pack,
    plan_claims,
    recent_run_s,
    runs_long,
    urgent_reserve,
)

GP = WorkerType.GENERAL_PURPOSE


def _counts(**per_partition: dict[Priority, int]) -> dict[int, LevelBacklog]:
    counts = {}
    for name, by_priority in per_partition.items():
        levels = [0] * 8
        for priority, n in by_priority.items():
            levels[priority.level] = n
        counts[int(name.removeprefix("p"))] = LevelBacklog(levels, [0] * 8)
    return counts


def _normal_backlog(sizes_and_heads: dict[int, tuple[int, int]]) -> dict[int, LevelBacklog]:
    """NORMAL tasks per partition: how many, and the fair place of the first."""
    level = Priority.NORMAL.level
    backlogs = {}
    for partition, (n, head) in sizes_and_heads.items():
        counts, heads = [0] * 8, [0] * 8
        counts[level], heads[level] = n, head
        backlogs[partition] = LevelBacklog(counts, heads)
    return backlogs


def test_higher_levels_are_claimed_before_any_lower_level_across_partitions():
    counts = _counts(p0={Priority.BATCH: 50}, p3={Priority.EMERGENCY: 1, Priority.NORMAL: 5})
    claims = plan_claims(GP, counts, wanted=4)
    assert [(c.partition, c.count) for c in claims] == [(3, 4)]
    assert claims[0].max_score == level_upper_bound(Priority.NORMAL.level)


def test_a_level_that_does_not_fill_the_budget_spills_into_the_next():
    counts = _counts(p1={Priority.HIGH: 2}, p2={Priority.LOW: 10})
    claims = plan_claims(GP, counts, wanted=5)
    assert {(c.partition, c.count) for c in claims} == {(1, 2), (2, 3)}


def test_within_a_level_partitions_give_in_proportion_to_their_backlog():
    counts = _counts(p0={Priority.NORMAL: 30}, p1={Priority.NORMAL: 10})
    claims = plan_claims(GP, counts, wanted=8)
    assert {(c.partition, c.count) for c in claims} == {(0, 6), (1, 2)}


def test_a_claim_smaller_than_the_partitions_takes_the_best_first_tasks_not_the_largest():
    # one tenant's backlog of 19 a partition, and another tenant's task at the fair head of
    # a partition holding fewer: with proportion alone, it would wait for the others to drain
    backlogs = _normal_backlog({p: (19, 1_000 + p) for p in range(15)} | {15: (12, 900)})
    claims = plan_claims(GP, backlogs, wanted=1)
    assert [(c.partition, c.count) for c in claims] == [(15, 1)]
    claims = plan_claims(GP, backlogs, wanted=3)
    assert {(c.partition, c.count) for c in claims} == {(15, 1), (0, 1), (1, 1)}


def test_the_remainder_goes_to_partitions_with_nothing_taken_before_a_second_share():
    backlogs = _normal_backlog({0: (100, 500), 1: (5, 700), 2: (5, 600)})
    claims = plan_claims(GP, backlogs, wanted=10)
    # 100/110 of 10 is 9 for partition 0; the one left goes to the better untaken head
    assert {(c.partition, c.count) for c in claims} == {(0, 9), (2, 1)}


def test_reserved_slots_go_only_to_emergency_and_critical_work():
    counts = _counts(p0={Priority.CRITICAL: 1, Priority.BATCH: 100})
    no_general_room = plan_claims(GP, counts, wanted=0, urgent_extra=1)
    assert [(c.partition, c.count) for c in no_general_room] == [(0, 1)]
    assert no_general_room[0].max_score == level_upper_bound(Priority.CRITICAL.level)
    only_batch = _counts(p0={Priority.BATCH: 100})
    assert plan_claims(GP, only_batch, wanted=0, urgent_extra=1) == []


def test_urgent_work_uses_the_reserve_before_the_general_budget():
    counts = _counts(p0={Priority.EMERGENCY: 1, Priority.BATCH: 100})
    claims = plan_claims(GP, counts, wanted=3, urgent_extra=1)
    assert [(c.partition, c.count) for c in claims] == [(0, 4)]


def test_a_chunk_holds_what_the_pool_runs_in_the_target_time_within_the_cap():
    assert chunk_size(free_slots=4, mean_task_s=0.001, target_chunk_s=0.02, max_chunk=500) == 20
    assert chunk_size(4, 0.0001, 0.02, 500) == 200
    assert chunk_size(4, 0.00001, 0.02, 500) == 500
    assert chunk_size(4, 1.0, 0.02, 500) == 1
    assert chunk_size(0, 0.0001, 0.02, 500) == 1


def _task(n: int, priority: Priority = Priority.NORMAL, solo: bool = False) -> ClaimedTask:
    spec = TaskSpec(
        task_id=f"t{n}",
        function_name="noop",
        args=[],
        kwargs={},
        timeout_s=300.0,
        priority=priority,
        worker_type=GP,
        batch_id="",
        max_retries=0,
    )
    return ClaimedTask(
        spec=spec,
        attempt=1,
        solo=solo,
        system_retries=0,
    )


def _ids(chunks: list[list[ClaimedTask]]) -> list[list[str]]:
    return [[task.task_id for task in chunk] for chunk in chunks]


def _never_long(task: ClaimedTask) -> bool:
    return False


def _long_unless_noop(task: ClaimedTask) -> bool:
    return task.spec.function_name != "noop"


def test_a_short_queue_is_packed_into_one_call_not_one_call_a_task():
    tasks = [_task(n) for n in range(5)]
    assert _ids(pack(tasks, size=20, slots=3, reserved=1, long=_never_long)) == [
        ["t0", "t1", "t2", "t3", "t4"]
    ]


def test_what_does_not_fit_one_chunk_is_spread_evenly_in_priority_order():
    tasks = [_task(n) for n in range(7)]
    assert _ids(pack(tasks, size=3, slots=3, reserved=1, long=_never_long)) == [
        ["t0", "t1"],
        ["t2", "t3"],
        ["t4", "t5", "t6"],
    ]


def test_ordinary_work_never_takes_more_calls_than_its_free_slots_the_chunks_grow_instead():
    tasks = [_task(n) for n in range(10)]
    chunks = pack(tasks, size=2, slots=2, reserved=1, long=_never_long)
    assert [len(chunk) for chunk in chunks] == [5, 5]


def test_urgent_and_solo_tasks_go_alone_and_first_the_rest_is_packed():
    tasks = [
        _task(0, Priority.EMERGENCY),
        _task(1, Priority.CRITICAL),
        _task(2, solo=True),
        _task(3),
        _task(4),
    ]
    chunks = pack(tasks, size=20, slots=3, reserved=1, long=_never_long)
    assert _ids(chunks) == [["t0"], ["t1"], ["t2"], ["t3", "t4"]]


def test_an_emergency_task_takes_the_reserved_slot_and_ordinary_work_the_others():
    tasks = [_task(0, Priority.EMERGENCY), _task(1, Priority.HIGH), _task(2, Priority.BATCH)]
    chunks = pack(tasks, size=1, slots=2, reserved=1, long=_never_long)
    assert _ids(chunks) == [["t0"], ["t1"], ["t2"]]


def test_long_tasks_go_alone_when_the_slots_take_them_and_leave_one_for_the_rest():
    tasks = [_task(0), _task(1), _task(2), _task(3)]
    tasks[0] = replace(tasks[0], spec=replace(tasks[0].spec, function_name="sleep"))
    tasks[1] = replace(tasks[1], spec=replace(tasks[1].spec, function_name="sleep"))
    chunks = pack(tasks, size=20, slots=3, reserved=1, long=_long_unless_noop)
    assert _ids(chunks) == [["t0"], ["t1"], ["t2", "t3"]]


def test_long_tasks_past_the_free_slots_are_spread_over_them_not_sent_alone():
    tasks = [
        replace(_task(n), spec=replace(_task(n).spec, function_name="sleep")) for n in range(5)
    ]
    chunks = pack(tasks, size=20, slots=3, reserved=1, long=_long_unless_noop)
    assert _ids(chunks) == [["t0"], ["t1", "t2"], ["t3", "t4"]]


def test_urgent_tasks_past_every_free_slot_are_packed_at_the_head_of_the_first_chunk():
    tasks = [_task(n, Priority.CRITICAL) for n in range(3)] + [_task(3), _task(4)]
    chunks = pack(tasks, size=20, slots=1, reserved=1, long=_never_long)
    assert _ids(chunks) == [["t0"], ["t1", "t2", "t3", "t4"]]


def test_a_solo_task_goes_alone_even_past_the_free_slots():
    tasks = [_task(0, solo=True), _task(1, solo=True), _task(2)]
    chunks = pack(tasks, size=20, slots=1, reserved=0, long=_never_long)
    assert _ids(chunks) == [["t0"], ["t1"], ["t2"]]


def test_functions_not_seen_to_run_within_the_target_count_as_long():
    assert runs_long(None, 0.02)
    assert runs_long(0.021, 0.02)
    assert not runs_long(0.019, 0.02)


def test_a_function_s_recent_run_time_takes_a_longer_run_at_once_and_a_shorter_slowly():
    assert recent_run_s(None, 0.5, 0.2) == 0.5
    assert recent_run_s(0.001, 1.0, 0.2) == 1.0
    assert recent_run_s(1.0, 0.0, 0.2) == pytest.approx(0.8)
    after_short_runs = 1.0
    for _ in range(10):
        after_short_runs = recent_run_s(after_short_runs, 0.001, 0.2)
    assert after_short_runs > 0.02, "ten short runs do not yet make sleep(1) look short"


def test_a_pool_of_two_or_more_keeps_one_slot_for_urgent_work():
    assert urgent_reserve(1, 0.125) == 0
    assert urgent_reserve(4, 0.125) == 1
    assert urgent_reserve(64, 0.125) == 8


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    delays = [retry_delay_s(attempt, 0.5, 8.0, rng) for attempt in range(1, 8)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 8.0


def test_pools_scale_up_past_the_threshold_and_down_below_it_within_bounds():
    scaler = Autoscaler(scale_up_queue_size=100, scale_down_queue_size=10)
    assert scaler.floor(16) == 4
    assert scaler.next_target(4, queued=500, capacity=16) == 8
    assert scaler.next_target(8, queued=500, capacity=16) == 16
    assert scaler.next_target(16, queued=500, capacity=16) == 16
    assert scaler.next_target(16, queued=50, capacity=16) == 16
    assert scaler.next_target(16, queued=2, capacity=16) == 8
    assert scaler.next_target(4, queued=0, capacity=16) == 4


def test_a_short_queue_of_long_tasks_takes_a_slot_a_task_within_the_capacity():
    scaler = Autoscaler(scale_up_queue_size=100, scale_down_queue_size=10)
    assert scaler.next_target(1, queued=5, capacity=4, tasks_run_long=True) == 4
    assert scaler.next_target(4, queued=6, capacity=16, tasks_run_long=True) == 6
    assert (
        scaler.next_target(16, queued=6, capacity=16, since_change_s=1.0, tasks_run_long=True) == 8
    )
    assert (
        scaler.next_target(8, queued=6, capacity=16, since_change_s=1.0, tasks_run_long=True) == 6
    )


def test_a_short_queue_of_short_tasks_leaves_the_target_to_the_thresholds():
    scaler = Autoscaler(scale_up_queue_size=100, scale_down_queue_size=10)
    assert scaler.next_target(1, queued=5, capacity=4) == 1
    assert scaler.next_target(4, queued=50, capacity=16) == 4


def test_a_pool_grows_at_every_look_but_shrinks_at_most_once_a_period():
    scaler = Autoscaler(scale_up_queue_size=100, scale_down_queue_size=10, shrink_every_s=1.0)
    assert scaler.next_target(4, queued=500, capacity=16, since_change_s=0.1) == 8
    assert scaler.next_target(16, queued=2, capacity=16, since_change_s=0.1) == 16
    assert scaler.next_target(16, queued=2, capacity=16, since_change_s=1.0) == 8


def test_a_task_waiting_four_slas_is_promoted_one_level_and_waits_again():
    rule = StarvationRule(factor=4.0)
    batch = Priority.BATCH.level
    wait_ms = rule.wait_before_promotion_ms(batch)
    assert wait_ms == 1_200_000
    assert rule.promote(batch, waiting_since_ms=0, now_ms=wait_ms - 1) == (batch, 0)
    level, since = rule.promote(batch, waiting_since_ms=0, now_ms=wait_ms)
    assert (level, since) == (Priority.LOW.level, wait_ms)
    assert rule.promote(level, since, since + 1000) == (Priority.LOW.level, wait_ms)


def test_promotion_stops_at_high_so_urgent_levels_never_compete_with_promoted_work():
    rule = StarvationRule(factor=4.0)
    clock, level, since = 0, Priority.MAINTENANCE.level, 0
    for _ in range(100_000):
        clock += 60_000
        level, since = rule.promote(level, since, clock)
    assert level == Priority.HIGH.level


def test_batch_windows_follow_the_execution_mode():
    assert batch_window(ExecutionMode.SEQUENTIAL, 10, 0, capacity=8) == 1
    assert batch_window(ExecutionMode.ADAPTIVE, 3, 1, capacity=8) == 8
    assert batch_window(ExecutionMode.ADAPTIVE, 8, 2, capacity=8) == 8
    assert batch_window(ExecutionMode.ADAPTIVE, 7, 3, capacity=8) == 1
    assert batch_window(ExecutionMode.PARALLEL, 0, 50, capacity=8) > 10**6


# --- asking Ray's autoscaler for nodes ---------------------------------------------------

NODES = Autoscaler(scale_up_queue_size=100, scale_down_queue_size=10)


def test_a_full_pool_with_a_backlog_asks_for_twice_its_slots_within_its_maximum():
    assert NODES.slots_to_ask(500, True, 4, 16, 0) == 8
    assert NODES.slots_to_ask(500, True, 8, 10, 8) == 10


def test_a_pool_with_free_slots_or_a_short_queue_asks_for_nothing_new():
    assert NODES.slots_to_ask(500, False, 4, 16, 0) == 0
    assert NODES.slots_to_ask(50, True, 4, 16, 0) == 0


def test_a_pool_at_its_maximum_asks_for_nothing():
    assert NODES.slots_to_ask(500, True, 4, 4, 0) == 0


def test_an_ask_holds_until_the_queue_falls_below_the_scale_down_threshold():
    assert NODES.slots_to_ask(50, True, 8, 16, 8) == 8
    assert NODES.slots_to_ask(9, True, 8, 16, 8) == 0
