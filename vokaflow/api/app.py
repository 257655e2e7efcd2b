"""The FastAPI application: routers, and the one place errors become HTTP bodies."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import vokaflow
from vokaflow.api import (
    batches,
    dead_letters,
    health,
    logs,
    metrics,
    monitoring,
    openai_compat,
    schedules,
    tasks,
    vicky,
    webhooks,
    workflows,
)
from vokaflow.api.console.app import create_console
from vokaflow.api.errors import unavailable
from vokaflow.api.schemas.common import ErrorBody, InternalErrorBody
from vokaflow.api.services import Services
from vokaflow.api.validation import validation_failure
from vokaflow.errors import ApiError, InternalError, NotFound, PayloadTooLarge, ValidationFailed
from vokaflow.long_lived import freeze_what_lives_on
from vokaflow.store.errors import StoreUnavailable

log = logging.getLogger("vokaflow.api")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "validation_error: details.field names the field"},
    401: {"model": ErrorBody, "description": "unauthorized: no valid API key or JWT"},
    404: {"model": ErrorBody, "description": "not_found"},
    409: {"model": ErrorBody, "description": "conflict"},
    413: {"model": ErrorBody, "description": "payload_too_large"},
    429: {"model": ErrorBody, "description": "rate_limit_exceeded: details.retry_after"},
    500: {"model": InternalErrorBody, "description": "internal_server_error with an error_id"},
    503: {"model": ErrorBody, "description": "service_unavailable: details.component"},
}


def create_long_lived_app(services: Services) -> FastAPI:
    """The app of a process that serves it for its whole life (a gateway replica): what is
    built by now lives as long as the process (vokaflow.long_lived)."""
    app = create_app(services)
    freeze_what_lives_on()
    return app


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="VokaFlow",
        version=vokaflow.__version__,
        description="High-scale task service on Ray: submit named tasks with priorities.",
        responses=ERROR_RESPONSES,
    )
    app.state.services = services
    app.include_router(health.router)
    app.include_router(tasks.router)
    app.include_router(batches.router)
    app.include_router(dead_letters.router)
    app.include_router(metrics.router)
    app.include_router(monitoring.router)
    app.include_router(logs.router)
    app.include_router(webhooks.router)
    app.include_router(schedules.router)
    app.include_router(workflows.router)
    app.include_router(vicky.router)
    app.include_router(openai_compat.router)
    app.mount("/console", create_console(services))
    app.add_middleware(BodySizeLimit, max_bytes=services.settings.max_request_bytes)
    app.add_middleware(JsonByDefault)
    _install_error_handlers(app)
    return app


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status_code, headers=error.headers())


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(StoreUnavailable)
    async def on_store_unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return error_response(unavailable(exc))

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_failure(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(NotFound(f"No route for {request.method} {request.url.path}"))
        if exc.status_code == 400:  # FastAPI's own: a body it could not parse at all
            return error_response(ValidationFailed("body", f"Unreadable body: {exc.detail}"))
        error = ApiError(str(exc.detail))
        error.status_code, error.code = exc.status_code, "http_error"
        return error_response(error)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        error = InternalError()
        log.exception("%s on %s %s", error.error_id, request.method, request.url.path)
        return error_response(error)


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` with 413, by header and by the bytes actually read
    (a chunked body has no Content-Length): whatever answer the app had begun is replaced."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen, too_large, refused = 0, False, False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                too_large = True
                raise PayloadTooLarge(self._message())
            return message

        async def refusing_send(message: Message) -> None:
            # The app may turn the read's failure into an answer of its own (FastAPI: 400).
            nonlocal refused
            if not too_large:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(scope, receive, send)

        await self.app(scope, counting_receive, refusing_send)

    def _message(self) -> str:
        return f"Request body exceeds {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(PayloadTooLarge(self._message()))(scope, receive, send)


class JsonByDefault:
    """Reads bodies sent without a JSON content type (curl -d sends a form type) as JSON.

    Every body this API takes is JSON, so a missing header should not turn a valid request
    into a confusing validation error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH"):
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
            original = dict(scope.get("headers", [])).get(b"content-type", b"")
            if b"json" not in original:
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
