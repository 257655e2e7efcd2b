"""``SyncVokaFlowClient``: the blocking twin of ``VokaFlowClient`` (httpx.Client underneath).

Same methods, same arguments, same results: each runs the plan of the same name in
``_operations``; this module only performs the plans' steps by blocking.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
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
) -> Callable[Concatenate[SyncVokaFlowClient, P], T]:
    """A client method that runs ``plan`` with this client's retry policy."""

    def method(self: SyncVokaFlowClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(plan(self._config.policy, *args, **kwargs))

    adopt(method, plan, takes_policy=True)
    return method


def _stream(
    build: Callable[P, StreamRequest[T]],
) -> Callable[Concatenate[SyncVokaFlowClient, P], TextStream[T]]:
    """A client method that opens the stream ``build`` describes."""

    def method(self: SyncVokaFlowClient, /, *args: P.args, **kwargs: P.kwargs) -> TextStream[T]:
        return TextStream(self, build(*args, **kwargs))

    adopt(method, build, takes_policy=False, result_wrapper="TextStream")
    return method


class TextStream(Generic[T]):
    """The pieces of a streamed answer, as an iterator of strings; once it is exhausted,
    ``response`` is the whole answer (the stream's ``done`` event). To stop early,
    ``break`` and ``stream.close()``."""

    def __init__(self, client: SyncVokaFlowClient, request: StreamRequest[T]) -> None:
        self._client = client
        self._request = request
        self._iterator: Generator[str, None, None] | None = None
        self.response: T | None = None

    def __iter__(self) -> Iterator[str]:
        self._iterator = self._pieces()
        return self._iterator

    def close(self) -> None:
        """Stop reading early: closes the connection (and the generation on the server)."""
        if self._iterator is not None:
            self._iterator.close()

    def _pieces(self) -> Generator[str, None, None]:
        decoder = SSEDecoder()
        with self._client._open_stream(self._request.send) as response:
            for line in response.iter_lines():
                yield from decoder.feed(line)
                if decoder.finished:
                    break
        yield from decoder.close()
        if decoder.final is not None:
            self.response = self._request.final_model(decoder.final)

    def text(self) -> str:
        """Read the whole stream; the text it carried."""
        return "".join(self)


class SyncVokaFlowClient:
    """Blocking client with the same methods as ``VokaFlowClient``. Use it with ``with``,
    or call ``close()`` at the end."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        retry_on_rate_limit: bool = False,
        max_rate_limit_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = ClientConfig.of(
            base_url, api_key, token, timeout, retry_on_rate_limit, max_rate_limit_retries
        )
        self._transport = transport
        self._http: httpx.Client | None = None

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

    def __enter__(self) -> SyncVokaFlowClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (a client closed this way opens new ones if used again)."""
        http, self._http = self._http, None
        if http is not None:
            http.close()

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(**self._config.http_options(), transport=self._transport)
        return self._http

    def _run(self, plan: Plan[T]) -> T:
        reply: Any = None
        while True:
            try:
                step = plan.send(reply)
            except StopIteration as done:
                result: T = done.value
                return result
            reply = self._perform(step)

    def _perform(self, step: Step) -> httpx.Response | None:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        try:
            return self._client().request(
                step.method, step.path, json=step.json, params=step.params
            )
        except httpx.TransportError as exc:
            raise connection_error(step, exc) from exc

    @contextmanager
    def _open_stream(self, send: Send) -> Iterator[httpx.Response]:
        """A streamed response with a success status; 429s retried per the policy."""
        retries = 0
        while True:
            with self._stream_response(send) as response:
                if response.status_code < 400:
                    yield response
                    return
                response.read()
                delay = failure_delay(self._config.policy, response, retries)
            retries += 1
            time.sleep(delay)

    @contextmanager
    def _stream_response(self, send: Send) -> Iterator[httpx.Response]:
        headers = {"Accept": "text/event-stream"}
        request = self._client().stream(send.method, send.path, json=send.json, headers=headers)
        try:
            with request as response:
                yield response
        except httpx.TransportError as exc:
            raise connection_error(send, exc) from exc
