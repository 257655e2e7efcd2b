"""Outcomes to retries or final states, lost workers, deadlines and stops, over fakes."""

from __future__ import annotations

import random

import pytest

from tests.scheduler_fakes import GP, START_WALL, build_rig, claimed, outcome
from vokaflow.domain import TaskStatus
from vokaflow.domain.backoff import retry_delay_s
from vokaflow.scheduler.inflight import STARTUP_GRACE_S
from vokaflow.scheduler.settler import EARLY_CANCEL_MEMORY_S, STOP_AGAIN_AFTER_S, STOP_AGAIN_MAX_S


async def _dispatched(rig, *tasks, capacity=8):
    rig.pools(GENERAL_PURPOSE=(capacity, capacity))
    rig.store.add(*tasks)
    await rig.core.dispatcher.dispatch_round()


async def test_a_completed_task_is_final():
    rig = build_rig()
    task = claimed()
    await _dispatched(rig, task)
    rig.executor.finish(0)
    await rig.settle_all()
    assert [(o.task_id, o.status) for o in rig.ending.final] == [(task.task_id, "completed")]
    assert rig.ending.retries == []


async def test_a_failed_attempt_with_retries_left_runs_again_after_a_seeded_backoff():
    rig = build_rig(retry_backoff_base_s=2.0, retry_backoff_max_s=60.0)
    task = claimed(attempt=1, max_retries=2)
    await rig.core.settler.settle([task], [outcome(task, TaskStatus.FAILED)])
    [retry] = rig.ending.retries
    expected_s = retry_delay_s(1, 2.0, 60.0, random.Random(7))
    assert retry.ready_at_ms == int(START_WALL * 1000) + int(expected_s * 1000)
    assert rig.ending.final == []


async def test_the_backoff_doubles_with_each_attempt_up_to_its_cap():
    rig = build_rig(retry_backoff_base_s=1.0, retry_backoff_max_s=6.0)
    now_ms = int(START_WALL * 1000)
    delays = []
    for attempt in (1, 2, 3, 4):
        task = claimed(attempt=attempt, max_retries=9)
        _, [retry] = rig.core.settler.retries_or_final([task], [outcome(task, TaskStatus.FAILED)])
        delays.append((retry.ready_at_ms - now_ms) / 1000)
    ceilings = [1.0, 2.0, 4.0, 6.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))


async def test_a_task_fails_for_good_once_its_retries_are_spent():
    rig = build_rig()
    last_retry = claimed(attempt=2, max_retries=2)
    spent = claimed(attempt=3, max_retries=2)
    await rig.core.settler.settle(
        [last_retry, spent],
        [outcome(last_retry, TaskStatus.FAILED), outcome(spent, TaskStatus.FAILED)],
    )
    assert [r.outcome.task_id for r in rig.ending.retries] == [last_retry.task_id]
    assert [(o.task_id, o.status) for o in rig.ending.final] == [(spent.task_id, "failed")]


async def test_a_timeout_is_never_retried():
    rig = build_rig()
    task = claimed(attempt=1, max_retries=3)
    await rig.core.settler.settle([task], [outcome(task, TaskStatus.TIMEOUT)])
    assert [o.status for o in rig.ending.final] == [TaskStatus.TIMEOUT]


async def test_a_chunk_s_outcomes_settle_in_one_call():
    rig = build_rig(urgent_reserved_fraction=0)
    tasks = [claimed(max_retries=1) for _ in range(4)]
    await _dispatched(rig, *tasks, capacity=2)
    rig.executor.finish(0, TaskStatus.FAILED)
    await rig.settle_all()
    [(ids, final, retries)] = rig.ending.calls
    assert ids == rig.executor.launches[0].ids and len(retries) == 2 and final == []


async def test_a_finished_chunk_frees_its_slot_and_updates_the_mean_task_time():
    rig = build_rig()
    await _dispatched(rig, claimed())
    assert rig.core.inflight.per_pool[GP] == 1
    rig.executor.finish(0, run_s=1.001)
    await rig.settle_all()
    assert rig.core.inflight.per_pool[GP] == 0
    assert rig.core.scaler.mean_task_s[GP] == pytest.approx(0.001 + 0.2 * 1.0)


async def test_a_lost_worker_s_task_is_queued_again():
    rig = build_rig(max_system_retries=3)
    task = claimed(system_retries=2)
    await _dispatched(rig, task)
    rig.executor.lose(0, RuntimeError("node died"))
    await rig.settle_all()
    assert rig.store.requeued == [([(task.task_id, 1)], False)]
    assert rig.ending.calls == []
    assert GP in rig.core.hints.maybe_ready


async def test_a_lost_chunk_s_tasks_run_again_alone():
    rig = build_rig(urgent_reserved_fraction=0)
    await _dispatched(rig, *(claimed() for _ in range(4)), capacity=2)
    rig.executor.lose(0, RuntimeError("node died"))
    await rig.settle_all()
    [(pairs, solo)] = rig.store.requeued
    assert len(pairs) == 2 and solo


async def test_a_task_that_lost_its_worker_too_often_fails_with_worker_lost():
    rig = build_rig(max_system_retries=3)
    task = claimed(system_retries=3)
    await _dispatched(rig, task)
    rig.executor.lose(0, RuntimeError("node died"))
    await rig.settle_all()
    assert rig.store.requeued == []
    [ended] = rig.ending.final
    assert ended.status == TaskStatus.FAILED
    assert ended.error == {
        "type": "WorkerLost",
        "message": "worker lost 4 times: RuntimeError: node died",
        "traceback": None,
    }


async def test_a_lost_chunk_requeues_some_and_gives_up_on_others():
    rig = build_rig(max_system_retries=1, urgent_reserved_fraction=0)
    fresh, worn = claimed(system_retries=0), claimed(system_retries=1)
    await _dispatched(rig, fresh, worn, claimed(), claimed(), capacity=2)
    launch = next(x for x in rig.executor.launches if worn.task_id in x.ids)
    rig.executor.lose(rig.executor.launches.index(launch), RuntimeError("gone"))
    await rig.settle_all()
    assert [o.task_id for o in rig.ending.final] == [worn.task_id]
    assert rig.store.requeued == [([(fresh.task_id, 1)], True)]


async def test_a_single_task_past_its_deadline_times_out_and_its_worker_is_stopped():
    rig = build_rig()
    task = claimed(timeout_s=30)
    await _dispatched(rig, task)
    rig.clock.advance(STARTUP_GRACE_S + 30)
    await rig.core.settler.check_deadlines()
    assert rig.executor.stopped == [0]
    [ended] = rig.ending.final
    assert ended.status == TaskStatus.TIMEOUT
    assert ended.error["message"] == "Task exceeded its timeout of 30 s; its worker was stopped"
    assert ended.error["type"] == "TimeoutError"


async def test_an_overdue_chunk_of_several_tasks_runs_again_task_by_task():
    rig = build_rig(urgent_reserved_fraction=0)
    tasks = [claimed(timeout_s=10) for _ in range(4)]
    await _dispatched(rig, *tasks, capacity=2)
    rig.clock.advance(STARTUP_GRACE_S + 10)
    await rig.core.settler.check_deadlines()
    assert sorted(rig.executor.stopped) == [0, 1]
    assert all(solo for _, solo in rig.store.requeued)
    assert sorted(t for pairs, _ in rig.store.requeued for t, _ in pairs) == sorted(
        t.task_id for t in tasks
    )
    assert rig.ending.calls == []


async def test_a_stopped_chunk_whose_worker_stays_is_stopped_again_less_and_less_often():
    rig = build_rig()
    task = claimed()
    await _dispatched(rig, task)
    rig.core.settler.stop_task(task.task_id)  # Ray lost this cancel: the chunk runs on
    stops_by = []
    for waited_s in (STOP_AGAIN_AFTER_S, 2 * STOP_AGAIN_AFTER_S, 4 * STOP_AGAIN_AFTER_S):
        rig.clock.advance(waited_s - 0.01)
        await rig.core.settler.check_deadlines()
        stops_by.append(len(rig.executor.stopped))
        rig.clock.advance(0.01)
        await rig.core.settler.check_deadlines()
        stops_by.append(len(rig.executor.stopped))
    assert stops_by == [1, 2, 2, 3, 3, 4]
    assert rig.ending.calls == [] and rig.core.inflight.per_pool[GP] == 1


async def test_stopping_again_waits_at_most_the_cap():
    rig = build_rig()
    task = claimed()
    await _dispatched(rig, task)
    chunk = rig.core.inflight.of_task(task.task_id)
    rig.core.settler.stop_task(task.task_id)
    chunk.stops = 20
    rig.core.settler.stop_again(chunk)
    assert chunk.deadline == rig.clock.monotonic() + STOP_AGAIN_MAX_S


async def test_a_stopped_chunk_whose_worker_has_gone_is_not_stopped_again():
    rig = build_rig()
    task = claimed()
    await _dispatched(rig, task)
    rig.core.settler.stop_task(task.task_id)
    rig.executor.lose(0, RuntimeError("killed"))
    await rig.settle_all()
    rig.clock.advance(STOP_AGAIN_MAX_S)
    await rig.core.settler.check_deadlines()
    assert rig.executor.stopped == [0] and rig.core.inflight.chunks == {}


async def test_a_timed_out_task_s_worker_is_stopped_again_if_it_stays():
    rig = build_rig()
    await _dispatched(rig, claimed(timeout_s=30))
    rig.clock.advance(STARTUP_GRACE_S + 30)
    await rig.core.settler.check_deadlines()
    rig.clock.advance(STOP_AGAIN_AFTER_S)
    await rig.core.settler.check_deadlines()
    assert rig.executor.stopped == [0, 0]
    assert len(rig.ending.final) == 1  # its end was written once


async def test_a_chunk_within_its_deadline_is_left_running():
    rig = build_rig()
    await _dispatched(rig, claimed(timeout_s=30))
    rig.clock.advance(STARTUP_GRACE_S + 29)
    await rig.core.settler.check_deadlines()
    assert rig.executor.stopped == [] and rig.ending.calls == []


async def test_the_timeout_runs_from_the_worker_s_actual_start():
    rig = build_rig()
    task = claimed(timeout_s=30)
    await _dispatched(rig, task)
    rig.clock.advance(2)
    await rig.core.chunk_started(0, worker_pid=4242, started_at=rig.clock.time() - 1)
    assert rig.store.started == [([task.task_id], 4242, rig.clock.time() - 1)]
    rig.clock.advance(28.5)  # 29.5 s since the start: not yet
    await rig.core.settler.check_deadlines()
    assert rig.ending.calls == []
    rig.clock.advance(1)
    await rig.core.settler.check_deadlines()
    assert [o.status for o in rig.ending.final] == [TaskStatus.TIMEOUT]
    assert rig.ending.final[0].started_at == rig.clock.time() - 30.5


async def test_a_chunk_of_several_tasks_records_no_worker_pid():
    rig = build_rig(urgent_reserved_fraction=0)
    await _dispatched(rig, *(claimed() for _ in range(4)), capacity=2)
    await rig.core.chunk_started(0, worker_pid=7, started_at=rig.clock.time())
    assert rig.store.started == []


async def test_a_start_report_of_a_stopped_chunk_is_ignored():
    rig = build_rig()
    task = claimed()
    await _dispatched(rig, task)
    rig.core.settler.stop_task(task.task_id)
    await rig.core.chunk_started(0, worker_pid=7, started_at=rig.clock.time())
    assert rig.store.started == []


async def test_cancelling_a_running_task_stops_its_chunk_and_requeues_the_others_alone():
    rig = build_rig(urgent_reserved_fraction=0)
    tasks = [claimed() for _ in range(4)]
    await _dispatched(rig, *tasks, capacity=2)
    first = rig.executor.launches[0]
    rig.core.settler.stop_task(first.ids[0])
    await rig.settle_all()
    assert rig.executor.stopped == [first.chunk_id]
    assert rig.store.requeued == [([(first.ids[1], 1)], True)]


async def test_a_task_whose_cancel_arrives_between_its_claim_and_its_launch_never_runs():
    rig = build_rig(urgent_reserved_fraction=0)
    cancelled, other = claimed(), claimed()
    # the cancel's message overtakes the claim's reply: no chunk holds the task yet
    rig.store.on_claim = lambda taken: rig.core.on_message("cancel", cancelled.task_id)
    await _dispatched(rig, cancelled, other)
    assert [launch.ids for launch in rig.executor.launches] == [[other.task_id]]
    assert rig.core.inflight.of_task(cancelled.task_id) is None
    assert rig.core.settler.early_cancels == {}


async def test_a_round_that_dropped_a_cancelled_task_still_counts_as_a_full_claim():
    rig = build_rig(urgent_reserved_fraction=0)
    task = claimed()
    rig.store.on_claim = lambda taken: rig.core.on_message("cancel", task.task_id)
    rig.pools(GENERAL_PURPOSE=(1, 1))
    rig.core.scaler.mean_task_s[GP] = 1.0  # one task a chunk: the round asks for one
    rig.store.add(task, claimed())
    assert await rig.core.dispatcher.dispatch_round() is True
    assert rig.executor.launches == []


async def test_an_early_cancel_is_forgotten_after_a_while():
    rig = build_rig()
    rig.core.settler.stop_task("finished-long-ago")
    rig.clock.advance(EARLY_CANCEL_MEMORY_S + 1)
    rig.core.settler.stop_task("finished-just-now")
    assert list(rig.core.settler.early_cancels) == ["finished-just-now"]


async def test_the_outcome_of_a_stopped_chunk_is_not_written():
    rig = build_rig()
    task = claimed()
    await _dispatched(rig, task)
    rig.core.settler.stop_task(task.task_id)
    rig.executor.finish(0)
    await rig.settle_all()
    assert rig.ending.calls == []
    assert rig.core.inflight.chunks == {}
