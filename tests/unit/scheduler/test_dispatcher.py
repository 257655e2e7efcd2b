"""Dispatch order, urgent reserve, chunking and solo tasks, over a fake store and executor."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.scheduler_fakes import GP, IO, build_rig, claimed
from vokaflow.domain import Priority, WorkerType
from vokaflow.scheduler.hints import ReadyHints
from vokaflow.scheduler.policy import pack
from vokaflow.store.errors import StoreUnavailable


async def test_tasks_of_a_function_not_yet_seen_to_be_short_go_alone_while_slots_allow():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(8, 8))
    rig.store.add(*(claimed() for _ in range(3)))
    assert await rig.core.dispatcher.dispatch_round()
    assert [len(x.tasks) for x in rig.executor.launches] == [1, 1, 1]


async def test_tasks_the_free_slots_can_take_go_alone_even_of_a_short_function():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(8, 8))
    tasks = [claimed() for _ in range(3)]
    rig.core.scaler.function_run_s[tasks[0].spec.function_name] = 0.001
    rig.store.add(*tasks)
    assert await rig.core.dispatcher.dispatch_round()
    assert [x.ids for x in rig.executor.launches] == [[t.task_id] for t in tasks]


async def test_more_ready_tasks_of_a_short_function_than_slots_go_in_as_few_calls_as_hold_them():
    rig = build_rig(urgent_reserved_fraction=0)
    rig.pools(GENERAL_PURPOSE=(2, 2))
    tasks = [claimed() for _ in range(6)]
    rig.core.scaler.function_run_s[tasks[0].spec.function_name] = 0.001
    rig.store.add(*tasks)
    assert await rig.core.dispatcher.dispatch_round()
    assert [x.ids for x in rig.executor.launches] == [[t.task_id for t in tasks]]


async def test_a_backlog_is_packed_into_chunks_spread_over_the_free_slots():
    rig = build_rig(urgent_reserved_fraction=0)
    rig.pools(GENERAL_PURPOSE=(4, 4))
    rig.store.add(*(claimed() for _ in range(20)))
    await rig.core.dispatcher.dispatch_round()
    assert [len(x.tasks) for x in rig.executor.launches] == [5, 5, 5, 5]
    assert rig.store.queues[GP] == []


async def test_a_slow_pool_gets_smaller_chunks():
    rig = build_rig(urgent_reserved_fraction=0, chunk_target_s=0.02)
    rig.pools(GENERAL_PURPOSE=(2, 2))
    rig.core.scaler.mean_task_s[GP] = 0.01  # two tasks make a chunk of 20 ms
    rig.store.add(*(claimed() for _ in range(40)))
    await rig.core.dispatcher.dispatch_round()
    assert [len(x.tasks) for x in rig.executor.launches] == [2, 2]


async def test_chunks_launch_in_priority_order():
    rig = build_rig(urgent_reserved_fraction=0)
    rig.pools(GENERAL_PURPOSE=(8, 8))
    low, high, emergency = (
        claimed(Priority.LOW),
        claimed(Priority.HIGH),
        claimed(Priority.EMERGENCY),
    )
    rig.store.add(low, high, emergency)
    await rig.core.dispatcher.dispatch_round()
    assert [x.ids for x in rig.executor.launches] == [
        [emergency.task_id],
        [high.task_id],
        [low.task_id],
    ]


async def test_fewer_slots_than_tasks_take_the_best_levels_first():
    rig = build_rig(urgent_reserved_fraction=0, max_chunk_size=1)
    rig.pools(GENERAL_PURPOSE=(2, 2))
    batch = [claimed(Priority.BATCH) for _ in range(3)]
    normal = claimed(Priority.NORMAL)
    rig.store.add(*batch, normal)
    await rig.core.dispatcher.dispatch_round()
    launched = [t.task_id for x in rig.executor.launches for t in x.tasks]
    assert launched == [normal.task_id, batch[0].task_id]


async def test_the_urgent_reserve_takes_emergency_work_when_ordinary_slots_are_full():
    rig = build_rig(urgent_reserved_fraction=0.25)
    rig.pools(GENERAL_PURPOSE=(4, 4))  # one slot reserved
    rig.store.add(*(claimed(Priority.BATCH) for _ in range(3)))
    await rig.core.dispatcher.dispatch_round()
    assert len(rig.executor.launches) == 3
    emergency = claimed(Priority.EMERGENCY)
    rig.store.add(claimed(Priority.BATCH), emergency)
    await rig.core.dispatcher.dispatch_round()
    assert rig.executor.launches[-1].ids == [emergency.task_id]
    assert len(rig.executor.launches) == 4


async def test_ordinary_work_never_takes_the_reserved_slot():
    rig = build_rig(urgent_reserved_fraction=0.25)
    rig.pools(GENERAL_PURPOSE=(4, 4))
    rig.store.add(*(claimed(Priority.NORMAL) for _ in range(4)))
    await rig.core.dispatcher.dispatch_round()
    assert len(rig.executor.launches) == 3  # the four share the three ordinary slots
    assert rig.core.inflight.per_pool[GP] == 3
    assert sorted(len(x.tasks) for x in rig.executor.launches) == [1, 1, 2]


async def test_a_solo_task_runs_alone_even_under_a_backlog():
    rig = build_rig(urgent_reserved_fraction=0)
    rig.pools(GENERAL_PURPOSE=(2, 2))
    solo = claimed(solo=True)
    rig.store.add(*(claimed() for _ in range(5)), solo)
    await rig.core.dispatcher.dispatch_round()
    chunks = [x.ids for x in rig.executor.launches]
    assert chunks[0] == [solo.task_id]
    assert sorted(len(c) for c in chunks) == [1, 5]  # no more calls than free slots


def test_packing_sends_a_solo_task_alone_first():
    a, b, s, c = claimed(), claimed(), claimed(solo=True), claimed()
    chunks = pack([a, b, s, c], 2, 8, 0, lambda _: False)
    assert [[t.task_id for t in chunk] for chunk in chunks] == [
        [s.task_id],
        [a.task_id],
        [b.task_id, c.task_id],
    ]


def test_packing_fills_its_chunks_evenly():
    tasks = [claimed() for _ in range(7)]
    assert [len(c) for c in pack(tasks, 3, 8, 0, lambda _: False)] == [2, 2, 3]


async def test_busy_slots_are_not_dispatched_to_again():
    rig = build_rig(urgent_reserved_fraction=0)
    rig.pools(GENERAL_PURPOSE=(2, 2))
    rig.store.add(claimed(), claimed())
    await rig.core.dispatcher.dispatch_round()
    rig.store.add(claimed())
    assert not await rig.core.dispatcher.dispatch_round()
    assert len(rig.executor.launches) == 2
    assert rig.core.inflight.per_pool[GP] == 2


async def test_a_pool_without_slots_is_not_even_counted():
    rig = build_rig()
    rig.pools(IO_INTENSIVE=(4, 4))
    rig.store.add(claimed(worker_type=GP))
    assert not await rig.core.dispatcher.dispatch_round()
    assert rig.store.counted == [[IO]]


async def test_a_pool_seen_empty_is_skipped_until_a_wake_up_names_it():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(4, 4))
    await rig.core.dispatcher.dispatch_round()
    assert GP not in rig.core.hints.maybe_ready
    rig.store.add(claimed())
    assert not await rig.core.dispatcher.dispatch_round()
    rig.core.hints.hint("GENERAL_PURPOSE")
    assert await rig.core.dispatcher.dispatch_round()


async def test_a_wake_up_during_the_count_keeps_the_pool_ready():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(4, 4))
    rig.store.on_count = lambda: rig.core.hints.hint("GENERAL_PURPOSE")
    await rig.core.dispatcher.dispatch_round()
    assert GP in rig.core.hints.maybe_ready


async def test_a_draining_scheduler_dispatches_nothing():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(4, 4))
    rig.store.add(claimed())
    rig.core.dispatcher.draining = True
    assert not await rig.core.dispatcher.dispatch_round()
    assert rig.store.claims == []


async def test_only_first_attempts_report_their_queue_wait():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(8, 8))
    rig.store.add(claimed(Priority.HIGH), claimed(attempt=2))
    await rig.core.dispatcher.dispatch_round()
    assert rig.metrics.waits == [(Priority.HIGH, 5.0)]


async def test_broken_metrics_do_not_stop_dispatch():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(8, 8))
    rig.metrics.broken = True
    rig.store.add(claimed())
    assert await rig.core.dispatcher.dispatch_round()
    assert len(rig.executor.launches) == 1


def test_a_wake_up_names_its_pools_and_ignores_unknown_ones():
    hints = ReadyHints()
    hints.maybe_ready.clear()
    hints.hint("IO_INTENSIVE,NOT_A_POOL")
    assert hints.maybe_ready == {IO}
    assert hints.wakeup.is_set()
    hints.hint("*")
    assert hints.maybe_ready == set(WorkerType)


async def test_a_claim_whose_reply_was_lost_has_its_tasks_returned_once_redis_answers():
    """Redis may run a claim and lose only its reply: its tasks would be running with no
    worker. The next round returns what was claimed at that dispatch time, then goes on."""
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(8, 8))
    rig.store.add(claimed())
    real_claim = rig.store.claim

    async def lost_reply(requests, now_s):
        raise StoreUnavailable("redis", "connection lost")

    rig.store.claim = lost_reply  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await rig.core.dispatcher.dispatch_round()
    lost_at = rig.core.dispatcher.lost_claims[0]
    rig.store.claim = real_claim  # type: ignore[method-assign]
    assert await rig.core.dispatcher.dispatch_round()
    assert rig.store.unclaimed == [lost_at]
    assert rig.core.dispatcher.lost_claims == []
    assert len(rig.executor.launches) == 1


async def test_a_lost_claim_is_kept_until_its_tasks_could_be_returned():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(8, 8))
    rig.core.dispatcher.lost_claims.append(123.0)

    async def still_down(now_s):
        raise StoreUnavailable("redis", "down")

    rig.store.requeue_claimed_at = still_down  # type: ignore[method-assign]
    rig.store.add(claimed())
    with pytest.raises(StoreUnavailable):
        await rig.core.dispatcher.dispatch_round()
    assert rig.core.dispatcher.lost_claims == [123.0]
    assert rig.executor.launches == []  # nothing new is claimed before the lost ones are back


async def test_a_child_that_asks_for_its_parents_results_gets_them_when_dispatched():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(8, 8))
    child = claimed()
    child = replace(
        child,
        spec=replace(child.spec, depends_on={"p1": "left", "p2": "right"}, pass_results_as="xs"),
    )
    rig.store.results = {"p1": '{"value": 1}'}  # p2 left no result
    rig.store.add(child)
    await rig.core.dispatcher.dispatch_round()
    (launch,) = rig.executor.launches
    assert launch.tasks[0].spec.kwargs == {"xs": {"left": {"value": 1}, "right": None}}


async def test_a_child_whose_parents_results_are_too_big_fails_without_running():
    rig = build_rig(max_inputs_bytes=1024)
    rig.pools(GENERAL_PURPOSE=(8, 8))
    child, other = claimed(), claimed()
    child = replace(child, spec=replace(child.spec, depends_on={"p": "p"}, pass_results_as="xs"))
    rig.store.results = {"p": '"' + "x" * 2000 + '"'}
    rig.store.add(child, other)
    await rig.core.dispatcher.dispatch_round()
    assert [x.ids for x in rig.executor.launches] == [[other.task_id]]
    (failure,) = rig.ending.final
    assert (failure.task_id, failure.status, failure.error["type"]) == (
        child.task_id,
        "failed",
        "InputsTooLarge",
    )


async def test_a_round_launches_its_claims_in_fair_order_across_partitions():
    rig = build_rig(urgent_reserved_fraction=0)
    rig.pools(GENERAL_PURPOSE=(1, 1))
    rig.core.scaler.function_run_s["noop"] = 0.001
    later, sooner = replace(claimed(), score=2.0), replace(claimed(), score=1.0)
    rig.store.add(later, sooner)  # as two partitions' claims come back: partition order
    await rig.core.dispatcher.dispatch_round()
    assert [x.ids for x in rig.executor.launches] == [[sooner.task_id, later.task_id]]
