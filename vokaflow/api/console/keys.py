"""API keys, for admins: the list, a new key (shown once), and revoking one."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from vokaflow.api.console.render import page, redirect_to
from vokaflow.api.console.session import ConsoleUser, acting_user, console_user, services_of
from vokaflow.domain import Priority
from vokaflow.errors import NotFound, ValidationFailed
from vokaflow.store.api_keys import NameRefused

router = APIRouter()


def _admin_only(user: ConsoleUser) -> None:
    if not user.principal.is_admin:
        raise NotFound("There is no such page")  # as if it did not exist, like the API's 404s


@router.get("/keys", response_class=HTMLResponse)
async def key_list(request: Request) -> HTMLResponse:
    user = await console_user(request)
    _admin_only(user)
    return await _key_page(request, user, new_key=None)


async def _key_page(
    request: Request, user: ConsoleUser, new_key: str | None, status_code: int = 200
) -> HTMLResponse:
    keys = await services_of(request).api_keys.all()
    return page(
        request,
        "keys.html",
        user,
        status_code=status_code,
        keys=keys,
        new_key=new_key,
        priorities=list(Priority),
    )


@router.post("/keys", response_class=HTMLResponse)
async def create_key(request: Request) -> HTMLResponse:
    user, form = await acting_user(request)
    _admin_only(user)
    name = form.get("name", "").strip()
    role = form.get("role", "user")
    if role not in ("user", "admin"):
        raise ValidationFailed("role", "user or admin")
    cap = form.get("max_priority") or None
    if cap is not None and cap not in Priority.__members__:
        raise ValidationFailed("max_priority", f"'{cap}' is not a priority")
    try:
        new_key = await services_of(request).api_keys.create(
            name, role, time.time(), Priority(cap) if cap else None
        )
    except NameRefused as refused:
        raise ValidationFailed("name", str(refused)) from None
    return await _key_page(request, user, new_key=new_key, status_code=201)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    user, _ = await acting_user(request)
    _admin_only(user)
    revoked = await services_of(request).api_keys.revoke(key_id, time.time())
    if not revoked:
        raise NotFound(f"No live key with id '{key_id}'")
    return redirect_to(request, "/keys")
