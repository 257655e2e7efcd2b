"""Signing in with an API key or a JWT, and out. The sign-in form carries a token of its
own (its cookie's twin), so another site cannot sign a browser in as someone else."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vokaflow.api.console.render import console_base, page, redirect_to
from vokaflow.api.console.session import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    CsrfRefused,
    acting_user,
    form_of,
    new_sign_in_token,
    same_token,
    secure_cookies,
    services_of,
    sign_in,
)
from vokaflow.errors import Unauthorized

router = APIRouter()

SIGN_IN_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")  # new_sign_in_token's


def _safe_next(target: str | None, base: str) -> str:
    """Only a path of the console itself: never another site, nor //host."""
    if target and target.startswith(base + "/") and not target.startswith("//"):
        return target
    return f"{base}/overview"


@router.get("/", include_in_schema=False)
async def home(request: Request) -> RedirectResponse:
    return redirect_to(request, "/overview")


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return _form(request, next, None, 200)


def _form(request: Request, next_page: str | None, error: str | None, status: int) -> Response:
    """The form, with the browser's sign-in token when it holds one: two sign-in pages open
    at once (two tabs) then share it, and neither voids the other."""
    token = _held_sign_in_token(request) or new_sign_in_token()
    response = page(
        request,
        "sign_in.html",
        None,
        status_code=status,
        sign_in_token=token,
        next_page=next_page or "",
        error=error,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=1800,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path=console_base(request) or "/",
    )
    return response


def _held_sign_in_token(request: Request) -> str | None:
    held = request.cookies.get(SIGN_IN_COOKIE, "")
    return held if SIGN_IN_TOKEN_SHAPE.fullmatch(held) else None


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in_submit(request: Request) -> Response:
    form = await form_of(request)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not same_token(form.get("sign_in_token"), expected):
        raise CsrfRefused("The sign-in form expired; load it again")
    try:
        session = await sign_in(request, form.get("credential", ""))
    except Unauthorized as refused:
        return _form(request, form.get("next"), refused.message, 401)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await services_of(request).console_sessions.close(previous)
    base = console_base(request)
    response = RedirectResponse(_safe_next(form.get("next"), base), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.session_id,
        max_age=services_of(request).settings.console_session_s,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path=base or "/",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=base or "/")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> RedirectResponse:
    user, _ = await acting_user(request)
    await services_of(request).console_sessions.close(user.session.session_id)
    base = console_base(request)
    response = RedirectResponse(f"{base}/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base or "/")
    return response
