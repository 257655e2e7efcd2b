"""Webhook delivery without a network: retries, outcomes, headers and payloads."""

from __future__ import annotations

import json
import random

import httpx

from vokaflow.domain import WebhookEvent
from vokaflow.store.events import EVENT_TYPES
from vokaflow.store.webhooks import Attempt, Webhook
from vokaflow.webhooks.delivery import (
    DELIVERED,
    FAILED,
    RETRYING,
    AttemptLog,
    CountedLog,
    Delivery,
    RetryPolicy,
    WebhookSender,
    delivery_id,
)
from vokaflow.webhooks.payloads import batch_data, payload, task_data
from vokaflow.webhooks.signing import verify_signature
from vokaflow.webhooks.ssrf import Allowlist

POLICY = RetryPolicy(max_attempts=4, timeout_s=1.0, backoff_base_s=0.001, backoff_max_s=0.002)
PUBLIC_URL = "http://93.184.216.34:8080/hook"


class MemoryLog:
    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.deleted = False

    async def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    async def exists(self, webhook_id: str) -> bool:
        return not self.deleted


def _webhook(url: str = PUBLIC_URL) -> Webhook:
    return Webhook("wh_1", url, ("task.completed",), "secret-1", "ann", 1.0)


def _delivery() -> Delivery:
    body = payload("task.completed", 1.0, {"task_id": "t1"})
    return Delivery(delivery_id("wh_1", "1-0"), "task.completed", "t1", body)


def _sender(answers: list[int | Exception], seen: list[httpx.Request], log: AttemptLog):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return WebhookSender(client, log, POLICY, Allowlist.parse([]), random.Random(1))


async def test_non_2xx_answers_are_retried_until_delivered_and_every_attempt_is_recorded():
    seen: list[httpx.Request] = []
    log = MemoryLog()
    final = await _sender([500, 503, 200], seen, log).deliver(_webhook(), _delivery())
    assert final.outcome == DELIVERED
    assert [(a.attempt, a.status_code, a.outcome) for a in log.attempts] == [
        (1, 500, RETRYING),
        (2, 503, RETRYING),
        (3, 200, DELIVERED),
    ]
    assert len({a.delivery_id for a in log.attempts}) == 1
    assert len({r.headers["X-VokaFlow-Delivery"] for r in seen}) == 1


async def test_a_connection_error_is_retried_and_the_last_attempt_fails():
    log = MemoryLog()
    refused = httpx.ConnectError("connection refused")
    final = await _sender([refused] * 4, [], log).deliver(_webhook(), _delivery())
    assert final.outcome == FAILED and final.attempt == POLICY.max_attempts
    assert all(a.error and "ConnectError" in a.error for a in log.attempts)
    assert [a.outcome for a in log.attempts] == [RETRYING, RETRYING, RETRYING, FAILED]


async def test_a_refused_address_is_recorded_once_and_never_sent():
    seen: list[httpx.Request] = []
    log = MemoryLog()
    final = await _sender([200], seen, log).deliver(_webhook("http://10.0.0.1/"), _delivery())
    assert (final.outcome, final.attempt, seen) == (FAILED, 1, [])
    assert final.error is not None and final.error.startswith("refused:")


async def test_retries_stop_once_the_webhook_is_deleted():
    log = MemoryLog()
    log.deleted = True
    await _sender([500, 200], [], log).deliver(_webhook(), _delivery())
    assert [a.outcome for a in log.attempts] == [RETRYING]


async def test_a_delivery_is_signed_and_sent_to_the_checked_address_with_its_host():
    seen: list[httpx.Request] = []
    await _sender([204], seen, MemoryLog()).deliver(_webhook(), _delivery())
    request = seen[0]
    assert request.headers["Host"] == "93.184.216.34:8080"
    assert request.headers["X-VokaFlow-Event"] == "task.completed"
    timestamp = request.headers["X-VokaFlow-Timestamp"]
    signature = request.headers["X-VokaFlow-Signature"]
    assert verify_signature(request.content, timestamp, signature, "secret-1")
    assert json.loads(request.content)["data"] == {"task_id": "t1"}


def test_the_outcome_depends_on_the_answer_and_the_attempts_left():
    assert POLICY.outcome(1, 200, refused=False) == DELIVERED
    assert POLICY.outcome(1, 299, refused=False) == DELIVERED
    assert POLICY.outcome(1, 302, refused=False) == RETRYING
    assert POLICY.outcome(1, None, refused=False) == RETRYING
    assert POLICY.outcome(4, 500, refused=False) == FAILED
    assert POLICY.outcome(1, None, refused=True) == FAILED


def test_the_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    policy = RetryPolicy(max_attempts=10, timeout_s=1, backoff_base_s=1.0, backoff_max_s=8.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.delay_s(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


def test_a_delivery_id_is_stable_for_one_entry_and_webhook():
    assert delivery_id("wh_1", "1-0") == delivery_id("wh_1", "1-0")
    assert delivery_id("wh_1", "1-0") != delivery_id("wh_2", "1-0")


def test_the_webhook_events_accepted_are_the_events_written():
    assert {e.value for e in WebhookEvent} == set(EVENT_TYPES)


def test_a_failed_task_payload_carries_the_error_and_the_spec_fields():
    record = {
        "spec": json.dumps({"name": "job"}),
        "status": "failed",
        "result": "null",
        "execution_time": "0.5",
        "completed_at": "1748652769.012345",
        "error": json.dumps({"type": "ValueError", "message": "bad"}),
    }
    data = task_data("task.failed", "t1", record)
    assert data == {
        "task_id": "t1",
        "name": "job",
        "status": "failed",
        "result": None,
        "execution_time": 0.5,
        "completed_at": "2025-05-31T00:52:49.012345",
        "error": {"type": "ValueError", "message": "bad"},
    }
    assert "error" not in task_data("task.completed", "t1", record)


def test_a_task_record_gone_past_retention_still_gives_a_payload():
    assert task_data("task.cancelled", "t9", None)["status"] == "cancelled"


def test_a_batch_payload_has_the_total_and_the_counts():
    record = {"status": "completed", "total": "3", "n_completed": "2", "n_failed": "1"}
    data = batch_data("batch_1", record)
    assert (data["batch_id"], data["total"], data["completed"], data["failed"]) == (
        "batch_1",
        3,
        2,
        1,
    )
    assert data["cancelled"] == data["timeout"] == 0


async def test_a_counted_log_counts_each_attempt_by_outcome_and_still_records_it():
    memory, counted = MemoryLog(), []
    log = CountedLog(memory, counted.append)
    refused = httpx.ConnectError("connection refused")
    final = await _sender([refused] * 4, [], log).deliver(_webhook(), _delivery())
    assert final.outcome == FAILED
    assert counted == [RETRYING, RETRYING, RETRYING, FAILED]
    assert len(memory.attempts) == 4


async def test_a_broken_counter_does_not_fail_the_delivery():
    def broken(outcome: str) -> None:
        raise ValueError("metrics agent gone")

    memory = MemoryLog()
    final = await _sender([200], [], CountedLog(memory, broken)).deliver(_webhook(), _delivery())
    assert final.outcome == DELIVERED and len(memory.attempts) == 1
