"""The VokaFlow endpoints a batch job uses, over one ``httpx.AsyncClient``: waits out 429s
(``retry_after``) and retries 409, 502-504 and broken connections with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx

from vokaflow_sdk.errors import RateLimitExceeded, error_from_response

TASKS_API = "/api/high-scale-tasks"
RETRY_STATUSES = {409, 502, 503, 504}  # 409: the same key's first request is still running

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class BatchJobError(Exception):
    """The job cannot go on: the key is refused, the API is unreachable or answers oddly."""


def _retry_after_s(reply: httpx.Response) -> float:
    refused = error_from_response(reply.status_code, reply.headers, reply.content)
    wait_s = refused.retry_after if isinstance(refused, RateLimitExceeded) else None
    return 1.0 if wait_s is None else max(0.1, wait_s)


def _backoff_s(attempt: int) -> float:
    return float(min(30.0, 0.5 * 2 ** (attempt - 1)))


class Api:
    """The three endpoints the job uses; waits out 429s and retries transient failures."""

    def __init__(self, client: httpx.AsyncClient, sleep: Sleep, max_attempts: int) -> None:
        self.client = client
        self.sleep = sleep
        self.max_attempts = max_attempts

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                reply = await self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise BatchJobError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
                await self.sleep(_backoff_s(attempt))
                continue
            if reply.status_code == 429 and not last:
                wait_s = _retry_after_s(reply)
                print(f"429 from {url}: waiting {wait_s:g} s", flush=True)
                await self.sleep(wait_s)
            elif reply.status_code in RETRY_STATUSES and not last:
                await self.sleep(_backoff_s(attempt))
            else:
                return reply
        raise AssertionError("unreachable")

    async def submit(
        self, tasks: list[dict[str, Any]], priority: str | None, key: str
    ) -> dict[str, Any] | None:
        """The batch's answer; None when the request is larger than the API takes (413)."""
        body: dict[str, Any] = {"tasks": tasks, "idempotency_key": key}
        if priority:
            body["batch_priority"] = priority
        reply = await self.request("POST", f"{TASKS_API}/batch", json=body)
        return None if reply.status_code == 413 else _json(reply)

    async def batch_status(self, batch_id: str) -> dict[str, Any]:
        return _json(await self.request("GET", f"{TASKS_API}/batch/{batch_id}"))

    async def task_status(self, task_id: str) -> dict[str, Any] | None:
        reply = await self.request("GET", f"{TASKS_API}/status/{task_id}")
        return None if reply.status_code == 404 else _json(reply)


def _json(reply: httpx.Response) -> dict[str, Any]:
    if reply.status_code in (401, 403):
        raise BatchJobError(f"the API refused the key ({reply.status_code}): {reply.text[:300]}")
    if reply.status_code != 200:
        raise BatchJobError(
            f"{reply.request.method} {reply.request.url.path}: {reply.status_code} "
            f"{reply.text[:300]}"
        )
    body: dict[str, Any] = reply.json()
    return body


async def gather_bounded(calls: Iterable[Awaitable[T]], limit: int) -> list[T]:
    """Await every call, at most ``limit`` at a time, in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))
