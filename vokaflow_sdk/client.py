"""``VokaFlowClient``: the asyncio client (httpx.AsyncClient underneath).

Each method runs the plan of the same name in ``_operations``; this module only performs
the plans' steps with asyncio: requests, sleeps, and server-sent event streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

import httpx

from vokaflow_sdk import _operations as ops
from vokaflow_sdk._core import (
    ClientConfig,
    Plan,
    RetryPolicy,
    Send,
    Sleep,
    Step,
    StreamRequest,
    adopt,
    connection_error,
    failure_delay,
)
from vokaflow_sdk._sse import SSEDecoder

P = ParamSpec("P")
T = TypeVar("T")


def _method(
    plan: Callable[Concatenate[RetryPolicy, P], Plan[T]],
) -> Callable[Concatenate[VokaFlowClient, P], Coroutine[Any, Any, T]]:
    """A client method that runs ``plan`` with this client's retry policy."""

    async def method(self: VokaFlowClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(plan(self._config.policy, *args, **kwargs))

    adopt(method, plan, takes_policy=True)
    return method


def _stream(
    build: Callable[P, StreamRequest[T]],
) -> Callable[Concatenate[VokaFlowClient, P], AsyncTextStream[T]]:
    """A client method that opens the stream ``build`` describes."""

    def method(self: VokaFlowClient, /, *args: P.args, **kwargs: P.kwargs) -> AsyncTextStream[T]:
        return AsyncTextStream(self, build(*args, **kwargs))

    adopt(method, build, takes_policy=False, result_wrapper="AsyncTextStream")
    return method


class AsyncTextStream(Generic[T]):
    """The pieces of a streamed answer, as an async iterator of strings; once it is
    exhausted, ``response`` is the whole answer (the stream's ``done`` event). To stop
    early, ``break`` and ``await stream.aclose()``."""

    def __init__(self, client: VokaFlowClient, request: StreamRequest[T]) -> None:
        self._client = client
        self._request = request
        self._iterator: AsyncGenerator[str, None] | None = None
        self.response: T | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        self._iterator = self._pieces()
        return self._iterator

    async def aclose(self) -> None:
        """Stop reading early: closes the connection (and the generation on the server)."""
        if self._iterator is not None:
            await self._iterator.aclose()

    async def _pieces(self) -> AsyncGenerator[str, None]:
        decoder = SSEDecoder()
        async with self._client._open_stream(self._request.send) as response:
            async for line in response.aiter_lines():
                for piece in decoder.feed(line):
                    yield piece
                if decoder.finished:
                    break
        for piece in decoder.close():
            yield piece
        if decoder.final is not None:
            self.response = self._request.final_model(decoder.final)

    async def text(self) -> str:
        """Read the whole stream; the text it carried."""
        return "".join([piece async for piece in self])


class VokaFlowClient:
    """Async client. Use it with ``async with``, or as it is and ``await aclose()`` at
    the end; its HTTP client is created on first use, in the running event loop.

    ``api_key`` is sent as ``X-API-Key``, ``token`` (a JWT) as ``Authorization: Bearer``.
    With ``retry_on_rate_limit``, a 429 is retried up to ``max_rate_limit_retries`` times
    after waiting its ``retry_after``. ``transport`` replaces httpx's (e.g. a MockTransport).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        retry_on_rate_limit: bool = False,
        max_rate_limit_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = ClientConfig.of(
            base_url, api_key, token, timeout, retry_on_rate_limit, max_rate_limit_retries
        )
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        return self._config.base_url

    submit_task = _method(ops.submit_task)
    submit_batch = _method(ops.submit_batch)
    get_task_status = _method(ops.get_task_status)
    wait_for_completion = _method(ops.wait_for_completion)
    cancel_task = _method(ops.cancel_task)
    get_batch = _method(ops.get_batch)
    get_metrics = _method(ops.get_metrics)
    list_functions = _method(ops.list_functions)
    get_priorities = _method(ops.get_priorities)
    get_health = _method(ops.get_health)
    get_task_logs = _method(ops.get_task_logs)
    get_logs = _method(ops.get_logs)
    vicky_inference = _method(ops.vicky_inference)
    vicky_chat = _method(ops.vicky_chat)
    vicky_chat_stream = _stream(ops.vicky_chat_stream)
    vicky_inference_stream = _stream(ops.vicky_inference_stream)
    list_personalities = _method(ops.list_personalities)
    configure_webhook = _method(ops.configure_webhook)
    list_webhooks = _method(ops.list_webhooks)
    delete_webhook = _method(ops.delete_webhook)
    get_notify_secret = _method(ops.get_notify_secret)
    send_webhook_test = _method(ops.send_webhook_test)
    create_schedule = _method(ops.create_schedule)
    list_schedules = _method(ops.list_schedules)
    get_schedule = _method(ops.get_schedule)
    update_schedule = _method(ops.update_schedule)
    pause_schedule = _method(ops.pause_schedule)
    resume_schedule = _method(ops.resume_schedule)
    delete_schedule = _method(ops.delete_schedule)
    submit_workflow = _method(ops.submit_workflow)
    get_workflow = _method(ops.get_workflow)
    cancel_workflow = _method(ops.cancel_workflow)

    async def __aenter__(self) -> VokaFlowClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (a client closed this way opens new ones if used again)."""
        http, self._http = self._http, None
        if http is not None and self._loop is asyncio.get_running_loop():
            await http.aclose()

    def _client(self) -> httpx.AsyncClient:
        """The HTTP client of the running loop: a client used under a second
        ``asyncio.run`` gets fresh connections instead of the dead loop's."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._http = httpx.AsyncClient(**self._config.http_options(), transport=self._transport)
            self._loop = loop
        return self._http

    async def _run(self, plan: Plan[T]) -> T:
        reply: Any = None
        while True:
            try:
                step = plan.send(reply)
            except StopIteration as done:
                result: T = done.value
                return result
            reply = await self._perform(step)

    async def _perform(self, step: Step) -> httpx.Response | None:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        try:
            return await self._client().request(
                step.method, step.path, json=step.json, params=step.params
            )
        except httpx.TransportError as exc:
            raise connection_error(step, exc) from exc

    @asynccontextmanager
    async def _open_stream(self, send: Send) -> AsyncIterator[httpx.Response]:
        """A streamed response with a success status; 429s retried per the policy."""
        retries = 0
        while True:
            async with self._stream_response(send) as response:
                if response.status_code < 400:
                    yield response
                    return
                await response.aread()
                delay = failure_delay(self._config.policy, response, retries)
            retries += 1
            await asyncio.sleep(delay)

    @asynccontextmanager
    async def _stream_response(self, send: Send) -> AsyncIterator[httpx.Response]:
        headers = {"Accept": "text/event-stream"}
        request = self._client().stream(send.method, send.path, json=send.json, headers=headers)
        try:
            async with request as response:
                yield response
        except httpx.TransportError as exc:
            raise connection_error(send, exc) from exc
