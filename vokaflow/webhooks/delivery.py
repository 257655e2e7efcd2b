"""Delivering one event to one webhook: signed, to the address the SSRF check passed, with
retries on connection errors and non-2xx answers, every attempt recorded."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode

import vokaflow
from vokaflow import tracing
from vokaflow.config import Settings
from vokaflow.domain.backoff import retry_delay_s
from vokaflow.store.webhooks import Attempt, Webhook
from vokaflow.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_body
from vokaflow.webhooks.ssrf import Allowlist, Unresolvable, UrlRefused, checked_addresses

DELIVERED, RETRYING, FAILED = "delivered", "retrying", "failed"
MAX_CONCURRENT_REQUESTS = 64

log = logging.getLogger("vokaflow.webhooks")


class AttemptLog(Protocol):
    async def record(self, attempt: Attempt) -> None: ...

    async def exists(self, webhook_id: str) -> bool: ...


class CountedLog:
    """An attempt log that also counts each recorded attempt's outcome (for Prometheus)."""

    def __init__(self, attempts: AttemptLog, count: Callable[[str], None]) -> None:
        self.attempts = attempts
        self.count = count

    async def record(self, attempt: Attempt) -> None:
        await self.attempts.record(attempt)
        try:
            self.count(attempt.outcome)
        except Exception:  # a metrics failure must not fail the delivery
            log.warning("counting a webhook attempt failed", exc_info=True)

    async def exists(self, webhook_id: str) -> bool:
        return await self.attempts.exists(webhook_id)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    timeout_s: float
    backoff_base_s: float
    backoff_max_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.webhook_max_attempts,
            settings.webhook_timeout_s,
            settings.webhook_backoff_base_s,
            settings.webhook_backoff_max_s,
        )

    def outcome(self, attempt: int, status_code: int | None, refused: bool) -> str:
        if status_code is not None and 200 <= status_code < 300:
            return DELIVERED
        if refused or attempt >= self.max_attempts:
            return FAILED
        return RETRYING

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt``: exponential, with jitter."""
        return retry_delay_s(attempt, self.backoff_base_s, self.backoff_max_s, rng)


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook; its id stays the same across attempts and redeliveries."""

    delivery_id: str
    event: str
    subject_id: str
    payload: dict[str, Any]
    trace_parent: str = ""  # its task's submit span, when the task is traced


def delivery_id(webhook_id: str, entry_id: str) -> str:
    """Stable for a stream entry, so a receiver can drop a repeat after a dispatcher restart."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vokaflow:{webhook_id}:{entry_id}"))


@dataclass(frozen=True)
class _Answer:
    status_code: int | None = None
    error: str | None = None
    refused: bool = False


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        log: AttemptLog,
        policy: RetryPolicy,
        allowlist: Allowlist,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.log = log
        self.policy = policy
        self.allowlist = allowlist
        self.rng = rng or random.Random()
        self.requests = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

    async def deliver(self, webhook: Webhook, delivery: Delivery) -> Attempt:
        """Attempts until delivered, refused, out of attempts or the webhook is deleted."""
        number = 1
        while True:
            attempt = await self.traced_attempt(webhook, delivery, number)
            await self.log.record(attempt)
            if attempt.outcome != RETRYING:
                return attempt
            await asyncio.sleep(self.policy.delay_s(number, self.rng))
            if not await self.log.exists(webhook.webhook_id):
                return attempt
            number += 1

    async def traced_attempt(self, webhook: Webhook, delivery: Delivery, number: int) -> Attempt:
        """An attempt, as a span of its task's trace when the task is traced."""
        if not (delivery.trace_parent and tracing.enabled()):
            return await self.attempt(webhook, delivery, number)
        attributes = {
            "vokaflow.webhook_id": webhook.webhook_id,
            "vokaflow.event": delivery.event,
            "vokaflow.attempt": number,
        }
        with tracing.span_under(
            delivery.trace_parent, "webhook delivery", SpanKind.CLIENT, attributes
        ) as span:
            attempt = await self.attempt(webhook, delivery, number)
            span.set_attribute("vokaflow.outcome", attempt.outcome)
            if attempt.status_code is not None:
                span.set_attribute("http.response.status_code", attempt.status_code)
            if attempt.outcome != DELIVERED:
                span.set_status(Status(StatusCode.ERROR, attempt.error or attempt.outcome))
            return attempt

    async def attempt(self, webhook: Webhook, delivery: Delivery, number: int) -> Attempt:
        started, at = time.monotonic(), time.time()
        async with self.requests:
            try:
                answer = await asyncio.wait_for(
                    self._send(webhook, delivery), self.policy.timeout_s * 2
                )
            except asyncio.TimeoutError:
                answer = _Answer(error=f"no answer within {self.policy.timeout_s * 2:g} s")
            except Exception as exc:  # whatever went wrong, it is this attempt's failure
                answer = _Answer(error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        return Attempt(
            delivery_id=delivery.delivery_id,
            webhook_id=webhook.webhook_id,
            attempt=number,
            event=delivery.event,
            subject_id=delivery.subject_id,
            status_code=answer.status_code,
            error=answer.error,
            duration_s=round(time.monotonic() - started, 6),
            at=at,
            outcome=self.policy.outcome(number, answer.status_code, answer.refused),
        )

    async def _send(self, webhook: Webhook, delivery: Delivery) -> _Answer:
        try:
            target, addresses = await checked_addresses(webhook.url, self.allowlist)
        except UrlRefused as exc:
            return _Answer(error=f"refused: {exc}", refused=True)
        except Unresolvable as exc:
            return _Answer(error=str(exc))
        timestamp = str(int(time.time()))
        body = signed_body(delivery.payload, webhook.secret, timestamp)
        url = httpx.URL(webhook.url)
        headers = {
            "Host": url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": f"VokaFlow-Webhooks/{vokaflow.__version__}",
            "X-VokaFlow-Event": delivery.event,
            "X-VokaFlow-Delivery": delivery.delivery_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
        }
        # Connect to the address just checked, not to what a second lookup might answer.
        pinned = url.copy_with(host=addresses[0])
        try:
            async with self.client.stream(
                "POST",
                pinned,
                content=body,
                headers=headers,
                extensions={"sni_hostname": target.host},
            ) as response:
                code = response.status_code
        except httpx.HTTPError as exc:
            return _Answer(error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        return _Answer(status_code=code, error=None if 200 <= code < 300 else f"HTTP {code}")


def http_client(policy: RetryPolicy) -> httpx.AsyncClient:
    # trust_env=False: a proxy from the environment would defeat the address check.
    return httpx.AsyncClient(
        timeout=policy.timeout_s,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=MAX_CONCURRENT_REQUESTS),
    )


def single_attempt(policy: RetryPolicy) -> RetryPolicy:
    """For test pings: one attempt, its answer returned to the caller."""
    return dataclasses.replace(policy, max_attempts=1)
