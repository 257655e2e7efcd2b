"""Schedules: the list with next fire times, each one's latest runs, pause and resume."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from vokaflow.api import schedules as api_schedules
from vokaflow.api.console.render import page, redirect_to
from vokaflow.api.console.session import acting_user, console_user, services_of

router = APIRouter()

PAGE_SIZE = 100


@router.get("/schedules", response_class=HTMLResponse)
async def schedule_list(request: Request, offset: int = 0) -> HTMLResponse:
    user = await console_user(request)
    listing = await api_schedules.list_schedules(
        services_of(request), user.principal, PAGE_SIZE, max(0, offset)
    )
    return page(request, "schedules.html", user, listing=listing, offset=max(0, offset))


@router.get("/schedules/{schedule_id}", response_class=HTMLResponse)
async def schedule_page(request: Request, schedule_id: str) -> HTMLResponse:
    user = await console_user(request)
    schedule = await api_schedules.get_schedule(schedule_id, services_of(request), user.principal)
    return page(request, "schedule.html", user, schedule=schedule)


@router.post("/schedules/{schedule_id}/pause")
async def pause(request: Request, schedule_id: str) -> Response:
    user, _ = await acting_user(request)
    await api_schedules.pause_schedule(schedule_id, services_of(request), user.principal)
    return _back(request, schedule_id)


@router.post("/schedules/{schedule_id}/resume")
async def resume(request: Request, schedule_id: str) -> Response:
    user, _ = await acting_user(request)
    await api_schedules.resume_schedule(schedule_id, services_of(request), user.principal)
    return _back(request, schedule_id)


def _back(request: Request, schedule_id: str) -> RedirectResponse:
    return redirect_to(request, f"/schedules/{schedule_id}")
