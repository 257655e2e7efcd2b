"""A schedule: a task template and when to fire it (a cron expression in an IANA time zone,
or a fixed interval), between an optional start and end, with a policy for fires missed
while nothing fired. Each fire submits one task whose id is derived from the schedule and
the fire time, so that a fire submitted twice is one task.

Fire times are whole epoch seconds. Pure Python (croniter and zoneinfo); no Redis, Ray or
wire models."""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from vokaflow.domain.idempotency import idempotent_id
from vokaflow.domain.priority import Priority
from vokaflow.domain.task import TaskSpec, WorkerType

# Bounds a search for a cron fire: an expression such as "0 0 30 2 *" (February 30th)
# never matches, and croniter gives up after this many years.
CRON_SEARCH_YEARS = 5
CRON_PROBE_BASE = datetime(2000, 1, 1, tzinfo=timezone.utc)
# Start and end lie between 1970 and 2200: fire times stay far from datetime's year 9999.
LATEST_BOUND = 7_258_118_400  # 2200-01-01T00:00:00Z


class MissedFires(str, Enum):
    """What a schedule does with fires that came due while nothing fired (service down)."""

    SKIP = "skip"  # fire nothing for them; go on from the next fire after now
    RUN_LATEST = "run_latest"  # run the latest missed fire once, then go on

    def __str__(self) -> str:
        return self.value


class RuleError(ValueError):
    """A schedule's timing that cannot work; ``field`` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def fire_task_id(owner: str, schedule_id: str, fire_at: int) -> str:
    """The task id of one fire: a submit of the idempotency key ``schedule:ID:FIRE`` by the
    schedule's owner, so however often a fire is submitted it writes one task."""
    return idempotent_id(owner, "task", f"schedule:{schedule_id}:{fire_at}")


@dataclass(frozen=True, kw_only=True)
class FireRule:
    """When a schedule fires: on ``cron`` in ``timezone``, or every ``interval_s`` seconds
    from ``start``; never before ``start`` nor after ``end`` (epoch seconds)."""

    cron: str | None = None
    timezone: str = "UTC"
    interval_s: int | None = None
    start: int | None = None
    end: int | None = None

    def checked(self, min_interval_s: int) -> FireRule:
        """The rule, or RuleError naming the field that makes it unusable."""
        if (self.cron is None) == (self.interval_s is None):
            raise RuleError("cron", "Give exactly one of cron and interval_seconds")
        zone_of(self.timezone)
        if self.cron is not None:
            check_cron(self.cron)
        elif self.interval_s is not None and self.interval_s < min_interval_s:
            raise RuleError(
                "interval_seconds", f"The shortest interval is {min_interval_s} seconds"
            )
        elif self.start is None:
            raise RuleError("start", "An interval schedule needs a start")
        for name, bound in (("start", self.start), ("end", self.end)):
            if bound is not None and not 0 <= bound < LATEST_BOUND:
                raise RuleError(name, f"{name} must lie between 1970 and 2200")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise RuleError("end", "end must be after start")
        return self

    def next_after(self, moment: float) -> int | None:
        """The first fire strictly after ``moment``, or None when there is none (the end)."""
        if self.start is not None and moment < self.start:
            moment = self.start - 1  # start itself may fire
        fire = self._cron_after(moment) if self.cron else self._interval_after(moment)
        if fire is None or (self.end is not None and fire > self.end):
            return None
        return fire

    def latest_until(self, moment: float) -> int | None:
        """The last fire at or before ``moment`` (and at or after start), or None."""
        if self.end is not None:
            moment = min(moment, self.end)
        if self.start is not None and moment < self.start:
            return None
        fire = self._cron_until(moment) if self.cron else self._interval_until(moment)
        if fire is None or (self.start is not None and fire < self.start):
            return None
        return fire

    def upcoming(self, after: float, count: int) -> list[int]:
        fires: list[int] = []
        fire = self.next_after(after)
        while fire is not None and len(fires) < count:
            fires.append(fire)
            fire = self.next_after(fire)
        return fires

    def _interval_after(self, moment: float) -> int:
        assert self.interval_s is not None and self.start is not None
        steps = math.floor((moment - self.start) / self.interval_s) + 1
        return self.start + max(steps, 0) * self.interval_s

    def _interval_until(self, moment: float) -> int | None:
        assert self.interval_s is not None and self.start is not None
        steps = math.floor((moment - self.start) / self.interval_s)
        return None if steps < 0 else self.start + steps * self.interval_s

    def _cron_after(self, moment: float) -> int | None:
        base = datetime.fromtimestamp(moment, zone_of(self.timezone))
        try:
            fire = croniter(self.cron, base, max_years_between_matches=CRON_SEARCH_YEARS)
            return int(fire.get_next(float))
        except (CroniterBadDateError, OverflowError):  # no match within the search
            return None

    def _cron_until(self, moment: float) -> int | None:
        # get_prev is strictly before its base; fires are whole minutes, so a base just after
        # ``moment`` finds one at ``moment`` too
        base = datetime.fromtimestamp(moment + 0.5, zone_of(self.timezone))
        try:
            fire = croniter(self.cron, base, max_years_between_matches=CRON_SEARCH_YEARS)
            return int(fire.get_prev(float))
        except (CroniterBadDateError, OverflowError):
            return None


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"Unknown time zone '{name}': give an IANA name such as 'Europe/Madrid'"
        raise RuleError("timezone", message) from None


def check_cron(expression: str) -> None:
    """Five fields (minute to day of week) or an @alias; seconds fields are refused, so a
    cron schedule fires at most once a minute."""
    fields = expression.split()
    if not (len(fields) == 5 or (len(fields) == 1 and expression.startswith("@"))):
        raise RuleError("cron", "A cron expression has five fields: minute hour day month weekday")
    if not croniter.is_valid(expression):
        raise RuleError("cron", f"'{expression}' is not a valid cron expression")
    try:
        probe = croniter(expression, CRON_PROBE_BASE, max_years_between_matches=CRON_SEARCH_YEARS)
        probe.get_next(float)
    except CroniterBadDateError:
        raise RuleError(
            "cron", f"'{expression}' matches no date within {CRON_SEARCH_YEARS} years"
        ) from None


_SCHEDULE_ID = re.compile(r"sch_[0-9a-f]{32}")


def new_schedule_id() -> str:
    return f"sch_{uuid.uuid4().hex}"


def is_schedule_id(text: str) -> bool:
    """Only ids this service makes: an id is part of a Redis key name, and one like
    ``ID:runs`` would name another key of the schedule."""
    return _SCHEDULE_ID.fullmatch(text) is not None


@dataclass(frozen=True, kw_only=True)
class TaskTemplate:
    """What each fire submits: a task as the API checked it, without id or times."""

    name: str
    function_name: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    worker_type: WorkerType = WorkerType.GENERAL_PURPOSE
    category: str = ""
    timeout_s: int = 300
    max_retries: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    data_scope: str = ""
    concurrency_key: str = ""
    max_concurrency: int = 0

    @classmethod
    def of(cls, task: TaskSpec) -> TaskTemplate:
        """Its fields are a subset of the task's, under the same names."""
        return cls(**{f.name: getattr(task, f.name) for f in fields(cls)})

    def task_fields(self) -> dict[str, Any]:
        """What a fire's task takes from the template, by the task's field names."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "function_name": self.function_name,
            "args": self.args,
            "kwargs": self.kwargs,
            "priority": self.priority.value,
            "worker_type": self.worker_type.value,
            "category": self.category,
            "timeout": self.timeout_s,
            "max_retries": self.max_retries,
            "metadata": self.metadata,
            "data_scope": self.data_scope,
            **(
                {
                    "concurrency_key": self.concurrency_key,
                    "max_concurrency": self.max_concurrency,
                }
                if self.concurrency_key
                else {}
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskTemplate:
        return cls(
            name=str(data["name"]),
            function_name=str(data["function_name"]),
            args=list(data.get("args") or []),
            kwargs=dict(data.get("kwargs") or {}),
            priority=Priority(data.get("priority") or Priority.NORMAL.value),
            worker_type=WorkerType(data.get("worker_type") or WorkerType.GENERAL_PURPOSE.value),
            category=str(data.get("category") or ""),
            timeout_s=int(data.get("timeout") or 300),
            max_retries=int(data.get("max_retries") or 0),
            metadata=dict(data.get("metadata") or {}),
            data_scope=str(data.get("data_scope") or ""),
            concurrency_key=str(data.get("concurrency_key") or ""),
            max_concurrency=int(data.get("max_concurrency") or 0),
        )


@dataclass(frozen=True, kw_only=True)
class Schedule:
    schedule_id: str
    owner: str
    template: TaskTemplate
    rule: FireRule
    paused: bool = False
    missed: MissedFires = MissedFires.SKIP
    created_at: float = 0.0
    updated_at: float = 0.0
    # Bumped by every change of the schedule (not by a fire): a firer's claim made from an
    # older read is refused, so a fire never follows a rule that was replaced.
    version: int = 0
    next_fire: int | None = None  # None while paused or after the end

    def rescheduled(self, now: float) -> Schedule:
        """After a change: the next fire counts from now (fires missed while paused or
        before the change are not run)."""
        next_fire = None if self.paused else self.rule.next_after(now)
        return replace(self, next_fire=next_fire, updated_at=now, version=self.version + 1)

    def revised(self, now: float) -> Schedule:
        """After a change of what it sends or of its missed-fire policy only: the same next
        fire, so a fire already due but not yet claimed still runs, with the new task."""
        return replace(self, updated_at=now, version=self.version + 1)

    def task(self, fire_at: int, task_id: str, partition: int, now: float) -> TaskSpec:
        """The task of the fire at ``fire_at``, created now."""
        return TaskSpec(
            task_id=task_id,
            created_at=now,
            partition=partition,
            owner=self.owner,
            **self.template.task_fields(),
        )

    def spec_json(self) -> str:
        """What a change rewrites, as one JSON field (the next fire and version are apart)."""
        rule = self.rule
        return json.dumps(
            {
                "owner": self.owner,
                "template": self.template.to_json(),
                "cron": rule.cron,
                "timezone": rule.timezone,
                "interval_seconds": rule.interval_s,
                "start": rule.start,
                "end": rule.end,
                "paused": self.paused,
                "missed_fires": self.missed.value,
                "created_at": self.created_at,
                "updated_at": self.updated_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_record(
        cls, schedule_id: str, spec_json: str, version: int, next_fire: str
    ) -> Schedule:
        spec = json.loads(spec_json)
        return cls(
            schedule_id=schedule_id,
            owner=str(spec["owner"]),
            template=TaskTemplate.from_json(spec["template"]),
            rule=FireRule(
                cron=spec.get("cron"),
                timezone=str(spec.get("timezone") or "UTC"),
                interval_s=spec.get("interval_seconds"),
                start=spec.get("start"),
                end=spec.get("end"),
            ),
            paused=bool(spec.get("paused")),
            missed=MissedFires(spec.get("missed_fires") or MissedFires.SKIP.value),
            created_at=float(spec.get("created_at") or 0.0),
            updated_at=float(spec.get("updated_at") or 0.0),
            version=version,
            next_fire=int(next_fire) if next_fire else None,
        )


@dataclass(frozen=True)
class FirePlan:
    """What a firer does with a due schedule: submit the fire at ``fire_at`` (None: the due
    fires are skipped) and wait for ``next_fire`` (None: no fire is left)."""

    fire_at: int | None
    next_fire: int | None
    skipped: int  # due fires that will not run


def plan_fire(schedule: Schedule, now: float, grace_s: float) -> FirePlan:
    """A due schedule's fire. Of the fires due by now only the latest may run: it runs when
    it is at most ``grace_s`` old (the firer was merely late), or whatever its age with
    RUN_LATEST; older ones were missed (the service was down) and are skipped."""
    assert schedule.next_fire is not None and schedule.next_fire <= now
    rule = schedule.rule
    latest = rule.latest_until(now)
    if latest is None or latest < schedule.next_fire:
        latest = schedule.next_fire
    on_time = now - latest <= grace_s
    fire_at = latest if on_time or schedule.missed is MissedFires.RUN_LATEST else None
    due = _count_between(rule, schedule.next_fire, latest)
    return FirePlan(
        fire_at=fire_at,
        next_fire=rule.next_after(max(now, latest)),
        skipped=due - (1 if fire_at is not None else 0),
    )


def _count_between(rule: FireRule, first: int, last: int, most: int = 1000) -> int:
    """Fires from ``first`` to ``last`` inclusive, counted up to ``most`` (for the log)."""
    if rule.interval_s:
        return (last - first) // rule.interval_s + 1
    count, fire = 1, first
    while fire < last and count < most:
        nxt = rule.next_after(fire)
        if nxt is None:
            break
        fire, count = nxt, count + 1
    return count
