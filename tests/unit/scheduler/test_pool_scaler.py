"""Pool capacity and targets, free slots, and asks for nodes, over a fake clock."""

from __future__ import annotations

from tests.scheduler_fakes import GP, IO, START_WALL, build_rig, claimed, outcome
from vokaflow.domain import WorkerType
from vokaflow.scheduler.pool_scaler import ASK_EVERY_S

SIZES = dict(scale_up_queue_size=100, scale_down_queue_size=10)


def test_capacity_comes_from_the_cluster_within_the_pool_s_maximum():
    rig = build_rig(pool_max_workers={wt.value: 6 for wt in WorkerType})
    rig.cluster.slots = {GP: 8, IO: 3}
    rig.core.scaler.refresh_capacity()
    assert rig.core.scaler.capacity[GP] == 6 and rig.core.scaler.capacity[IO] == 3
    assert rig.core.scaler.target[GP] == 2  # a new pool starts at its floor, a quarter
    assert rig.core.hints.wakeup.is_set()


def test_free_slots_leave_the_urgent_reserve_out_of_ordinary_work():
    rig = build_rig(urgent_reserved_fraction=0.25)
    rig.pools(GENERAL_PURPOSE=(8, 8), IO_INTENSIVE=(2, 1))
    assert rig.core.scaler.free_slots() == {GP: (6, 8), IO: (1, 2)}


def test_the_target_caps_ordinary_slots():
    rig = build_rig(urgent_reserved_fraction=0)
    rig.pools(GENERAL_PURPOSE=(8, 3))
    assert rig.core.scaler.free_slots() == {GP: (3, 8)}


async def test_a_backlog_doubles_a_pool_s_target_at_each_look_up_to_its_capacity():
    rig = build_rig(**SIZES)
    rig.pools(GENERAL_PURPOSE=(16, 4))
    rig.queues.sizes[GP] = 500
    targets = []
    for _ in range(3):
        await rig.core.scaler.autoscale()
        targets.append(rig.core.scaler.target[GP])
    assert targets == [8, 16, 16]


async def test_a_short_queue_of_long_tasks_gets_every_ordinary_slot_at_the_next_look():
    # Six one-second tasks sent one by one to an idle 4-slot pool ran one after another at
    # the floor's one slot: the queue never reached the doubling threshold.
    rig = build_rig(**SIZES, urgent_reserved_fraction=0.125, chunk_target_s=0.02)
    rig.pools(GENERAL_PURPOSE=(4, 1))
    rig.core.dispatcher.launch(GP, [claimed()])
    assert rig.core.scaler.free_slots()[GP] == (0, 3)
    rig.queues.sizes[GP] = 5
    await rig.core.scaler.autoscale()
    assert rig.core.scaler.target[GP] == 1  # no run seen yet: short, as a new pool's mean
    rig.core.scaler.observe(GP, [outcome(claimed(), run_s=1.0)])
    await rig.core.scaler.autoscale()
    assert rig.core.scaler.target[GP] == 4
    assert rig.core.scaler.free_slots()[GP] == (2, 3)  # 4 less the reserve's 1, less 1 busy


async def test_without_a_backlog_a_pool_shrinks_at_most_once_per_period():
    rig = build_rig(**SIZES)
    rig.pools(GENERAL_PURPOSE=(16, 16))
    rig.core.scaler.target_changed[GP] = rig.clock.monotonic()
    await rig.core.scaler.autoscale()
    assert rig.core.scaler.target[GP] == 16
    rig.clock.advance(1.0)
    await rig.core.scaler.autoscale()
    rig.clock.advance(0.5)
    await rig.core.scaler.autoscale()
    assert rig.core.scaler.target[GP] == 8
    rig.clock.advance(0.5)
    await rig.core.scaler.autoscale()
    assert rig.core.scaler.target[GP] == 4


async def test_a_full_pool_under_a_backlog_asks_for_twice_its_slots():
    rig = build_rig(**SIZES, pool_max_workers={wt.value: 64 for wt in WorkerType})
    rig.pools(GENERAL_PURPOSE=(4, 4))
    rig.core.dispatcher.launch(GP, [claimed()])  # fills the ordinary slots with the reserve
    for _ in range(2):
        rig.core.dispatcher.launch(GP, [claimed()])
    rig.queues.sizes[GP] = 500
    await rig.core.scaler.autoscale()
    assert rig.cluster.asks == [{GP: 8}]


async def test_asks_for_nodes_go_out_at_most_once_per_period():
    rig = build_rig(**SIZES, pool_max_workers={wt.value: 64 for wt in WorkerType})
    rig.pools(GENERAL_PURPOSE=(4, 4))
    for _ in range(3):
        rig.core.dispatcher.launch(GP, [claimed()])
    rig.queues.sizes[GP] = 500
    await rig.core.scaler.autoscale()
    rig.queues.sizes[GP] = 0  # the ask would now be dropped
    rig.clock.advance(ASK_EVERY_S / 2)
    await rig.core.scaler.autoscale()
    assert rig.cluster.asks == [{GP: 8}]
    rig.clock.advance(ASK_EVERY_S / 2)
    await rig.core.scaler.autoscale()
    assert rig.cluster.asks == [{GP: 8}, {}]


async def test_tasks_waiting_in_chunks_count_as_demand():
    rig = build_rig(**SIZES, pool_max_workers={wt.value: 64 for wt in WorkerType})
    rig.pools(GENERAL_PURPOSE=(4, 4))
    for _ in range(3):
        rig.core.dispatcher.launch(GP, [claimed() for _ in range(60)])
    await rig.core.scaler.autoscale()  # nothing queued in Redis: 177 wait in chunks
    assert rig.cluster.asks == [{GP: 8}]


async def test_the_tasks_of_a_stopped_chunk_no_longer_count_as_demand():
    # a cancel stops the chunk its task is in and sends the others back to their queue,
    # where they count; the chunk's worker may take a while to go, its slot busy till then
    rig = build_rig(**SIZES, pool_max_workers={wt.value: 64 for wt in WorkerType})
    rig.pools(GENERAL_PURPOSE=(4, 4))
    chunks = [[claimed() for _ in range(60)] for _ in range(3)]
    for tasks in chunks:
        rig.core.dispatcher.launch(GP, tasks)
    await rig.core.scaler.autoscale()
    for tasks in chunks:
        rig.core.settler.stop_task(tasks[0].task_id)
    rig.clock.advance(ASK_EVERY_S)
    await rig.core.scaler.autoscale()
    assert rig.cluster.asks == [{GP: 8}, {}]
    assert rig.core.inflight.per_pool[GP] == 3  # the slots stay busy until the workers go


async def test_a_failed_ask_is_made_again_after_the_period():
    rig = build_rig(**SIZES, pool_max_workers={wt.value: 64 for wt in WorkerType})
    rig.pools(GENERAL_PURPOSE=(4, 4))
    for _ in range(3):
        rig.core.dispatcher.launch(GP, [claimed()])
    rig.queues.sizes[GP] = 500
    rig.cluster.failing = True
    await rig.core.scaler.autoscale()
    assert rig.core.scaler.asked[GP] == 0
    rig.cluster.failing = False
    rig.clock.advance(ASK_EVERY_S)
    await rig.core.scaler.autoscale()
    assert rig.cluster.asks == [{GP: 8}]


def test_the_pool_report_has_each_pool_s_state():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(4, 2))
    rig.core.dispatcher.launch(GP, [claimed()])
    assert rig.core.scaler.report()[GP] == {
        "capacity": 4,
        "active": 1,
        "target": 2,
        "mean_task_s": 0.001,
        "busy_until": [round(START_WALL + 0.001, 3)],
    }


def test_a_busy_slot_frees_when_its_tasks_recent_run_times_say():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(4, 4))
    rig.core.scaler.function_run_s["noop"] = 10.0
    rig.core.dispatcher.launch(GP, [claimed(), claimed()])  # one chunk of two
    rig.core.dispatcher.launch(GP, [claimed()])
    assert rig.core.scaler.report()[GP]["busy_until"] == [START_WALL + 10, START_WALL + 20]
    assert rig.core.scaler.report()[IO]["busy_until"] == []


def test_a_slot_busy_past_its_expected_end_is_expected_to_take_as_long_again():
    rig = build_rig()
    rig.pools(GENERAL_PURPOSE=(1, 1))
    rig.core.dispatcher.launch(GP, [claimed()])  # noop has never run: the pool's 1 ms
    rig.clock.advance(8)
    assert rig.core.scaler.report()[GP]["busy_until"] == [START_WALL + 16]
