"""The Python SDK against httpx.MockTransport: request bodies, typed answers, error mapping,
opt-in retries on 429, polling, server-sent events, the sync twin and webhook signatures."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from vokaflow.webhooks.signing import sign as service_sign
from vokaflow.webhooks.signing import signed_body
from vokaflow_sdk import (
    AuthenticationError,
    Conflict,
    PayloadTooLarge,
    RateLimitExceeded,
    ServerError,
    ServiceUnavailable,
    StreamError,
    SyncVokaFlowClient,
    TaskNotFound,
    TaskWaitTimeout,
    ValidationError,
    VokaFlowClient,
    VokaFlowConnectionError,
    VokaFlowError,
    verify_signature,
)
from vokaflow_sdk._sse import SSEDecoder

BASE = "http://vokaflow.test"
KEY = "test-api-key"
TASK_ID = "550e8400-e29b-41d4-a716-446655440000"
SUBMITTED = {
    "task_id": TASK_ID,
    "name": "example_task",
    "status": "queued",
    "priority": "HIGH",
    "partition": 5,
    "redis_node": "127.0.0.1:6379",
    "estimated_completion": "2025-05-31T01:00:00.000Z",
    "queue_position": 3,
    "created_at": "2025-05-31T00:52:46.682244",
}
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a script and keeps every request."""

    def __init__(self, *answers: httpx.Response | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def status_body(status: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": TASK_ID, "name": "t", "status": status, "priority": "NORMAL", **fields}


def error_reply(status: int, code: str, details: dict[str, Any] | None = None, **kw: Any):
    body: dict[str, Any] = {"error": code, "message": f"{code} happened", "timestamp": "now"}
    if details is not None:
        body["details"] = details
    return httpx.Response(status, json=body, **kw)


def async_client(recorder: Recorder, **options: Any) -> VokaFlowClient:
    return VokaFlowClient(BASE, api_key=KEY, transport=httpx.MockTransport(recorder), **options)


def sync_client(recorder: Recorder, **options: Any) -> SyncVokaFlowClient:
    return SyncVokaFlowClient(BASE, api_key=KEY, transport=httpx.MockTransport(recorder), **options)


def sse(events: Iterable[tuple[str | None, Any]]) -> bytes:
    lines = []
    for event, data in events:
        head = f"event: {event}\n" if event else ""
        lines.append(f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n")
    return "".join(lines).encode()


CHAT_DONE = {
    "message": {"role": "assistant", "content": "Hola mundo"},
    "session_id": "session_abc",
    "model_used": "tiny",
    "personality": "conversational",
    "tokens_used": 12,
    "execution_time": 0.1,
}
CHAT_STREAM = sse(
    [(None, {"delta": "Hola"}), (None, {"delta": " mundo"}), ("done", CHAT_DONE), (None, "[DONE]")]
)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """asyncio.sleep and time.sleep that return at once and record how long they were asked."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_async_sleep(seconds: float, *args: Any) -> None:
        asked.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_async_sleep)
    monkeypatch.setattr(time, "sleep", asked.append)
    return asked


# ---------------------------------------------------------------- requests and answers


async def test_submit_task_sends_the_spec_body_with_the_api_key_and_parses_the_answer():
    recorder = Recorder(httpx.Response(200, json=SUBMITTED))
    async with async_client(recorder) as client:
        task = await client.submit_task(
            name="example_task",
            function_name="vicky_inference",
            args=["Procesar este texto", "qwen_7b"],
            priority="HIGH",
            category="vicky",
        )
    request = recorder.requests[0]
    assert request.method == "POST" and request.url.path == "/api/high-scale-tasks/submit"
    assert request.headers["X-API-Key"] == KEY
    assert recorder.body() == {
        "name": "example_task",
        "function_name": "vicky_inference",
        "args": ["Procesar este texto", "qwen_7b"],
        "priority": "HIGH",
        "category": "vicky",
    }
    assert task.task_id == TASK_ID and task.queue_position == 3 and task.partition == 5


async def test_delayed_submits_send_run_at_as_iso_text_and_delay_seconds_as_given():
    batch_answer = {"batch_id": "batch_1", "total_submitted": 1}
    submitted = httpx.Response(200, json=SUBMITTED)
    recorder = Recorder(submitted, submitted, httpx.Response(200, json=batch_answer))
    due = datetime(2030, 1, 31, 9, 0, tzinfo=timezone.utc)
    async with async_client(recorder) as client:
        await client.submit_task("t", "noop", run_at=due)
        await client.submit_task("t", "noop", delay_seconds=30)
        await client.submit_batch([{"name": "b", "function_name": "noop", "run_at": due}])
    first, second, batch = (json.loads(r.content) for r in recorder.requests)
    assert first["run_at"] == "2030-01-31T09:00:00+00:00" and "delay_seconds" not in first
    assert second["delay_seconds"] == 30 and "run_at" not in second
    assert batch["tasks"][0]["run_at"] == "2030-01-31T09:00:00+00:00"


async def test_a_token_is_sent_as_a_bearer_authorization_header():
    recorder = Recorder(httpx.Response(200, json=SUBMITTED))
    client = VokaFlowClient(BASE, token="a.jwt.token", transport=httpx.MockTransport(recorder))
    await client.submit_task("t", "noop")
    await client.aclose()
    assert recorder.requests[0].headers["Authorization"] == "Bearer a.jwt.token"
    assert "X-API-Key" not in recorder.requests[0].headers


async def test_unknown_fields_and_new_status_values_in_an_answer_do_not_break_parsing():
    body = status_body("paused_for_review", shiny_new_field={"x": 1}, execution_time=1.5)
    async with async_client(Recorder(httpx.Response(200, json=body))) as client:
        status = await client.get_task_status(TASK_ID)
    assert status.status == "paused_for_review" and not status.is_terminal
    assert status.model_extra == {"shiny_new_field": {"x": 1}}
    assert status.execution_time == 1.5


async def test_submit_batch_sends_the_batch_fields_and_lists_the_refused_tasks():
    answer = {
        "batch_id": "batch_1",
        "total_submitted": 1,
        "total_errors": 1,
        "successful_tasks": [{"task_id": TASK_ID, "name": "b", "partition": 1, "redis_node": "n"}],
        "errors": [{"index": 0, "name": "a", "error": "validation_error", "message": "bad"}],
        "execution_mode": "sequential",
        "estimated_completion": "2025-05-31T01:05:00.000Z",
    }
    recorder = Recorder(httpx.Response(200, json=answer))
    tasks = [{"name": "a", "function_name": "nope"}, {"name": "b", "function_name": "noop"}]
    async with async_client(recorder) as client:
        batch = await client.submit_batch(
            tasks, execution_mode="sequential", batch_timeout=900, max_failures=5, priority="HIGH"
        )
    assert recorder.body() == {
        "tasks": tasks,
        "batch_priority": "HIGH",
        "execution_mode": "sequential",
        "batch_timeout": 900,
        "max_failures": 5,
    }
    assert batch.total_submitted == 1 and batch.errors[0].error == "validation_error"
    assert batch.successful_tasks[0].task_id == TASK_ID


async def test_ids_are_quoted_so_they_cannot_reach_another_route():
    recorder = Recorder(httpx.Response(200, json=status_body("queued")))
    async with async_client(recorder) as client:
        await client.get_task_status("../metrics")
    assert recorder.requests[0].url.raw_path == b"/api/high-scale-tasks/status/..%2Fmetrics"


async def test_vicky_chat_sends_a_string_as_one_user_message_and_only_the_given_parameters():
    recorder = Recorder(httpx.Response(200, json=CHAT_DONE))
    async with async_client(recorder) as client:
        reply = await client.vicky_chat("Hola", model="tiny", max_tokens=8)
    assert recorder.body() == {
        "messages": [{"role": "user", "content": "Hola"}],
        "model": "tiny",
        "parameters": {"max_tokens": 8},
    }
    assert reply.message.content == "Hola mundo" and reply.session_id == "session_abc"


async def test_configure_webhook_sends_url_events_and_secret():
    answer = {"id": "wh_1", "url": "https://x.test/h", "events": ["task.completed"]}
    recorder = Recorder(httpx.Response(201, json=answer))
    async with async_client(recorder) as client:
        hook = await client.configure_webhook("https://x.test/h", ["task.completed"], "s3cret!!")
    assert recorder.requests[0].url.path == "/api/webhooks/configure"
    assert recorder.body() == {
        "url": "https://x.test/h",
        "events": ["task.completed"],
        "secret": "s3cret!!",
    }
    assert hook.id == "wh_1" and hook.active


SCHEDULE = {
    "id": "sch_1",
    "task": {"name": "ping", "function_name": "noop"},
    "cron": "30 2 * * *",
    "timezone": "Europe/Madrid",
    "next_fire_times": ["2026-10-25T00:30:00.000Z"],
    "runs": [{"fire_time": "2026-10-24T00:30:00.000Z", "task_id": "t1", "status": "completed"}],
}


async def test_schedules_are_created_read_changed_and_deleted_by_id():
    recorder = Recorder(httpx.Response(200, json=SCHEDULE))
    async with async_client(recorder) as client:
        made = await client.create_schedule(
            {"name": "ping", "function_name": "noop"}, cron="30 2 * * *", timezone="Europe/Madrid"
        )
        await client.update_schedule("sch_1", interval_seconds=60, start=None)
        await client.pause_schedule("sch_1")
        await client.resume_schedule("sch/1")
        await client.list_schedules()
        await client.list_schedules(limit=10, offset=20)
    assert recorder.body(0) == {
        "task": {"name": "ping", "function_name": "noop"},
        "cron": "30 2 * * *",
        "timezone": "Europe/Madrid",
    }
    assert recorder.body(1) == {"interval_seconds": 60, "start": None}
    assert [(r.method, r.url.raw_path.decode()) for r in recorder.requests] == [
        ("POST", "/api/schedules"),
        ("PATCH", "/api/schedules/sch_1"),
        ("POST", "/api/schedules/sch_1/pause"),
        ("POST", "/api/schedules/sch%2F1/resume"),
        ("GET", "/api/schedules"),
        ("GET", "/api/schedules?limit=10&offset=20"),
    ]
    assert made.runs is not None and made.runs[0].task_id == "t1"
    with sync_client(Recorder(httpx.Response(200, json={"id": "sch_1"}))) as client:
        assert client.delete_schedule("sch_1").deleted
        assert client.get_schedule("sch_1").id == "sch_1"


async def test_get_notify_secret_reads_the_key_s_own_send_webhook_secret():
    recorder = Recorder(httpx.Response(200, json={"principal": "ann", "secret": "abc"}))
    async with async_client(recorder) as client:
        answer = await client.get_notify_secret()
    assert recorder.requests[0].method == "GET"
    assert recorder.requests[0].url.path == "/api/webhooks/notify-secret"
    assert (answer.principal, answer.secret) == ("ann", "abc")


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (400, "validation_error", ValidationError),
        (401, "unauthorized", AuthenticationError),
        (404, "not_found", TaskNotFound),
        (409, "conflict", Conflict),
        (413, "payload_too_large", PayloadTooLarge),
        (429, "rate_limit_exceeded", RateLimitExceeded),
        (500, "internal_server_error", ServerError),
        (503, "service_unavailable", ServiceUnavailable),
        (418, "teapot", VokaFlowError),
    ],
)
async def test_each_error_status_raises_its_typed_error(status, code, error_type):
    async with async_client(Recorder(error_reply(status, code))) as client:
        with pytest.raises(error_type) as raised:
            await client.get_task_status(TASK_ID)
    assert raised.value.status_code == status and raised.value.code == code
    assert raised.value.message == f"{code} happened"


async def test_a_validation_error_names_the_field_from_its_details():
    details = {"field": "priority", "error": "Invalid priority level"}
    async with async_client(Recorder(error_reply(400, "validation_error", details))) as client:
        with pytest.raises(ValidationError) as raised:
            await client.submit_task("t", "noop", priority="URGENT")
    assert raised.value.field == "priority" and raised.value.error == "Invalid priority level"


async def test_a_rate_limit_error_carries_retry_after_limit_current_and_reset_time():
    details = {"limit": 50000, "current": 50001, "reset_time": "2025-05-31T01:00:00Z"}
    reply = error_reply(
        429, "rate_limit_exceeded", {**details, "retry_after": 45}, headers={"Retry-After": "9"}
    )
    async with async_client(Recorder(reply)) as client:
        with pytest.raises(RateLimitExceeded) as raised:
            await client.submit_task("t", "noop")
    error = raised.value
    assert error.retry_after == 45, "details.retry_after wins over the header"
    assert (error.limit, error.current, error.reset_time) == (50000, 50001, details["reset_time"])


async def test_a_rate_limit_error_without_details_reads_the_retry_after_header():
    async with async_client(
        Recorder(error_reply(429, "rate_limit_exceeded", headers={"Retry-After": "7"}))
    ) as client:
        with pytest.raises(RateLimitExceeded) as raised:
            await client.submit_task("t", "noop")
    assert raised.value.retry_after == 7.0 and raised.value.limit is None


def test_a_retry_after_header_given_as_an_http_date_counts_from_now():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    recorder = Recorder(error_reply(429, "rate_limit_exceeded", headers={"Retry-After": when}))
    with sync_client(recorder) as client, pytest.raises(RateLimitExceeded) as raised:
        client.get_metrics()
    assert raised.value.retry_after is not None and 25 <= raised.value.retry_after <= 30


async def test_a_service_unavailable_error_names_the_component():
    details = {"component": "redis", "status": "degraded"}
    async with async_client(Recorder(error_reply(503, "service_unavailable", details))) as client:
        with pytest.raises(ServiceUnavailable) as raised:
            await client.get_metrics()
    assert raised.value.component == "redis"


async def test_an_error_body_that_is_not_json_becomes_the_message():
    page = httpx.Response(502, text="<html>Bad gateway</html>")
    async with async_client(Recorder(page)) as client:
        with pytest.raises(ServerError) as raised:
            await client.get_metrics()
    assert raised.value.status_code == 502 and "Bad gateway" in raised.value.message


async def test_a_request_that_gets_no_answer_raises_a_connection_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with async_client(Recorder(refuse)) as client:
        with pytest.raises(VokaFlowConnectionError):
            await client.get_metrics()


# ---------------------------------------------------------------- retries on 429


async def test_a_429_is_raised_at_once_unless_retry_is_opted_in(no_sleep):
    recorder = Recorder(error_reply(429, "rate_limit_exceeded", {"retry_after": 2}))
    async with async_client(recorder) as client:
        with pytest.raises(RateLimitExceeded):
            await client.submit_task("t", "noop")
    assert len(recorder.requests) == 1 and no_sleep == []


async def test_an_opted_in_client_waits_retry_after_and_retries_until_accepted(no_sleep):
    limited = error_reply(429, "rate_limit_exceeded", {"retry_after": 2})
    recorder = Recorder(limited, limited, httpx.Response(200, json=SUBMITTED))
    async with async_client(recorder, retry_on_rate_limit=True) as client:
        task = await client.submit_task("t", "noop")
    assert task.task_id == TASK_ID
    assert len(recorder.requests) == 3 and no_sleep == [2.0, 2.0]


async def test_an_opted_in_retry_honors_the_retry_after_header_too(no_sleep):
    limited = error_reply(429, "rate_limit_exceeded", headers={"Retry-After": "3"})
    recorder = Recorder(limited, httpx.Response(200, json=SUBMITTED))
    async with async_client(recorder, retry_on_rate_limit=True) as client:
        await client.submit_task("t", "noop")
    assert no_sleep == [3.0]


async def test_an_opted_in_client_gives_up_after_max_rate_limit_retries(no_sleep):
    recorder = Recorder(error_reply(429, "rate_limit_exceeded", {"retry_after": 1}))
    client = async_client(recorder, retry_on_rate_limit=True, max_rate_limit_retries=2)
    with pytest.raises(RateLimitExceeded):
        await client.submit_task("t", "noop")
    await client.aclose()
    assert len(recorder.requests) == 3 and no_sleep == [1.0, 1.0]


async def test_other_errors_are_never_retried(no_sleep):
    recorder = Recorder(error_reply(503, "service_unavailable", {"component": "redis"}))
    async with async_client(recorder, retry_on_rate_limit=True) as client:
        with pytest.raises(ServiceUnavailable):
            await client.get_metrics()
    assert len(recorder.requests) == 1


# ---------------------------------------------------------------- waiting for a task


async def test_wait_for_completion_polls_until_the_task_ends_and_returns_its_status():
    recorder = Recorder(
        httpx.Response(200, json=status_body("queued")),
        httpx.Response(200, json=status_body("running")),
        httpx.Response(200, json=status_body("completed", result={"message": "hi"})),
    )
    async with async_client(recorder) as client:
        done = await client.wait_for_completion(TASK_ID, timeout=5, poll_interval=0.001)
    assert done.status == "completed" and done.result == {"message": "hi"}
    assert len(recorder.requests) == 3


@pytest.mark.parametrize("final", ["failed", "cancelled", "timeout"])
async def test_wait_for_completion_returns_failed_cancelled_and_timed_out_tasks(final):
    recorder = Recorder(httpx.Response(200, json=status_body(final)))
    async with async_client(recorder) as client:
        done = await client.wait_for_completion(TASK_ID, timeout=1, poll_interval=0.001)
    assert done.status == final and done.is_terminal


async def test_wait_for_completion_raises_a_timeout_error_when_the_task_does_not_end():
    recorder = Recorder(httpx.Response(200, json=status_body("running")))
    async with async_client(recorder) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError) as raised:
            await client.wait_for_completion(TASK_ID, timeout=0.2, poll_interval=0.02)
    assert 0.2 <= time.monotonic() - started < 2
    assert isinstance(raised.value, TaskWaitTimeout) and isinstance(raised.value, VokaFlowError)
    assert raised.value.last_status == "running" and raised.value.task_id == TASK_ID
    assert len(recorder.requests) >= 5


# ---------------------------------------------------------------- server-sent events


async def test_the_chat_stream_yields_the_text_pieces_and_keeps_the_whole_answer():
    reply = httpx.Response(200, content=CHAT_STREAM, headers={"content-type": "text/event-stream"})
    recorder = Recorder(reply)
    async with async_client(recorder) as client:
        stream = client.vicky_chat_stream("Hola", model="tiny", session_id="s1")
        pieces = [piece async for piece in stream]
    assert pieces == ["Hola", " mundo"]
    assert stream.response is not None and stream.response.session_id == "session_abc"
    assert recorder.body() == {
        "messages": [{"role": "user", "content": "Hola"}],
        "model": "tiny",
        "session_id": "s1",
        "stream": True,
    }
    assert recorder.requests[0].headers["Accept"] == "text/event-stream"


async def test_an_error_event_in_the_stream_raises_a_stream_error_after_the_pieces_before_it():
    body = sse([(None, {"delta": "Ho"}), ("error", {"error": "RuntimeError", "message": "boom"})])
    async with async_client(Recorder(httpx.Response(200, content=body))) as client:
        pieces: list[str] = []
        with pytest.raises(StreamError, match="boom"):
            async for piece in client.vicky_chat_stream("Hola"):
                pieces.append(piece)
    assert pieces == ["Ho"]


async def test_a_stream_refused_before_its_first_byte_raises_the_mapped_error():
    details = {"field": "model", "error": "Unknown model 'gpt-9'. Known: tiny"}
    async with async_client(Recorder(error_reply(400, "validation_error", details))) as client:
        with pytest.raises(ValidationError) as raised:
            await client.vicky_chat_stream("Hola", model="gpt-9").text()
    assert raised.value.field == "model"


async def test_a_rate_limited_stream_is_retried_when_opted_in(no_sleep):
    limited = error_reply(429, "rate_limit_exceeded", {"retry_after": 1})
    recorder = Recorder(limited, httpx.Response(200, content=CHAT_STREAM))
    async with async_client(recorder, retry_on_rate_limit=True) as client:
        assert await client.vicky_chat_stream("Hola").text() == "Hola mundo"
    assert no_sleep == [1.0]


async def test_a_stream_left_early_is_closed_by_aclose():
    reply = httpx.Response(200, content=CHAT_STREAM)
    async with async_client(Recorder(reply)) as client:
        stream = client.vicky_chat_stream("Hola")
        async for piece in stream:
            assert piece == "Hola"
            break
        await stream.aclose()
        assert stream.response is None, "the done event was never read"


def test_the_sse_decoder_joins_multi_line_data_and_skips_comments_and_crlf():
    decoder = SSEDecoder()
    lines = [": keep-alive", 'data: {"delta":', 'data: "a\\nb"}\r', "", "data: [DONE]", ""]
    pieces = [piece for line in lines for piece in decoder.feed(line)]
    assert pieces == ["a\nb"] and decoder.finished


def test_the_sse_decoder_counts_an_event_left_open_when_the_stream_ends():
    decoder = SSEDecoder()
    assert decoder.feed('data: {"delta": "tail"}') == []
    assert decoder.close() == ["tail"]


# ---------------------------------------------------------------- the sync twin and lifecycle


def _public_methods(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))}


def test_the_sync_twin_has_exactly_the_async_clients_methods():
    shared = _public_methods(VokaFlowClient) - {"aclose"}
    assert shared == _public_methods(SyncVokaFlowClient) - {"close"}
    assert {"submit_task", "wait_for_completion", "vicky_chat_stream"} <= shared


def test_the_sync_twin_submits_waits_and_streams():
    recorder = Recorder(
        httpx.Response(200, json=SUBMITTED),
        httpx.Response(200, json=status_body("running")),
        httpx.Response(200, json=status_body("completed", result=None)),
        httpx.Response(200, content=CHAT_STREAM),
    )
    with sync_client(recorder) as client:
        task = client.submit_task("t", "noop")
        done = client.wait_for_completion(task.task_id, timeout=5, poll_interval=0.001)
        stream = client.vicky_chat_stream("Hola")
        pieces = list(stream)
    assert done.status == "completed" and pieces == ["Hola", " mundo"]
    assert stream.response is not None and stream.response.message.content == "Hola mundo"


def test_the_sync_twin_maps_errors_and_times_out_like_the_async_client():
    with (
        sync_client(Recorder(error_reply(404, "not_found"))) as client,
        pytest.raises(TaskNotFound),
    ):
        client.cancel_task(TASK_ID)
    queued = Recorder(httpx.Response(200, json=status_body("queued")))
    with sync_client(queued) as client, pytest.raises(TaskWaitTimeout):
        client.wait_for_completion(TASK_ID, timeout=0.05, poll_interval=0.01)


def test_a_client_used_without_async_with_works_across_two_event_loops():
    recorder = Recorder(httpx.Response(200, json=SUBMITTED))
    client = async_client(recorder)  # made outside any event loop, as in the spec's example

    async def submit() -> str:
        return (await client.submit_task("t", "noop")).task_id

    assert asyncio.run(submit()) == TASK_ID
    assert asyncio.run(submit()) == TASK_ID
    asyncio.run(client.aclose())
    assert len(recorder.requests) == 2


# ---------------------------------------------------------------- webhook signatures

SECRET = "webhook-secret"
PAYLOAD = {"event": "task.completed", "timestamp": "2025-05-31T00:52:46", "data": {"x": "ñ"}}


def _signed_delivery() -> tuple[bytes, dict[str, str]]:
    """A body and headers exactly as the service's webhook sender makes them."""
    stamp = str(int(time.time()))
    body = signed_body(PAYLOAD, SECRET, stamp)
    headers = {
        "X-VokaFlow-Timestamp": stamp,
        "X-VokaFlow-Signature": service_sign(SECRET, stamp, body),
    }
    return body, headers


def test_verify_signature_accepts_a_delivery_signed_by_the_service():
    body, headers = _signed_delivery()
    signature, stamp = headers["X-VokaFlow-Signature"], headers["X-VokaFlow-Timestamp"]
    assert verify_signature(body, signature, SECRET, timestamp=stamp)
    assert verify_signature(body, headers, SECRET)
    lowercase = {name.lower(): value for name, value in headers.items()}
    assert verify_signature(body, lowercase, SECRET), "header names are case-insensitive"


def test_verify_signature_rejects_a_changed_body_another_secret_or_another_timestamp():
    body, headers = _signed_delivery()
    assert not verify_signature(body.replace(b"task.completed", b"task.failed"), headers, SECRET)
    assert not verify_signature(body, headers, "another-secret")
    stamp = str(int(headers["X-VokaFlow-Timestamp"]) - 1)
    assert not verify_signature(body, headers, SECRET, timestamp=stamp)
    assert not verify_signature(body, "sha256=" + "0" * 64, SECRET, timestamp=stamp)


def test_verify_signature_rejects_an_expired_or_unstamped_delivery():
    body, headers = _signed_delivery()
    later = time.time() + 301
    assert not verify_signature(body, headers, SECRET, now=later)
    assert verify_signature(body, headers, SECRET, tolerance_s=600, now=later)
    assert not verify_signature(body, headers["X-VokaFlow-Signature"], SECRET)
    assert not verify_signature(body, {"X-VokaFlow-Signature": "sha256=00"}, SECRET)
    assert not verify_signature(body, headers, SECRET, timestamp="12ab")
