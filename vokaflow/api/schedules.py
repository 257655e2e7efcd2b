"""/api/schedules: tasks submitted on a cron expression or a fixed interval. The task is
checked as a submit is, at creation and at each change; the scheduler's firer submits it
at each fire time (scheduler/schedule_firer.py). Another principal's schedule is 404."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Query

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.schemas.common import ErrorBody
from vokaflow.api.schemas.schedules import (
    ScheduleCreateRequest,
    ScheduleDeletedResponse,
    ScheduledTask,
    ScheduleListResponse,
    ScheduleResponse,
    ScheduleRun,
    ScheduleUpdateRequest,
)
from vokaflow.api.schemas.tasks import TaskSubmitRequest
from vokaflow.api.services import Services
from vokaflow.api.submission import prepare_task
from vokaflow.clock import iso_event, iso_forecast
from vokaflow.domain.principal import Principal
from vokaflow.domain.schedule import (
    FireRule,
    MissedFires,
    RuleError,
    Schedule,
    TaskTemplate,
    is_schedule_id,
    new_schedule_id,
)
from vokaflow.errors import Conflict, NotFound, ValidationFailed
from vokaflow.store.schedules import Changed, ScheduleStore

UPCOMING = 5
CHANGE_TRIES = 3  # a change that keeps meeting another one gives up with 409

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid credentials"},
    503: {"model": ErrorBody, "description": "Redis unavailable"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such schedule (or another principal's)"},
}
_INVALID: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid task or timing (details.field)"},
}
_RACED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Other changes kept winning; try again"},
}

router = APIRouter(prefix="/api/schedules", tags=["schedules"], responses=_ERRORS)


def _store(services: Services) -> ScheduleStore:
    return ScheduleStore(services.redis, services.keys)


async def _visible(services: Services, principal: Principal, schedule_id: str) -> Schedule:
    schedule = await _store(services).get(schedule_id) if is_schedule_id(schedule_id) else None
    if schedule is None or not principal.may_see(schedule.owner):
        raise NotFound(f"Schedule '{schedule_id}' not found")
    return schedule


@router.post(
    "",
    response_model=ScheduleResponse,
    status_code=201,
    responses={
        **_INVALID,
        409: {"model": ErrorBody, "description": "The principal has its limit of schedules"},
    },
)
async def create_schedule(
    body: ScheduleCreateRequest, services: ServicesDep, principal: PrincipalDep
) -> ScheduleResponse:
    now = time.time()
    timing = body.model_dump(exclude_unset=True, exclude={"task"})
    schedule = Schedule(
        schedule_id=new_schedule_id(),
        owner=principal.name,
        template=_template(body.task, services, principal),
        rule=_rule(FireRule(), timing, services),
        paused=bool(body.paused),
        missed=body.missed_fires or MissedFires.SKIP,
        created_at=now,
    ).rescheduled(now)
    limit = services.settings.schedule_max_per_owner
    if not await _store(services).create(schedule, limit):
        raise Conflict(f"'{principal.name}' already has {limit} schedules; delete one first")
    return _view(schedule, runs=[])


@router.get("", response_model=ScheduleListResponse)
async def list_schedules(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> ScheduleListResponse:
    """Oldest first, a page at a time. Admins see every principal's; others their own."""
    store = _store(services)
    found = await (store.every() if principal.is_admin else store.of_owner(principal.name))
    page = [_view(s) for s in found[offset : offset + limit]]
    return ScheduleListResponse(
        schedules=page, count=len(page), total=len(found), limit=limit, offset=offset
    )


@router.get("/{schedule_id}", response_model=ScheduleResponse, responses=_NOT_FOUND)
async def get_schedule(
    schedule_id: str, services: ServicesDep, principal: PrincipalDep
) -> ScheduleResponse:
    """The schedule with its next fire times and its latest runs, newest first."""
    schedule = await _visible(services, principal, schedule_id)
    return _view(schedule, runs=await _runs(services, schedule))


@router.patch(
    "/{schedule_id}",
    response_model=ScheduleResponse,
    responses={**_NOT_FOUND, **_INVALID, **_RACED},
)
async def update_schedule(
    schedule_id: str, body: ScheduleUpdateRequest, services: ServicesDep, principal: PrincipalDep
) -> ScheduleResponse:
    """Change what is sent; the next fire then counts from now."""
    timing = body.model_dump(exclude_unset=True, exclude={"task"})
    return await _change(services, principal, schedule_id, timing, body.task)


@router.post(
    "/{schedule_id}/pause", response_model=ScheduleResponse, responses={**_NOT_FOUND, **_RACED}
)
async def pause_schedule(
    schedule_id: str, services: ServicesDep, principal: PrincipalDep
) -> ScheduleResponse:
    """No fires until resumed; the same as PATCH {"paused": true}."""
    return await _change(services, principal, schedule_id, {"paused": True})


@router.post(
    "/{schedule_id}/resume", response_model=ScheduleResponse, responses={**_NOT_FOUND, **_RACED}
)
async def resume_schedule(
    schedule_id: str, services: ServicesDep, principal: PrincipalDep
) -> ScheduleResponse:
    """Fires again from the next fire time after now; those due while paused do not run."""
    return await _change(services, principal, schedule_id, {"paused": False})


@router.delete("/{schedule_id}", response_model=ScheduleDeletedResponse, responses=_NOT_FOUND)
async def delete_schedule(
    schedule_id: str, services: ServicesDep, principal: PrincipalDep
) -> ScheduleDeletedResponse:
    """No more fires; tasks it already submitted are not touched."""
    schedule = await _visible(services, principal, schedule_id)
    if not await _store(services).delete(schedule):
        raise NotFound(f"Schedule '{schedule_id}' not found")
    return ScheduleDeletedResponse(id=schedule_id)


async def _change(
    services: Services,
    principal: Principal,
    schedule_id: str,
    timing: dict[str, Any],
    task: TaskSubmitRequest | None = None,
) -> ScheduleResponse:
    """Read, change and write back unless someone changed it in between (then again)."""
    for _ in range(CHANGE_TRIES):
        read = await _visible(services, principal, schedule_id)
        template = read.template
        if task is not None:
            # an admin changing another's schedule: the fires still read the owner's data
            template = replace(
                _template(task, services, principal), data_scope=read.template.data_scope
            )
        changed = replace(
            read,
            template=template,
            rule=_rule(read.rule, timing, services),
            paused=read.paused if timing.get("paused") is None else bool(timing["paused"]),
            missed=timing.get("missed_fires") or read.missed,
        )
        retimed = (changed.rule, changed.paused) != (read.rule, read.paused)
        now = time.time()
        changed = changed.rescheduled(now) if retimed else changed.revised(now)
        try:
            await _store(services).change(read, changed)
        except Changed:
            continue
        return _view(changed, runs=await _runs(services, changed))
    raise Conflict(f"Schedule '{schedule_id}' is being changed by another request; try again")


def _template(task: TaskSubmitRequest, services: Services, principal: Principal) -> TaskTemplate:
    """The task checked exactly as a submit checks it, under the ``task.`` fields."""
    if task.idempotency_key is not None:
        raise ValidationFailed(
            "task.idempotency_key", "Each fire has its own key (schedule:ID:FIRE_TIME)"
        )
    for timing in ("run_at", "delay_seconds", "depends_on"):
        if getattr(task, timing) is not None:
            raise ValidationFailed(f"task.{timing}", "A fire runs at its fire time; leave it out")
    spec = prepare_task(task, services, principal, 0.0, field_prefix="task.", task_id="template")
    return TaskTemplate.of(spec)


def _rule(current: FireRule, timing: dict[str, Any], services: Services) -> FireRule:
    """``current`` with the timing fields sent, checked; RuleError becomes a 400."""
    changes: dict[str, Any] = {}
    if "cron" in timing or "interval_seconds" in timing:  # naming one replaces the other
        changes.update(cron=timing.get("cron"), interval_s=timing.get("interval_seconds"))
    if timing.get("timezone") is not None:
        changes.update(timezone=timing["timezone"])
    for bound in ("start", "end"):
        if bound in timing:
            changes[bound] = _epoch(timing[bound])
    rule = replace(current, **changes)
    if rule.interval_s is not None and rule.start is None:  # every N seconds from now
        rule = replace(rule, start=int(time.time()))
    try:
        return rule.checked(services.settings.schedule_min_interval_s)
    except RuleError as problem:
        raise ValidationFailed(problem.field, problem.message) from None


def _epoch(moment: datetime | None) -> int | None:
    """Whole epoch seconds; a time without a zone is UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


async def _runs(services: Services, schedule: Schedule) -> list[ScheduleRun]:
    runs = await _store(services).runs(schedule.schedule_id)
    statuses = await services.tasks.get_many([r.task_id for r in runs], ["status"])
    return [
        ScheduleRun(
            fire_time=iso_forecast(run.fire_at),
            task_id=run.task_id,
            status=status or ("waiting" if run.waiting else "expired"),
        )
        for run, (status,) in zip(runs, statuses, strict=True)
    ]


def _view(schedule: Schedule, runs: list[ScheduleRun] | None = None) -> ScheduleResponse:
    rule, t = schedule.rule, schedule.template
    upcoming = [] if schedule.next_fire is None else [schedule.next_fire]
    if upcoming:
        upcoming += rule.upcoming(upcoming[0], UPCOMING - 1)
    return ScheduleResponse(
        id=schedule.schedule_id,
        task=ScheduledTask(
            name=t.name,
            function_name=t.function_name,
            args=t.args,
            kwargs=t.kwargs,
            priority=t.priority,
            worker_type=t.worker_type,
            category=t.category,
            timeout=t.timeout_s,
            retry_count=t.max_retries,
            metadata=t.metadata,
            concurrency_key=t.concurrency_key or None,
            max_concurrency=t.max_concurrency or None,
        ),
        cron=rule.cron,
        timezone=rule.timezone,
        interval_seconds=rule.interval_s,
        start=None if rule.start is None else iso_forecast(rule.start),
        end=None if rule.end is None else iso_forecast(rule.end),
        paused=schedule.paused,
        missed_fires=schedule.missed,
        next_fire_time=None if schedule.next_fire is None else iso_forecast(schedule.next_fire),
        next_fire_times=[iso_forecast(fire) for fire in upcoming],
        created_at=iso_event(schedule.created_at) or "",
        updated_at=iso_event(schedule.updated_at) or "",
        runs=runs,
    )
