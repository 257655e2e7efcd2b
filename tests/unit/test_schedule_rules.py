"""A schedule's fire times (cron in a time zone, intervals, start and end), the two
daylight-saving days as croniter defines them, the missed-fire policy and the rule checks."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from vokaflow.domain.schedule import (
    FireRule,
    MissedFires,
    RuleError,
    Schedule,
    TaskTemplate,
    fire_task_id,
    plan_fire,
)

MADRID = ZoneInfo("Europe/Madrid")


def madrid(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=MADRID).timestamp())


def local(fires: list[int]) -> list[str]:
    """Fire times as Madrid wall clock with the offset, e.g. 02:30+02:00."""
    return [datetime.fromtimestamp(f, MADRID).strftime("%d %H:%M%z") for f in fires]


def test_a_daily_cron_fires_at_its_wall_clock_time_in_its_zone():
    rule = FireRule(cron="30 2 * * *", timezone="Europe/Madrid")
    fires = rule.upcoming(madrid("2026-06-01T12:00"), 2)
    assert local(fires) == ["02 02:30+0200", "03 02:30+0200"]


def test_spring_forward_a_fire_in_the_skipped_hour_runs_when_the_clock_jumps():
    # 2026-03-29 in Madrid: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day
    daily = FireRule(cron="30 2 * * *", timezone="Europe/Madrid")
    assert local(daily.upcoming(madrid("2026-03-28T12:00"), 3)) == [
        "29 03:00+0200",
        "30 02:30+0200",
        "31 02:30+0200",
    ]
    half_hourly = FireRule(cron="*/30 * * * *", timezone="Europe/Madrid")
    assert local(half_hourly.upcoming(madrid("2026-03-29T01:00"), 3)) == [
        "29 01:30+0100",
        "29 03:00+0200",  # 02:00 and 02:30 do not exist: one fire at the jump
        "29 03:30+0200",
    ]


def test_fall_back_the_repeated_hour_fires_in_both_offsets():
    # 2026-10-25 in Madrid: 03:00 CEST becomes 02:00 CET; 02:00-02:59 happens twice
    daily = FireRule(cron="30 2 * * *", timezone="Europe/Madrid")
    fires = daily.upcoming(madrid("2026-10-24T12:00"), 3)
    assert local(fires) == ["25 02:30+0200", "25 02:30+0100", "26 02:30+0100"]
    assert fires[1] - fires[0] == 3600  # two distinct fire times, hence two tasks
    half_hourly = FireRule(cron="*/30 * * * *", timezone="Europe/Madrid")
    fires = half_hourly.upcoming(madrid("2026-10-25T01:45"), 5)
    assert local(fires) == [
        "25 02:00+0200",
        "25 02:30+0200",
        "25 02:00+0100",
        "25 02:30+0100",
        "25 03:00+0100",
    ]
    assert {b - a for a, b in pairwise(fires)} == {1800}


def test_an_interval_fires_every_n_seconds_from_its_start():
    rule = FireRule(interval_s=60, start=1_000)
    assert rule.upcoming(999, 3) == [1_000, 1_060, 1_120]
    assert rule.upcoming(1_000, 2) == [1_060, 1_120]  # strictly after
    assert rule.latest_until(1_119) == 1_060
    assert rule.latest_until(999) is None


def test_no_fire_before_start_or_after_end():
    rule = FireRule(cron="0 * * * *", start=7_200, end=14_400)  # UTC hours 2 to 4
    assert rule.upcoming(0, 10) == [7_200, 10_800, 14_400]
    assert rule.next_after(14_400) is None
    assert rule.latest_until(100_000) == 14_400


def schedule(rule: FireRule, next_fire: int, missed: MissedFires = MissedFires.SKIP) -> Schedule:
    return Schedule(
        schedule_id="sch_1",
        owner="alice",
        template=TaskTemplate(name="ping", function_name="noop"),
        rule=rule,
        missed=missed,
        next_fire=next_fire,
    )


def test_a_fire_a_little_late_runs_and_the_next_is_after_now():
    every_minute = FireRule(interval_s=60, start=0)
    plan = plan_fire(schedule(every_minute, 600), now=601.5, grace_s=60)
    assert (plan.fire_at, plan.next_fire, plan.skipped) == (600, 660, 0)


def test_skip_runs_none_of_the_fires_missed_while_down():
    every_minute = FireRule(interval_s=60, start=0)
    plan = plan_fire(schedule(every_minute, 600), now=4_245, grace_s=30)  # 4200 is 45 s old
    assert plan.fire_at is None
    assert plan.next_fire == 4_260
    assert plan.skipped == 61  # 600, 660, ..., 4200


def test_skip_still_runs_the_latest_when_it_is_within_the_grace():
    every_minute = FireRule(interval_s=60, start=0)
    plan = plan_fire(schedule(every_minute, 600), now=4_210, grace_s=30)
    assert (plan.fire_at, plan.skipped) == (4_200, 60)


def test_run_latest_runs_the_latest_missed_fire_once():
    every_minute = FireRule(interval_s=60, start=0)
    due = schedule(every_minute, 600, MissedFires.RUN_LATEST)
    plan = plan_fire(due, now=4_245, grace_s=30)
    assert (plan.fire_at, plan.next_fire, plan.skipped) == (4_200, 4_260, 60)


def test_the_last_fire_before_the_end_leaves_no_next():
    rule = FireRule(interval_s=60, start=0, end=600)
    plan = plan_fire(schedule(rule, 600), now=600.2, grace_s=60)
    assert (plan.fire_at, plan.next_fire) == (600, None)


def test_a_fire_names_one_task_per_schedule_and_time():
    assert fire_task_id("alice", "sch_1", 600) == fire_task_id("alice", "sch_1", 600)
    assert fire_task_id("alice", "sch_1", 600) != fire_task_id("alice", "sch_1", 660)
    assert fire_task_id("alice", "sch_1", 600) != fire_task_id("bob", "sch_1", 600)


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (FireRule(cron="61 * * * *"), "cron"),
        (FireRule(cron="* * * * * */5"), "cron"),  # a seconds field: more than once a minute
        (FireRule(cron="not cron"), "cron"),
        (FireRule(cron="0 3 * * *", timezone="Mars/Olympus"), "timezone"),
        (FireRule(), "cron"),  # neither
        (FireRule(cron="0 3 * * *", interval_s=60, start=0), "cron"),  # both
        (FireRule(interval_s=2, start=0), "interval_seconds"),
        (FireRule(interval_s=60, start=1_000, end=1_000), "end"),
        (FireRule(cron="0 0 1 1 *", start=253_402_300_799), "start"),  # 9999-12-31
        (FireRule(cron="0 0 1 1 *", end=-1), "end"),
    ],
)
def test_a_rule_that_cannot_work_names_its_field(rule: FireRule, field: str):
    with pytest.raises(RuleError) as problem:
        rule.checked(min_interval_s=5)
    assert problem.value.field == field


def test_a_schedule_reads_back_as_written():
    written = schedule(FireRule(cron="30 2 * * *", timezone="Europe/Madrid", end=9_999), 600)
    read = Schedule.from_record("sch_1", written.spec_json(), written.version, "600")
    assert read == written


def test_a_cron_that_never_matches_is_refused_and_has_no_fire():
    rule = FireRule(cron="0 0 30 2 *")  # February 30th
    assert rule.next_after(0) is None
    with pytest.raises(RuleError) as problem:
        rule.checked(min_interval_s=5)
    assert problem.value.field == "cron" and "matches no date" in str(problem.value)
    assert (
        FireRule(cron="0 0 29 2 *").checked(min_interval_s=5).next_after(0) == 68_169_600
    )  # 1972-02-29
