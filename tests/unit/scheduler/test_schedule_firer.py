"""The schedule firer over fakes and a fake clock: one task per fire, late fires, missed
fires by policy, rate-limit refusals put off (not lost), deleted schedules, two firers."""

from __future__ import annotations

import asyncio

import pytest

from tests.scheduler_fakes import START_WALL, FakeClock, FakeSchedules, FakeSubmit, build_rig
from vokaflow.config import Settings
from vokaflow.domain.schedule import FireRule, MissedFires, Schedule, TaskTemplate, fire_task_id
from vokaflow.scheduler.schedule_firer import ScheduleFirer
from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.schedules import Fire

START = int(START_WALL)


def every(seconds: int, missed: MissedFires = MissedFires.SKIP, sid: str = "sch_1") -> Schedule:
    return Schedule(
        schedule_id=sid,
        owner="alice",
        template=TaskTemplate(name="ping", function_name="noop", category="system"),
        rule=FireRule(interval_s=seconds, start=START),
        missed=missed,
    ).rescheduled(START)


def fire_times(submit: FakeSubmit) -> list[int]:
    return sorted(int(t.created_at) for t in submit.written.values())


async def test_each_fire_submits_one_task_at_its_time():
    rig = build_rig()
    rig.schedules.add(every(10))
    for _ in range(35):
        rig.clock.advance(1)
        await rig.core.firer.tick()
    tasks = sorted(rig.submit_fire.written.values(), key=lambda t: t.created_at)
    assert [int(t.created_at) - START for t in tasks] == [10, 20, 30]
    assert [t.task_id for t in tasks] == [
        fire_task_id("alice", "sch_1", START + s) for s in (10, 20, 30)
    ]
    assert {(t.owner, t.function_name, t.category) for t in tasks} == {("alice", "noop", "system")}
    assert rig.schedules.schedules["sch_1"].next_fire == START + 40
    assert rig.metrics.fires == {"submitted": 3}


async def test_two_firers_on_one_store_submit_each_fire_once():
    clock, schedules, submit = FakeClock(), FakeSchedules(), FakeSubmit()
    schedules.add(every(5))
    firers = [ScheduleFirer(schedules, submit, lambda _: 0, clock, Settings()) for _ in range(2)]
    for _ in range(20):
        clock.advance(1)
        due = [await schedules.due(clock.time(), 10) for _ in firers]  # both read first
        claims = [
            await f.claim(s, clock.time())
            for f, read in zip(firers, due, strict=True)
            for s in read
        ]
        assert claims.count(True) <= 1
        for firer in firers:
            await firer.tick()
    assert len(submit.written) == 4  # fires at +5, +10, +15, +20


async def test_a_fire_submitted_twice_is_one_task():
    """A firer that died after the write and before dropping the fire: the next submits
    it again, and the derived task id makes that a no-op."""
    rig = build_rig()
    rig.schedules.add(every(10))
    rig.clock.advance(10)
    await rig.core.firer.tick()
    rig.schedules.fires[Fire("sch_1", START + 10)] = rig.clock.time()  # as if never dropped
    assert await rig.core.firer.tick() == 1
    assert len(rig.submit_fire.written) == 1
    assert not rig.schedules.fires


async def test_no_fire_is_submitted_before_a_replica_has_its_claim():
    """A claim only the primary holds may be lost in a failover, and the fire then never
    claimed again (a later fire is due by then): its task must not have run."""
    rig = build_rig()
    rig.schedules.add(every(10))
    rig.schedules.replica_behind = True
    rig.clock.advance(10)
    with pytest.raises(StoreUnavailable):
        await rig.core.firer.tick()
    assert rig.submit_fire.written == {}
    assert list(rig.schedules.fires) == [Fire("sch_1", START + 10)]  # claimed, waiting
    rig.schedules.replica_behind = False
    rig.clock.advance(1)
    assert await rig.core.firer.tick() == 1
    assert list(rig.submit_fire.written) == [fire_task_id("alice", "sch_1", START + 10)]


async def test_a_restart_after_downtime_skips_what_was_missed():
    rig = build_rig(schedule_misfire_grace_s=3)
    rig.schedules.add(every(10))
    rig.clock.advance(3605)  # nothing fired for an hour; the latest fire is 5 s old
    await rig.core.firer.tick()
    assert rig.submit_fire.written == {}
    assert rig.metrics.fires == {"skipped": 360}
    assert rig.schedules.schedules["sch_1"].next_fire == START + 3610
    rig.clock.advance(5)
    await rig.core.firer.tick()
    assert fire_times(rig.submit_fire) == [START + 3610]


async def test_run_latest_runs_the_latest_missed_fire_once_after_downtime():
    rig = build_rig(schedule_misfire_grace_s=30)
    rig.schedules.add(every(10, MissedFires.RUN_LATEST))
    rig.clock.advance(3605)
    await rig.core.firer.tick()
    await rig.core.firer.tick()
    assert fire_times(rig.submit_fire) == [START + 3605]  # submitted now, for the 3600 fire
    (task,) = rig.submit_fire.written.values()
    assert task.task_id == fire_task_id("alice", "sch_1", START + 3600)


async def test_a_fire_the_rate_limit_refuses_is_tried_again_not_lost():
    rig = build_rig()
    rig.schedules.add(every(10))
    rig.submit_fire.refuse_s = 3
    rig.clock.advance(10)
    await rig.core.firer.tick()
    assert rig.submit_fire.written == {}
    assert list(rig.schedules.fires.values()) == [rig.clock.time() + 3]
    rig.submit_fire.refuse_s = None
    rig.clock.advance(2)
    assert await rig.core.firer.tick() == 0  # not yet
    rig.clock.advance(1)
    assert await rig.core.firer.tick() == 1
    assert list(rig.submit_fire.written) == [fire_task_id("alice", "sch_1", START + 10)]
    assert rig.metrics.fires == {"put_off": 1, "submitted": 1}


async def test_fires_go_on_when_the_metrics_agent_is_gone():
    rig = build_rig()
    rig.metrics.broken = True
    rig.schedules.add(every(10))
    rig.clock.advance(10)
    assert await rig.core.firer.tick() == 1


async def test_a_paused_schedule_does_not_fire_and_a_deleted_one_drops_its_fire():
    rig = build_rig()
    paused = every(10, sid="paused")
    rig.schedules.add(Schedule(**{**paused.__dict__, "paused": True}).rescheduled(START))
    rig.schedules.add(every(10, sid="gone"))
    rig.clock.advance(10)
    (due,) = await rig.schedules.due(rig.clock.time(), 10)
    await rig.core.firer.claim(due, rig.clock.time())
    del rig.schedules.schedules["gone"]  # deleted between the claim and the submit
    await rig.core.firer.tick()
    assert rig.submit_fire.written == {}
    assert not rig.schedules.fires


async def test_a_draining_scheduler_fires_no_more():
    rig = build_rig()
    rig.schedules.add(every(10))
    firing = asyncio.create_task(rig.core.firer.run())
    while not rig.submit_fire.written:
        await asyncio.sleep(0)
    await rig.core.drain(grace_s=0)
    await asyncio.wait_for(firing, timeout=5)  # the loop ends instead of ticking on
    assert len(rig.submit_fire.written) == 1
