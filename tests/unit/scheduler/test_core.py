"""The wired scheduler over fakes: start-up recovery, drain, pub/sub messages, the
heartbeat, housekeeping and starvation promotion."""

from __future__ import annotations

import asyncio

import pytest

from tests.scheduler_fakes import GP, IO, START_WALL, FakeClock, build_rig, claimed
from vokaflow.domain import Priority
from vokaflow.scheduler.housekeeping import SLOW_CHORES_S
from vokaflow.scheduler.policy import PROMOTION_CEILING, StarvationRule
from vokaflow.scheduler.retrying import REDIS_RETRY_S, until_stored
from vokaflow.store.errors import StoreUnavailable


async def test_on_start_the_scheduler_requeues_what_was_running_and_recovers_batches():
    rig = build_rig()
    rig.cluster.slots = {GP: 4}
    rig.store.left_running = 3
    assert await rig.core.recover() == 3
    assert rig.batches.calls == [("recover", None)]
    assert rig.core.scaler.capacity[GP] == 4


async def test_drain_waits_for_running_chunks_and_stops_dispatch():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(4, 4))
    rig.store.add(claimed())
    await rig.core.dispatcher.dispatch_round()
    drained = asyncio.get_event_loop().create_task(rig.core.drain(grace_s=30))
    await asyncio.sleep(0)
    rig.store.add(claimed())
    assert not await rig.core.dispatcher.dispatch_round()
    rig.executor.finish(0)
    assert await drained == 0
    assert len(rig.ending.calls) == 1


async def test_drain_gives_up_after_its_grace_and_counts_what_still_runs():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(4, 4))
    rig.store.add(claimed(), claimed())
    await rig.core.dispatcher.dispatch_round()
    assert await rig.core.drain(grace_s=1.0) == 2
    assert sum(rig.clock.slept) == pytest.approx(1.0)


def test_pub_sub_messages_reach_their_part():
    rig = build_rig()
    rig.core.hints.maybe_ready.clear()
    rig.core.on_message("wakeup", "IO_INTENSIVE")
    assert rig.core.hints.maybe_ready == {IO}
    rig.core.on_message("webhooks", "1")
    assert rig.webhook_refreshes == [None]


async def test_a_cancel_message_stops_the_running_task():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(4, 4))
    task = claimed()
    rig.store.add(task)
    await rig.core.dispatcher.dispatch_round()
    rig.core.on_message("cancel", task.task_id)
    assert rig.executor.stopped == [0]


async def test_a_batch_message_advances_the_batch():
    rig = build_rig()
    rig.core.on_message("batch", "b1")
    await asyncio.sleep(0)
    assert rig.batches.calls == [("advance", "b1")]


async def test_the_heartbeat_carries_the_pool_report_and_sets_the_gauges():
    rig = build_rig(scheduler_stale_after_s=10)
    rig.pools(GENERAL_PURPOSE=(4, 2))
    rig.core.dispatcher.launch(GP, [claimed()])
    await rig.core.telemetry.beat()
    [(at, pools, ttl_s)] = rig.store.beats
    assert (at, ttl_s, pools[GP]["active"]) == (START_WALL, 10, 1)
    assert rig.metrics.pools[-1]["GENERAL_PURPOSE"] == (1, 4)


async def test_a_heartbeat_survives_broken_metrics():
    rig = build_rig()
    rig.metrics.broken = True
    await rig.core.telemetry.beat()
    assert len(rig.store.beats) == 1


async def test_the_heartbeat_sets_the_ready_tasks_per_priority_over_every_pool():
    rig = build_rig()
    rig.store.add(claimed(Priority.HIGH), claimed(Priority.HIGH, IO), claimed(Priority.BATCH))
    await rig.core.telemetry.beat()
    [depths] = rig.metrics.depths
    assert depths[Priority.HIGH] == 2 and depths[Priority.BATCH] == 1
    assert set(depths) == set(Priority) and sum(depths.values()) == 3


async def test_a_heartbeat_without_redis_skips_the_queue_depths():
    rig = build_rig()

    async def unavailable(pools):
        raise StoreUnavailable("redis", "down")

    rig.store.level_counts = unavailable  # type: ignore[method-assign]
    await rig.core.telemetry.beat()
    assert rig.metrics.depths == [] and len(rig.metrics.pools) == 1


async def test_housekeeping_promotes_starving_tasks_with_the_rule_s_waits_once_per_period():
    rig = build_rig(starvation_factor=4.0)
    await rig.core.housekeeper.tick()
    rule = StarvationRule(4.0)
    waits = [rule.wait_before_promotion_ms(level) for level in range(len(Priority))]
    assert rig.store.promotions == [(int(START_WALL * 1000), waits, PROMOTION_CEILING)]
    rig.clock.advance(SLOW_CHORES_S / 2)
    await rig.core.housekeeper.tick()
    assert len(rig.store.promotions) == 1
    rig.clock.advance(SLOW_CHORES_S / 2)
    await rig.core.housekeeper.tick()
    assert len(rig.store.promotions) == 2


async def test_slow_chores_expire_batches_and_dead_letters_and_index_owners_once():
    rig = build_rig(batch_submit_grace_s=60)
    await rig.core.housekeeper.tick()
    rig.clock.advance(SLOW_CHORES_S)
    await rig.core.housekeeper.tick()
    now_ms = int(START_WALL * 1000)
    assert rig.batches.calls[:2] == [
        ("expire_due", now_ms),
        ("finish_interrupted", START_WALL - 60),
    ]
    assert rig.dead_letters.indexed == 1
    assert rig.dead_letters.forgotten == [now_ms, now_ms + 1000]


async def test_slow_chores_backfill_the_task_indexes_until_done_and_trim_them_each_time():
    rig = build_rig()
    for _ in range(4):
        await rig.core.housekeeper.tick()
        rig.clock.advance(SLOW_CHORES_S)
    assert rig.task_index.backfill_steps == 2  # done after its second step
    now_ms = int(START_WALL * 1000)
    assert rig.task_index.trims == [now_ms + 1000 * i for i in range(4)]


async def test_housekeeping_scales_pools_at_every_tick():
    rig = build_rig(scale_up_queue_size=100)
    rig.pools(GENERAL_PURPOSE=(16, 4))
    rig.queues.sizes[GP] = 500
    await rig.core.housekeeper.tick()
    rig.clock.advance(0.1)
    await rig.core.housekeeper.tick()
    assert rig.core.scaler.target[GP] == 16


async def test_a_write_waits_for_redis_to_answer_again():
    clock = FakeClock()
    answers = [StoreUnavailable("redis", "down"), StoreUnavailable("redis", "down"), "written"]

    async def write():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await until_stored(write, clock) == "written"
    assert clock.slept == [REDIS_RETRY_S, REDIS_RETRY_S]
