"""Dead letters: the list with each one's error; requeue one or all, or discard one."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from vokaflow.api import dead_letters as api_dead_letters
from vokaflow.api.console.render import page, redirect_to
from vokaflow.api.console.session import acting_user, console_user, services_of
from vokaflow.errors import ApiError

router = APIRouter()

PAGE_SIZE = 50
REQUEUE_ALL_MOST = 500  # one click's worth; the page says when more are left
NOTICES = {
    "requeued": "Requeued.",
    "discarded": "Discarded.",
    "requeued-all": "Requeued every dead letter that could run again.",
    "some-left": "Some dead letters were not requeued (see their errors), or more are left.",
}


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letter_list(request: Request, offset: int = 0) -> HTMLResponse:
    user = await console_user(request)
    listing = await api_dead_letters.list_dead_letters(
        services_of(request), user.principal, PAGE_SIZE, max(0, offset)
    )
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return page(request, "dead_letters.html", user, listing=listing, notice=notice)


@router.post("/dead-letters/{task_id}/requeue")
async def requeue(request: Request, task_id: str) -> Response:
    user, _ = await acting_user(request)
    services = services_of(request)
    await api_dead_letters.requeue_dead_letter(task_id, services, user.principal)
    return _back(request, "requeued")


@router.post("/dead-letters/{task_id}/discard")
async def discard(request: Request, task_id: str) -> Response:
    user, _ = await acting_user(request)
    services = services_of(request)
    await api_dead_letters.discard_dead_letter(task_id, services, user.principal)
    return _back(request, "discarded")


@router.post("/dead-letters/requeue-all")
async def requeue_all(request: Request) -> Response:
    """Each one as the API's requeue would (its checks, its rate limit); one that is
    refused stays listed."""
    user, _ = await acting_user(request)
    services = services_of(request)
    listing = await api_dead_letters.list_dead_letters(
        services, user.principal, REQUEUE_ALL_MOST, 0
    )
    refused = 0
    for letter in listing.dead_letters:
        try:
            await api_dead_letters.requeue_dead_letter(letter.task_id, services, user.principal)
        except ApiError:
            refused += 1
    more = refused or listing.total > REQUEUE_ALL_MOST
    return _back(request, "some-left" if more else "requeued-all")


def _back(request: Request, notice: str) -> RedirectResponse:
    return redirect_to(request, f"/dead-letters?notice={notice}")
