"""The Python SDK against the real stack: tasks, batches, cancel, typed errors, the catalog,
metrics, rate-limit retries, Vicky (tiny model, plain and streamed), webhooks with signature
checks, the sync twin, and the API reference's own Python SDK example, run unchanged."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from vokaflow.testing.stack import LocalStack
from vokaflow_sdk import (
    AuthenticationError,
    Conflict,
    RateLimitExceeded,
    SyncVokaFlowClient,
    TaskNotFound,
    ValidationError,
    VokaFlowClient,
    verify_signature,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).with_name("spec_examples") / "python_sdk_example.py"
SPEC = REPO / "docs" / "API_REFERENCE.md"  # the contract, as this version implements it
TINY: dict[str, Any] = {"model": "tiny", "max_tokens": 8, "temperature": 0.0}
SECRET = "sdk-webhook-secret"
T = TypeVar("T")


@pytest.fixture
async def client(stack: LocalStack) -> AsyncIterator[VokaFlowClient]:
    async with VokaFlowClient(stack.base_url, api_key=stack.admin_key) as sdk:
        yield sdk


async def _until(
    read: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout_s: float = 60
) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- tasks and batches


async def test_a_noop_task_is_submitted_and_waited_for_until_it_completes(client):
    task = await client.submit_task("sdk noop", "system.noop", priority="HIGH")
    assert task.status == "queued" and task.priority == "HIGH"
    done = await client.wait_for_completion(task.task_id, timeout=60, poll_interval=0.1)
    assert done.status == "completed" and done.result is None
    assert done.function_name == "noop" and done.execution_time is not None


async def test_a_delayed_task_waits_for_its_run_at_and_a_schedule_fires(client):
    task = await client.submit_task("sdk later", "noop", delay_seconds=1)
    assert task.status == "scheduled" and task.run_at is not None
    done = await client.wait_for_completion(task.task_id, timeout=60, poll_interval=0.1)
    assert done.status == "completed"
    assert done.started_at is not None and done.started_at >= task.run_at
    start = datetime.now(timezone.utc) - timedelta(seconds=4)  # the first fire in about 1 s
    made = await client.create_schedule(
        {"name": "sdk every", "function_name": "noop"}, interval_seconds=5, start=start.isoformat()
    )
    read = await _until(
        lambda: client.get_schedule(made.id),
        lambda s: any(r.status == "completed" for r in s.runs or []),
    )
    assert any(r.status == "completed" for r in read.runs or []), read
    assert made.id in [s.id for s in (await client.list_schedules(limit=1000)).schedules]
    await client.delete_schedule(made.id)


async def test_a_workflow_and_a_dependent_task_run_after_their_parents(client):
    nodes = [
        {"name": "a", "function_name": "accumulate", "kwargs": {"value": 2}},
        {
            "name": "b",
            "function_name": "accumulate",
            "depends_on": ["a"],
            "pass_results_as": "inputs",
        },
    ]
    made = await client.submit_workflow("sdk flow", nodes)
    # the answer reads the nodes as they are: the scheduler may have taken a already
    a_status, b_status = (n.status for n in made.nodes)
    assert made.status == "running" and a_status in ("queued", "running", "completed")
    assert a_status == "completed" or b_status == "waiting", "b waits while a has not ended"
    done = await _until(
        lambda: client.get_workflow(made.workflow_id), lambda w: w.status != "running"
    )
    assert done.status == "completed" and done.edges == [("a", "b")]
    first = await client.submit_task("sdk parent", "sleep", args=[0.2])
    second = await client.submit_task("sdk child", "noop", depends_on=[first.task_id])
    assert second.status == "waiting"
    assert (await client.wait_for_completion(second.task_id, timeout=60)).status == "completed"
    cancelled = await client.cancel_workflow(made.workflow_id)
    assert cancelled.status == "completed"  # nothing left to cancel: the nodes keep their ends


async def test_echo_returns_its_message_as_the_result(client):
    task = await client.submit_task("sdk echo", "echo", args=["hola desde el SDK"])
    done = await client.wait_for_completion(task.task_id, timeout=60, poll_interval=0.1)
    assert done.status == "completed" and done.result == {"message": "hola desde el SDK"}


async def test_a_batch_admits_the_valid_tasks_lists_the_others_and_is_followed_to_its_end(client):
    batch = await client.submit_batch(
        [
            {"name": "a", "function_name": "noop"},
            {"name": "b", "function_name": "echo", "args": ["b"]},
            {"name": "c", "function_name": "no_such_function"},
        ],
        execution_mode="sequential",
        batch_timeout=120,
        max_failures=1,
        priority="HIGH",
    )
    assert batch.total_submitted == 2 and batch.total_errors == 1
    assert batch.errors[0].index == 2 and batch.errors[0].error == "validation_error"
    assert batch.errors[0].details == {
        "field": "tasks[2].function_name",
        "error": batch.errors[0].details["error"],
    }
    ended = await _until(lambda: client.get_batch(batch.batch_id), lambda b: b.status != "running")
    assert ended.status == "completed" and ended.completed == 2 and ended.unfinished == 0
    assert ended.execution_mode == "sequential" and ended.max_failures == 1


async def test_a_task_is_cancelled_and_cancelling_it_again_is_a_conflict(client):
    task = await client.submit_task("sdk sleeper", "system.sleep", args=[30], priority="LOW")
    cancelled = await client.cancel_task(task.task_id)
    assert cancelled.status == "cancelled" and cancelled.task_id == task.task_id
    with pytest.raises(Conflict) as raised:
        await client.cancel_task(task.task_id)
    assert raised.value.status_code == 409
    final = await client.wait_for_completion(task.task_id, timeout=10, poll_interval=0.1)
    assert final.status == "cancelled"


# ---------------------------------------------------------------- typed errors


async def test_a_random_task_or_batch_id_is_task_not_found(client):
    with pytest.raises(TaskNotFound) as raised:
        await client.get_task_status(str(uuid.uuid4()))
    assert raised.value.code == "not_found"
    with pytest.raises(TaskNotFound):
        await client.get_batch(f"batch_{uuid.uuid4()}")


async def test_an_unknown_function_is_a_validation_error_naming_function_name(client):
    with pytest.raises(ValidationError) as raised:
        await client.submit_task("bad", "no_such_function")
    assert raised.value.field == "function_name" and "no_such_function" in str(raised.value.error)


async def test_a_bad_api_key_is_an_authentication_error(stack):
    async with VokaFlowClient(stack.base_url, api_key="not-a-real-key") as sdk:
        with pytest.raises(AuthenticationError) as raised:
            await sdk.get_metrics()
    assert raised.value.status_code == 401 and raised.value.code == "unauthorized"


async def test_a_rate_limit_is_raised_with_retry_after_or_waited_out_when_opted_in(stack):
    """The test stack limits `metered` to 2 tasks/s with a burst of 5."""
    ml: dict[str, Any] = {"function_name": "metered_noop"}
    async with VokaFlowClient(stack.base_url, api_key=stack.admin_key) as plain:
        with pytest.raises(RateLimitExceeded) as raised:
            for i in range(20):
                await plain.submit_task(f"ml {i}", **ml)
    assert raised.value.retry_after is not None and raised.value.retry_after > 0
    assert raised.value.limit is not None and raised.value.reset_time
    async with VokaFlowClient(
        stack.base_url, api_key=stack.admin_key, retry_on_rate_limit=True, max_rate_limit_retries=10
    ) as patient:
        tasks = [await patient.submit_task(f"patient ml {i}", **ml) for i in range(4)]
    assert len({task.task_id for task in tasks}) == 4


# ---------------------------------------------------------------- catalog and metrics


async def test_list_functions_groups_the_catalog_by_category(client):
    catalog = await client.list_functions()
    listed = [(category, f) for category, group in catalog.functions.items() for f in group]
    assert "vicky_inference" in {f.name for _, f in listed}
    assert all(f.category == category and f.worker_type for category, f in listed)
    assert catalog.total_functions == len(listed)
    assert {"vicky", "analytics", "system"} <= set(catalog.categories)


async def test_get_priorities_lists_the_eight_levels_with_their_slas(client):
    priorities = await client.get_priorities()
    assert len(priorities.priorities) == 8 and priorities.default_priority == "NORMAL"
    assert priorities.priorities["EMERGENCY"].level == 0
    assert priorities.priorities["EMERGENCY"].sla_seconds == 0.1
    assert priorities.auto_scaling_thresholds is not None


async def test_get_metrics_reports_throughput_pools_and_redis(client):
    metrics = await client.get_metrics()
    assert metrics.throughput_per_second >= 0 and metrics.partitions == 16
    assert "GENERAL_PURPOSE" in metrics.worker_pools and metrics.redis_cluster
    assert metrics.system_resources is not None


# ---------------------------------------------------------------- Vicky


async def test_vicky_chat_answers_with_the_tiny_model_and_continues_a_session(client):
    session = f"sdk-{uuid.uuid4().hex[:8]}"
    first = await client.vicky_chat("Hola, me llamo Ana", session_id=session, **TINY)
    assert first.message.role == "assistant" and isinstance(first.message.content, str)
    assert first.session_id == session and first.model_used == "tiny"
    assert first.tokens_used > 0
    second = await client.vicky_chat("¿Cómo me llamo?", session_id=session, **TINY)
    assert second.tokens_used > first.tokens_used, "the session's earlier turns are sent too"


async def test_vicky_inference_answers_with_the_tiny_model(client):
    answer = await client.vicky_inference("Explain machine learning", **TINY)
    assert answer.model_used == "tiny" and isinstance(answer.response, str)
    assert answer.metadata is not None and answer.metadata.model_version


async def test_the_vicky_chat_stream_yields_text_pieces_and_then_the_whole_answer(client):
    stream = client.vicky_chat_stream("Tell me a story", **TINY)
    pieces = [piece async for piece in stream]
    assert pieces and all(isinstance(piece, str) for piece in pieces)
    assert stream.response is not None
    assert "".join(pieces) == stream.response.message.content
    assert stream.response.session_id.startswith("session_")


async def test_a_stream_for_an_unknown_model_is_a_validation_error(client):
    with pytest.raises(ValidationError) as raised:
        await client.vicky_chat_stream("Hola", model="gpt-9").text()
    assert raised.value.field == "model"


# ---------------------------------------------------------------- webhooks


class Receiver:
    """A local HTTP server that keeps the raw body and headers of every POST."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append((body, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sdk"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    local = Receiver()
    yield local
    local.server.shutdown()
    local.server.server_close()


async def test_a_configured_webhook_sends_deliveries_that_verify_signature_accepts(
    client, receiver
):
    hook = await client.configure_webhook(receiver.url, ["task.completed", "task.failed"], SECRET)
    try:
        assert hook.url == receiver.url and hook.events == ["task.completed", "task.failed"]
        assert hook.id in {w.id for w in (await client.list_webhooks()).webhooks}
        attempt = await client.send_webhook_test(hook.id)
        assert attempt.outcome == "delivered" and attempt.status_code == 200
        # the hook also hears the key's other tasks that end meanwhile: take the test's own
        [(body, headers)] = [
            (body, headers)
            for body, headers in receiver.received
            if json.loads(body)["event"] == "webhook.test"
        ]
        assert verify_signature(body, headers, SECRET)
        assert verify_signature(
            body,
            headers["X-VokaFlow-Signature"],
            SECRET,
            timestamp=headers["X-VokaFlow-Timestamp"],
        )
        assert not verify_signature(body, headers, "not-the-secret")
        assert not verify_signature(body + b" ", headers, SECRET)
    finally:
        deleted = await client.delete_webhook(hook.id)
    assert deleted.deleted


async def test_a_webhook_to_a_refused_url_is_a_validation_error_naming_url(client):
    with pytest.raises(ValidationError) as raised:
        await client.configure_webhook("http://10.255.255.1/hook", ["task.completed"], SECRET)
    assert raised.value.field == "url"


# ---------------------------------------------------------------- the sync twin


def test_the_sync_client_submits_waits_reads_logs_and_streams(stack):
    with SyncVokaFlowClient(stack.base_url, api_key=stack.admin_key) as sdk:
        task = sdk.submit_task("sync echo", "echo", args=["sync twin"])
        done = sdk.wait_for_completion(task.task_id, timeout=60, poll_interval=0.1)
        assert done.status == "completed" and done.result == {"message": "sync twin"}
        logs = sdk.get_task_logs(task.task_id)  # its output is written before its end
        assert "sync twin" in {entry.message for entry in logs.entries}
        stream = sdk.vicky_chat_stream("Hola", **TINY)
        assert stream.text() == stream.response.message.content  # type: ignore[union-attr]
        with pytest.raises(TaskNotFound):
            sdk.cancel_task(str(uuid.uuid4()))


# ---------------------------------------------------------------- the spec's example


def test_the_api_references_python_sdk_example_runs_unchanged(stack):
    env = {
        **os.environ,
        "VOKAFLOW_BASE_URL": stack.base_url,
        "VOKAFLOW_API_KEY": stack.admin_key,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(r"Task ID: [0-9a-f-]{36}", lines[0]), lines
    # the batch's audio task names a file that does not exist: refused, listed in errors
    assert lines[1] == "Batch submitted: 1 tasks", lines
    assert re.fullmatch(r"Task status: (queued|running|completed|failed)", lines[2]), lines
    assert re.fullmatch(r"Throughput: \d+(\.\d+)? req/s", lines[3]), lines


def test_the_example_file_is_the_specs_code_but_for_base_url_and_api_key():
    section = SPEC.read_text().split("### Python SDK", 1)[1]
    published = re.search(r"```python\n(.*?)```", section, re.S)
    assert published is not None
    copied = EXAMPLE.read_text().split("verbatim from the spec\n", 1)[1]
    changed = [
        (a, b)
        for a, b in zip(published.group(1).splitlines(), copied.splitlines(), strict=True)
        if a != b
    ]
    assert changed == [
        (
            '    base_url="https://api.vokaflow.com",',
            '    base_url=os.environ["VOKAFLOW_BASE_URL"],',
        ),
        ('    api_key="your_api_key_here"', '    api_key=os.environ["VOKAFLOW_API_KEY"]'),
    ]
