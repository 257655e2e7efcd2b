"""The console's own ASGI app, mounted by the gateway at /console: pages answer HTML, and
errors become pages with the API's status codes (a missing or foreign task is 404 here too)."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from vokaflow.api.console import (
    dead_letters,
    keys,
    overview,
    schedules,
    sign_in,
    tasks,
    webhooks,
    work,
)
from vokaflow.api.console.render import STATIC, console_base, page
from vokaflow.api.console.session import SignInRequired
from vokaflow.api.errors import unavailable
from vokaflow.api.services import Services
from vokaflow.errors import ApiError, InternalError
from vokaflow.store.errors import StoreUnavailable

log = logging.getLogger("vokaflow.console")


def create_console(services: Services) -> FastAPI:
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state.services = services
    console.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (sign_in, overview, tasks, work, schedules, dead_letters, webhooks, keys):
        console.include_router(module.router)
    _install_error_pages(console)
    return console


def _wants_page(request: Request) -> bool:
    """A browser's navigation gets redirected to sign in; anything else (an htmx request,
    the chart's fetch, an event stream) gets a 401 it can act on. A background request
    that followed a redirect would load the sign-in page, and its new sign-in cookie would
    void a form the user had open (a signed-out tab's chart did so every 2 s). Browsers
    say what a request is in Sec-Fetch-Mode; a client that sends none is taken as a page."""
    if request.method != "GET" or "hx-request" in request.headers:
        return False
    return request.headers.get("sec-fetch-mode", "navigate") == "navigate"


def _install_error_pages(console: FastAPI) -> None:
    @console.exception_handler(SignInRequired)
    async def on_sign_in_required(request: Request, exc: SignInRequired) -> Response:
        if _wants_page(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            base = console_base(request)
            return RedirectResponse(f"{base}/sign-in?next={quote(target)}", status_code=303)
        return _error_page(request, exc)

    @console.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> HTMLResponse:
        return _error_page(request, exc)

    @console.exception_handler(StoreUnavailable)
    async def on_store_unavailable(request: Request, exc: StoreUnavailable) -> HTMLResponse:
        return _error_page(request, unavailable(exc))

    @console.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        error = ApiError(str(exc.detail))
        error.status_code, error.code = exc.status_code, "http_error"
        if exc.status_code == 404:
            error.message, error.code = "There is no such page", "not_found"
        return _error_page(request, error)

    @console.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> HTMLResponse:
        error = InternalError()
        log.exception("%s on %s %s", error.error_id, request.method, request.url.path)
        return _error_page(request, error)


def _error_page(request: Request, error: ApiError) -> HTMLResponse:
    response = page(
        request, "error.html", None, status_code=error.status_code, error=error.to_body()
    )
    response.headers.update(error.headers())
    return response
